"""Helpers of the trust scenarios (tests/scenarios/test_trust.py): import
policy and session limits on the receiving VTEPs, forged VXLAN-GBP copies
from non-VTEP addresses, the mirror ceiling against a TCP bulk flow.

The policy and limit scenarios originate their sessions on vtep104 (where
SERV21, HOST ID 21, is plugged): for every other leaf they are received
sessions, which the import policy and the limits govern (a leaf's own
sessions are always permitted). Each monitored host sends its marked probes
to VM240 (behind vtep104, not monitored), so a probe enters the fabric at
exactly one VTEP and is copied there by exactly one session's entry 1:
VM210's at vtep101, VM220's at vtep102, VM230's at vtep103. Whether a
session's probes are copied therefore shows that one leaf's decision.

Probes carry the profile scenarios' markers (profiles.py: magic, run,
sequence number), one run number per monitored host, and are counted per
marker at SERV21's port: missing, duplicated and unexpected copies.
"""
from __future__ import annotations

import contextlib
import json
import re
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import fabric as F
import profiles as P

ASN = {"vtep101": 65101, "vtep102": 65102, "vtep103": 65103, "vtep104": 65104}
ORIGIN = "vtep104"                      # originates the policy/limit sessions
RECEIVERS = ["vtep101", "vtep102", "vtep103"]
SINK = "vm240"                          # destination of every probe
SERVER = "serv21"
# the leaf where each monitored host's probes enter the fabric
ENTRY_LEAF = {"vm210": "vtep101", "vm220": "vtep102", "vm230": "vtep103"}
MIRROR_PORT = 4790


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

def errors_of(out: str) -> list[str]:
    return [l.strip() for l in out.splitlines() if l.strip().startswith("%")]


def bgp(lab, node: str, lines: list[str], pre: list[str] = (), check: bool = True) -> str:
    """`pre` lines at the top of configure terminal (prefix-lists, mac
    access-lists), then `lines` under router bgp / address-family l2vpn evpn.
    Any '%' line from vtysh fails (check=True): e.g. a bgpd without the
    `monitor import` commands."""
    out = lab.configure(node, [*pre, f"router bgp {ASN[node]}", "address-family l2vpn evpn",
                               *lines])
    if check:
        errs = errors_of(out)
        assert not errs, f"vtysh on {node} refused {[*pre, *lines]}: {errs}"
    return out


def undo(lab, node: str, lines: list[str] = (), pre: list[str] = ()) -> None:
    """Cleanup: each line in its own vtysh call (vtysh stops at the first
    command that fails, e.g. removing what the test already removed),
    errors ignored."""
    for l in pre:
        with contextlib.suppress(Exception):
            lab.configure(node, [l])
    for l in lines:
        with contextlib.suppress(Exception):
            bgp(lab, node, [l], check=False)


def server_line() -> str:
    return f"monitor server {F.HOST_ID} mac {F.SERV21_MAC} ip {F.SERV21_IP}"


def session_line(host: str, ip: bool = False) -> str:
    mac, hip = F.HOSTS[host]
    return (f"monitor host vni {F.VNI} mac {mac}" + (f" ip {hip}" if ip else "") +
            f" server {F.HOST_ID}")


# ---------------------------------------------------------------------------
# state: bgpd's decision, the consumer's entries
# ---------------------------------------------------------------------------

def norm_state(v) -> str | None:
    """'IMPORT_OVER_LIMIT', 'over-limit', 'overLimit' -> 'overlimit'."""
    if v is None:
        return None
    s = re.sub(r"[^a-z]", "", str(v).lower())
    return s.removeprefix("import") or None


def import_state(row: dict) -> str | None:
    """The import decision of a row of `show bgp l2vpn evpn monitor json`
    (installed / denied / overlimit); None if bgpd shows none."""
    for k in ("importState", "import", "importDecision", "decision", "importStatus"):
        v = row.get(k)
        if isinstance(v, dict):
            v = v.get("state") or v.get("decision")
        if v is not None:
            return norm_state(v)
    return None


def import_reason(row: dict) -> str | None:
    for k in ("importReason", "reason", "decisionReason"):
        if row.get(k):
            return str(row[k])
    v = row.get("import")
    if isinstance(v, dict):
        return v.get("reason")
    return None


def bgp_rows(lab, node: str, host: str) -> list[dict]:
    """bgpd's sessions of `host` (by MAC) towards HOST ID 21 on node."""
    mac = F.HOSTS[host][0]
    j = lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")
    return [s for s in j.get("sessions", []) if s.get("hostMac") == mac
            and s.get("hostId") == F.HOST_ID]


def consumer_kinds(lab, node: str, host: str) -> list[str]:
    """Kinds of the consumer's installed entries of `host` (entries 1, 2)."""
    mac = F.HOSTS[host][0]
    return sorted(e["kind"] for e in
                  F.ctl_json(lab, node, "entries").get("entries", {}).get("entry", [])
                  if e.get("host-mac") == mac and int(e.get("host-id", -1)) == F.HOST_ID)


def session_view(lab, node: str, host: str) -> tuple:
    """(bgpd rows' import states, consumer entry kinds) of host on node."""
    return (tuple(sorted(str(import_state(r)) for r in bgp_rows(lab, node, host))),
            tuple(consumer_kinds(lab, node, host)))


INSTALLED = (("installed",), ("mirror-dest", "mirror-source"))
ABSENT = ((), ())


def held(state: str) -> tuple:
    """bgpd holds the session with this decision, the consumer installs
    nothing of it."""
    return ((state,), ())


def wait_views(lab, want: dict[tuple[str, str], tuple], timeout: float = 30,
               what: str = "") -> float:
    """want: {(node, host): session_view}; returns the seconds it took. A
    leaf's own (local) session shows as installed too."""
    t0 = time.monotonic()
    last = {}

    def ok():
        nonlocal last
        last = {k: session_view(lab, *k) for k in want}
        return last == want
    try:
        lab.wait_for(ok, timeout=timeout, interval=0.1, what=what)
    except Exception as e:
        raise AssertionError(
            f"{what or 'session states'} never converged:\n" +
            "\n".join(f"  {n} {h}: want {want[(n, h)]}, have {last.get((n, h))}"
                      for n, h in want if last.get((n, h)) != want[(n, h)])) from e
    return time.monotonic() - t0


def history(lab, node: str) -> list[dict]:
    """The consumer's audit events (`evpnmon-ctl --json history`), oldest
    first: each a dict with event, session-id, host-mac, decision,
    previous, reason, seq ..."""
    sock = lab.node_dir(node) / "fpm-consumer.sock"
    cp = lab.exec(node, [str(F.CTL), "-s", str(sock), "--json", "history"], timeout=10)
    doc = json.loads(cp.stdout)

    def find(o):
        if isinstance(o, list) and o and all(isinstance(x, dict) and "event" in x for x in o):
            return o
        for v in (o.values() if isinstance(o, dict) else o if isinstance(o, list) else []):
            r = find(v)
            if r is not None:
                return r
        return None
    return find(doc) or []


def history_after(lab, node: str, seq: int) -> list[dict]:
    return [e for e in history(lab, node) if int(e.get("seq", 0)) > seq]


def last_seq(lab, node: str) -> int:
    return max((int(e.get("seq", 0)) for e in history(lab, node)), default=0)


def counter_like(lab, node: str, *words: str) -> tuple[str, int] | None:
    """The consumer counter whose name contains all `words` (the first, by
    name), e.g. ('unknown-source',) -> ('decap-drops-unknown-source', 7)."""
    c = F.counters(lab, node)
    names = sorted(n for n in c if all(w in n for w in words))
    return (names[0], c[names[0]]) if names else None


def counter_names(lab, node: str, *any_of: str) -> list[str]:
    return sorted(n for n in F.counters(lab, node) if any(w in n for w in any_of))


# ---------------------------------------------------------------------------
# probes: several senders at once
# ---------------------------------------------------------------------------

@dataclass
class Flow:
    host: str
    run: int
    rate: float
    frames: list[bytes]


def probes(host: str, count: int, rate: float, size: int = 120) -> Flow:
    """count marked UDP frames host -> VM240 (addresses no host owns: VM240
    drops them silently), one run number of their own."""
    run = P.new_run()
    sip, dip = f"10.77.{ENTRY_LEAF.get(host, 'vtep104')[-1]}.1", "10.77.9.1"
    return Flow(host, run, rate, P.udp_frames(host, SINK, run, count, size=size,
                                              sip=sip, dip=dip))


def run_flows(lab, outdir: Path, tag: str, flows: list[Flow], during=None,
              timeout: float = 120) -> P.Result:
    """Every flow sent at once (one paced sender per host), captured at
    SERV21's port and at VM240's; `during` runs in parallel (the change
    under traffic). Waits until every original reached VM240 (or 15 s
    more), then until SERV21's capture has been quiet for 0.5 s."""
    outdir.mkdir(parents=True, exist_ok=True)
    runs = {f.run for f in flows}
    spath, dpath = outdir / f"{tag}-{SERVER}.pcap", outdir / f"{tag}-{SINK}.pcap"
    sent: list[P.Sent | None] = [None] * len(flows)
    errors: list[BaseException] = []
    backlog_before = F.backlog_drops()
    with contextlib.ExitStack() as st:
        cs = st.enter_context(F.Capture(lab, SERVER, P.host_if(lab, SERVER), spath))
        cd = st.enter_context(F.Capture(lab, SINK, P.host_if(lab, SINK), dpath))

        def one(i, f):
            try:
                sent[i] = P.send(lab, f.host, f.frames, outdir, f"{tag}-{f.host}", f.rate,
                                 timeout)
            except BaseException as e:              # re-raised below
                errors.append(e)

        def side():
            try:
                during()
            except BaseException as e:
                errors.append(e)
        threads = [threading.Thread(target=one, args=(i, f), daemon=True)
                   for i, f in enumerate(flows)]
        if during is not None:
            threads.append(threading.Thread(target=side, daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
        if errors:
            raise errors[0]
        want = sum(len(f.frames) for f in flows)

        def delivered():
            return sum(1 for q in F.read_pcap(dpath)
                       if q.eth_src != F.HOSTS[SINK][0] and P.find_mark(q.frame)) >= want
        with contextlib.suppress(Exception):
            lab.wait_for(delivered, timeout=15, interval=0.2, what="every original delivered")
        F.wait_quiet(spath, 0.5, 10)
        spk = cs.stop()
        dpk = [p for p in cd.stop() if p.eth_src != F.HOSTS[SINK][0]]
        loss = F.losses_since(backlog_before, {SERVER: cs, SINK: cd})
    copies, cts, foreign, unmarked = P._marked(spk, runs)
    at_dst, dts, _f, _u = P._marked(dpk, runs)
    return P.Result([s for s in sent if s], dict(copies), dict(cts), dict(at_dst),
                    {k: v[0] for k, v in dts.items()}, foreign, spath, unmarked, {}, loss)


@dataclass
class FlowCopies:
    """One flow's copies at SERV21, by sequence number."""
    flow: Flow
    sent: P.Sent
    copied: dict[int, int]                 # seq -> number of copies
    not_delivered: list[int]

    def send_time(self, seq: int) -> float:
        # the sender is paced against a monotonic clock from t_first
        return self.sent.t_first + seq / self.flow.rate

    @property
    def n(self) -> int:
        return len(self.flow.frames)

    def missing(self, seqs) -> list[int]:
        return [s for s in seqs if s not in self.copied]

    def duplicated(self) -> list[int]:
        return sorted(s for s, c in self.copied.items() if c > 1)

    def longest_gap(self) -> tuple[int, int]:
        """(length, first seq) of the longest run of frames without a copy."""
        best, cur, start, at = 0, 0, 0, -1
        for s in range(self.n):
            if s in self.copied:
                cur = 0
                continue
            cur += 1
            if cur == 1:
                start = s
            if cur > best:
                best, at = cur, start
        return best, at

    def summary(self) -> str:
        g, at = self.longest_gap()
        return (f"{self.flow.host}: {len(self.copied)} of {self.n} probes copied "
                f"({sum(self.copied.values())} copies, duplicated {len(self.duplicated())}), "
                f"longest run without a copy {g} from #{at}, first copied "
                f"#{min(self.copied, default=-1)}, last copied #{max(self.copied, default=-1)}, "
                f"originals not delivered {len(self.not_delivered)}")


def per_flow(res: P.Result, flows: list[Flow]) -> dict[str, FlowCopies]:
    out = {}
    for f in flows:
        s = next(x for x in res.sent if x.src == f.host)
        copied = {k[1]: len(v) for k, v in res.copies.items() if k[0] == f.run}
        nd = sorted(k[1] for k in s.frames if k not in res.at_dst)
        out[f.host] = FlowCopies(f, s, copied, nd)
    return out


# ---------------------------------------------------------------------------
# forged VXLAN-GBP
# ---------------------------------------------------------------------------

# Runs in a node's namespace: every frame of the file (u32 length + octets)
# behind a VXLAN-GBP header (G and I flags, Group Policy ID, VNI) in one UDP
# datagram from `src` to dst:port, paced.
FORGER = r"""
import json, socket, struct, sys, time
dst, port, src, vni, gpid, path, rate = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], float(sys.argv[7]))
data = open(path, "rb").read()
frames, off = [], 0
while off < len(data):
    (n,) = struct.unpack_from("!I", data, off)
    frames.append(data[off + 4:off + 4 + n])
    off += 4 + n
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
hdr = struct.pack("!BBHI", 0x88, 0, gpid, vni << 8)
t0 = time.perf_counter()
for i, f in enumerate(frames):
    while time.perf_counter() < t0 + i / rate:
        time.sleep(0.0005)
    s.sendto(hdr + f, (dst, port))
print(json.dumps({"sent": len(frames)}))
"""


def forge(lab, node: str, src: str, dst: str, frames: list[bytes], outdir: Path, tag: str,
          vni: int = F.VNI, gpid: int = F.HOST_ID, rate: float = 200) -> int:
    path = outdir / f"{tag}.forged"
    with open(path, "wb") as fh:
        for f in frames:
            fh.write(struct.pack("!I", len(f)) + f)
    cp = lab.exec(node, ["/usr/bin/python3", "-c", FORGER, dst, str(MIRROR_PORT), src, str(vni),
                         str(gpid), str(path), str(rate)], timeout=60)
    return json.loads(cp.stdout.strip().splitlines()[-1])["sent"]


# ---------------------------------------------------------------------------
# TCP bulk throughput
# ---------------------------------------------------------------------------

BULK_PORT = 5201

BULK_SERVER = r"""
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4)
buf = bytearray(1 << 20)
while True:
    c, _ = s.accept()
    n = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    c.sendall(struct.pack("!Q", n))
    c.close()
"""

# as fast as the stack goes for `secs`; throughput = octets the server
# received (it answers with the count after EOF) / time to that answer
BULK_CLIENT = r"""
import json, socket, struct, sys, time
dst, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((dst, port), timeout=10)
data = bytes(1 << 18)
w0 = time.time(); t0 = time.perf_counter(); sent = 0
while time.perf_counter() - t0 < secs:
    s.sendall(data)
    sent += len(data)
s.shutdown(socket.SHUT_WR)
got = b""
while len(got) < 8:
    d = s.recv(8 - len(got))
    if not d:
        sys.exit("no count from the server")
    got += d
t1 = time.perf_counter()
(n,) = struct.unpack("!Q", got)
print(json.dumps({"sent": sent, "received": n, "seconds": t1 - t0, "t_start": w0,
                  "t_end": w0 + (t1 - t0), "bps": 8 * n / (t1 - t0)}))
"""


def start_bulk_server(lab, host: str) -> None:
    lab.spawn(host, ["/usr/bin/python3", "-c", BULK_SERVER, str(BULK_PORT)], name="bulk-server")
    lab.wait_for(lambda: f":{BULK_PORT}" in lab.exec(host, "ss -ltn", check=False).stdout,
                 timeout=10, what=f"bulk server on {host}")


def bulk(lab, src: str, dst: str, secs: float) -> dict:
    cp = lab.exec(src, ["/usr/bin/python3", "-c", BULK_CLIENT, F.HOSTS[dst][1], str(BULK_PORT),
                        str(secs)], timeout=secs + 60)
    r = json.loads(cp.stdout.strip().splitlines()[-1])
    assert r["received"] == r["sent"], f"bulk flow lost data: {r}"
    return r


def l2_octets(p: F.Pkt) -> int:
    """The frame's length from its IPv4 total length (a capture's own
    length may be cut by its snap length): Ethernet header + IP packet."""
    f = p.frame
    if p.ethertype == 0x0800 and len(f) >= 18:
        return 14 + struct.unpack("!H", f[16:18])[0]
    return len(f)


def tcp_payload(p: F.Pkt) -> int:
    f = p.frame
    if p.ethertype != 0x0800 or p.proto != 6 or len(f) < 14 + 20 + 20:
        return 0
    ihl = (f[14] & 15) * 4
    doff = (f[14 + ihl + 12] >> 4) * 4
    return max(0, l2_octets(p) - 14 - ihl - doff)


def median(xs: list[float]) -> float:
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def by_direction(pkts: list[F.Pkt], host_mac: str) -> dict[str, list[F.Pkt]]:
    """Copies of frames from the host (made where it is plugged) and of
    frames to it (made where its peer is plugged): two VTEPs, two ceilings."""
    out = defaultdict(list)
    for p in pkts:
        if p.eth_src == host_mac:
            out["from"].append(p)
        elif p.eth_dst == host_mac:
            out["to"].append(p)
    return out
