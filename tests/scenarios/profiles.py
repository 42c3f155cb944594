"""Helpers of the mirror-profile scenarios (tests/scenarios/test_profiles.py,
bench/lab/bench_sampling.py): marked frames built with scapy, a paced raw
sender that runs inside a host's namespace, captures at the server and at
the destinations, exact per-packet accounting, and the profile / session
configuration with waits on bgpd's and the consumers' state.

The one session of these scenarios: VM210 (MAC only, VNI 100) watched by
SERV21 (HOST ID 21), configured on vtep103, which holds neither the host nor
the server: the options must cross BGP to vtep101 and vtep102, where the
measured frames enter the fabric, and SERV21 sits behind vtep104.

Every measured frame carries a marker (MAGIC, run number, sequence number)
after its L4 header (after the BTH/AETH in RoCEv2 frames), so copies and
originals are counted per packet. The frames use addresses that no host owns
(10.77.0.0/16 and friends): the receiving host drops them without answering
(hosts do not forward), so no ICMP error or other reply of the monitored
host feeds the sampler or the policer.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import struct
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import fabric as F

# scapy (Debian's python3-scapy) builds the frames; the sender in the host
# namespaces needs only the standard library.
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption, IPv6, Raw, raw  # noqa: E402
from scapy.contrib.roce import AETH, BTH  # noqa: E402

MAGIC = b"\xe5\x7a\x3f\x9c"
MARK_LEN = len(MAGIC) + 6          # magic, run (u16), seq (u32)

CONFIG_LEAF, CONFIG_ASN = "vtep103", 65103
HOST, PEER, SERVER = "vm210", "vm220", "serv21"
HOST_MAC = F.VM210_MAC
SERVER_LEAF = "vtep104"
# the consumer reconciles on every event and at the latest on its 250 ms tick
# (fpm-consumer/src/daemon/consumer.cpp, docs/fpm-consumer.md)
RECONCILE_S = 0.250

_runs = itertools.count(1)


def new_run() -> int:
    """A run number per traffic run: a copy of an earlier run showing up
    later is reported as foreign instead of being counted."""
    return next(_runs) & 0xFFFF


def mark(run: int, seq: int) -> bytes:
    return MAGIC + struct.pack("!HI", run, seq)


def find_mark(frame: bytes) -> tuple[int, int] | None:
    i = frame.find(MAGIC)
    if i < 0 or i + MARK_LEN > len(frame):
        return None
    return struct.unpack("!HI", frame[i + 4:i + MARK_LEN])


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------

def _pad(body: bytes, size: int | None) -> bytes:
    if size is None:
        return body
    assert size >= len(body), f"frame of {size} octets cannot hold {len(body)}"
    return body + bytes((i * 7) & 0xFF for i in range(size - len(body)))


def eth(src: str, dst: str) -> Ether:
    return Ether(src=F.HOSTS[src][0], dst=F.HOSTS[dst][0])


def udp_frame(src: str, dst: str, run: int, seq: int, *, sip="10.77.1.2", dip="10.77.1.1",
              sport=40000, dport=7000, size: int | None = None, head: bytes = b"") -> bytes:
    """Ethernet/IPv4/UDP; payload = head + marker, padded to `size` octets
    (the whole Ethernet frame, no FCS)."""
    f = raw(eth(src, dst) / IP(src=sip, dst=dip) / UDP(sport=sport, dport=dport) /
            Raw(head + mark(run, seq)))
    if size is not None and size != len(f):
        pl = size - 42
        assert pl >= len(head) + MARK_LEN, f"{size} octets too short for the marker"
        f = raw(eth(src, dst) / IP(src=sip, dst=dip) / UDP(sport=sport, dport=dport) /
                Raw(_pad(head + mark(run, seq), pl)))
    assert size is None or len(f) == size, (len(f), size)
    return f


def udp_frames(src: str, dst: str, run: int, count: int, *, size: int, **kw) -> list[bytes]:
    """count frames like udp_frame(..., size=size) with sequence numbers
    0..count-1, for bulk runs: scapy builds one frame per 1,000 sequence
    numbers, the others differ from it in the marker's sequence number and
    the UDP checksum, which is patched incrementally (RFC 1624)."""
    out = []
    for base in range(0, count, 1000):
        t = bytearray(udp_frame(src, dst, run, base, size=size, **kw))
        at = t.find(mark(run, base)) + 6
        ck_at = 14 + (t[14] & 15) * 4 + 6
        ck0 = struct.unpack_from("!H", t, ck_at)[0]
        old = struct.unpack_from("!HH", t, at)
        for seq in range(base, min(base + 1000, count)):
            new = struct.unpack("!HH", struct.pack("!I", seq))
            # HC' = ~(~HC + ~m + m') over the two 16-bit words of the seq
            c = (~ck0) & 0xFFFF
            for o, n in zip(old, new):
                c += ((~o) & 0xFFFF) + n
            while c >> 16:
                c = (c & 0xFFFF) + (c >> 16)
            c = (~c) & 0xFFFF
            f = bytearray(t)
            struct.pack_into("!I", f, at, seq)
            struct.pack_into("!H", f, ck_at, c if c else 0xFFFF)
            out.append(bytes(f))
    return out


def tcp_frame(src: str, dst: str, run: int, seq: int, *, sip="10.77.1.2", dip="10.77.1.1",
              sport=40000, dport=7000, head: bytes = b"", tcp_options=None) -> bytes:
    return raw(eth(src, dst) / IP(src=sip, dst=dip) /
               TCP(sport=sport, dport=dport, flags="PA", seq=1000 + seq, ack=1,
                   options=tcp_options or []) /
               Raw(head + mark(run, seq)))


def udp_frame_ipopts(src: str, dst: str, run: int, seq: int, *, sip="10.77.1.2",
                     dip="10.77.1.1", sport=40000, dport=7000, head: bytes = b"") -> bytes:
    """UDP in an IPv4 header with 4 octets of options (IHL 6)."""
    return raw(eth(src, dst) / IP(src=sip, dst=dip, options=[IPOption(b"\x01\x01\x01\x01")]) /
               UDP(sport=sport, dport=dport) / Raw(head + mark(run, seq)))


def ip6_frame(src: str, dst: str, run: int, seq: int, *, sip="2001:db8:77::2",
              dip="2001:db8:77::1", proto: str = "udp", sport=40000, dport=7000) -> bytes:
    l4 = UDP(sport=sport, dport=dport) if proto == "udp" else \
        TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=1)
    return raw(eth(src, dst) / IPv6(src=sip, dst=dip) / l4 / Raw(mark(run, seq)))


def icmp_frame(src: str, dst: str, run: int, seq: int, *, sip="10.77.1.2",
               dip="10.77.1.1") -> bytes:
    return raw(eth(src, dst) / IP(src=sip, dst=dip) / ICMP(type=8, id=0x4242, seq=seq & 0xFFFF) /
               Raw(mark(run, seq)))


def arp_frame(src: str, dst: str, run: int, seq: int) -> bytes:
    """A unicast ARP reply for addresses nobody has, the marker in the
    Ethernet trailer (non-IP traffic of the host)."""
    return raw(eth(src, dst) / ARP(op=2, hwsrc=F.HOSTS[src][0], psrc="10.77.9.9",
                                   hwdst=F.HOSTS[dst][0], pdst="10.77.9.8")) + mark(run, seq)


def roce_frame(src: str, dst: str, run: int, seq: int, *, opcode: int,
               syndrome: int | None = None, dport: int = 4791, flags: int = 0,
               proto: str = "udp", sip="10.77.2.2", dip="10.77.2.1") -> bytes:
    """RoCEv2: UDP (dport 4791) + BTH (+ AETH when syndrome is given) +
    marker, ICRC at the end (scapy computes it). `flags` = the BTH octet after
    the opcode (SE/M/PadCnt/TVer), which the presets' masks ignore."""
    bth = BTH(opcode=opcode, solicited=(flags >> 7) & 1, migreq=(flags >> 6) & 1,
              padcount=(flags >> 4) & 3, version=flags & 15, dqpn=0x000123 + seq,
              psn=seq & 0xFFFFFF, becn=1 if opcode == 0x81 else 0)
    l5 = bth / AETH(syndrome=syndrome, msn=seq & 0xFFFFFF) if syndrome is not None else bth
    l5 = l5 / Raw(mark(run, seq) + bytes(6))
    if proto == "udp":
        return raw(eth(src, dst) / IP(src=sip, dst=dip) / UDP(sport=49152 + (seq & 0xFF),
                                                              dport=dport) / l5)
    # the same octets behind a TCP header: not RoCEv2
    return raw(eth(src, dst) / IP(src=sip, dst=dip) /
               TCP(sport=49152, dport=dport, flags="PA", seq=seq, ack=1) / Raw(raw(l5)))


def l5_bytes(frame: bytes) -> bytes:
    """The octets after the UDP header of an IPv4/UDP frame (for messages)."""
    ihl = (frame[14] & 15) * 4
    return frame[14 + ihl + 8:]


# ---------------------------------------------------------------------------
# sending
# ---------------------------------------------------------------------------

# Runs inside a host's namespace: frames from a file (u32 length + octets),
# sent on the host's port through an AF_PACKET socket at `rate` frames/s
# (0 = as fast as it can), paced against a monotonic clock.
SENDER = r"""
import json, socket, struct, sys, time
iface, path, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(path, "rb").read()
frames, off = [], 0
while off < len(data):
    (n,) = struct.unpack_from("!I", data, off)
    frames.append(data[off + 4:off + 4 + n])
    off += 4 + n
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
s.bind((iface, 0))
retries = 0
t0 = time.perf_counter()
first = time.time()
for i, f in enumerate(frames):
    if rate > 0:
        due = t0 + i / rate
        while True:
            d = due - time.perf_counter()
            if d <= 0:
                break
            if d > 0.002:
                time.sleep(d - 0.001)
    while True:
        try:
            s.send(f)
            break
        except OSError:
            retries += 1
            time.sleep(0.0005)
last = time.time()
print(json.dumps({"sent": len(frames), "t_first": first, "t_last": last, "retries": retries}))
"""


@dataclass
class Sent:
    src: str
    dst: str
    frames: dict[tuple[int, int], bytes]
    t_first: float = 0.0
    t_last: float = 0.0
    retries: int = 0

    @property
    def duration(self) -> float:
        return self.t_last - self.t_first


def host_if(lab, host: str) -> str:
    return lab.link_of(host, F.where_is(lab, host)).iface(host)


def send(lab, src: str, frames: list[bytes], outdir: Path, tag: str, rate: float = 0,
         timeout: float = 120) -> Sent:
    """Send frames (all from src to one destination host) from src's port."""
    dst_mac = F._mac(frames[0][0:6])
    dst = next(h for h, (m, _ip) in F.HOSTS.items() if m == dst_mac)
    keyed = {}
    for f in frames:
        k = find_mark(f)
        assert k is not None and k not in keyed, "every frame needs its own marker"
        assert F._mac(f[0:6]) == dst_mac, "one destination per send()"
        keyed[k] = f
    path = outdir / f"{tag}-{src}.frames"
    with open(path, "wb") as fh:
        for f in frames:
            fh.write(struct.pack("!I", len(f)) + f)
    cp = lab.exec(src, ["/usr/bin/python3", "-c", SENDER, host_if(lab, src), str(path),
                        str(rate)], timeout=timeout)
    info = json.loads(cp.stdout.strip().splitlines()[-1])
    assert info["sent"] == len(frames)
    return Sent(src, dst, keyed, info["t_first"], info["t_last"], info["retries"])


# ---------------------------------------------------------------------------
# captures and accounting
# ---------------------------------------------------------------------------

@dataclass(repr=False)
class Result:
    sent: list[Sent]
    copies: dict[tuple[int, int], list[bytes]]      # marked frames at SERV21, by marker
    copy_ts: dict[tuple[int, int], list[float]]
    at_dst: dict[tuple[int, int], list[bytes]]      # marked frames at their destinations
    dst_ts: dict[tuple[int, int], float]
    foreign: list[tuple[int, int]]                   # marked copies of other runs
    server_pcap: Path
    unmarked_at_server: list[str] = field(default_factory=list)
    counters: dict = field(default_factory=dict)     # entry_counters() right after the run
    loss: F.Losses = field(default_factory=F.Losses)  # the kernel's and tcpdump's

    def losses(self) -> str:
        return str(self.loss)

    def __repr__(self) -> str:
        return (f"<Result: {sum(len(s.frames) for s in self.sent)} frames sent, "
                f"{self.total_copies()} copies, {len(self.at_dst)} delivered>")

    @property
    def frames(self) -> dict[tuple[int, int], bytes]:
        out = {}
        for s in self.sent:
            out.update(s.frames)
        return out

    def copied(self) -> set[tuple[int, int]]:
        return set(self.copies)

    def duplicated(self) -> dict[tuple[int, int], int]:
        return {k: len(v) for k, v in self.copies.items() if len(v) > 1}

    def not_delivered(self) -> list[tuple[int, int]]:
        """Originals that never reached their destination."""
        return sorted(k for k in self.frames if k not in self.at_dst)

    def altered(self) -> list[tuple[int, int]]:
        """Originals that arrived with other octets than were sent."""
        fr = self.frames
        return sorted(k for k, v in self.at_dst.items() if k in fr and any(x != fr[k] for x in v))

    def total_copies(self) -> int:
        return sum(len(v) for v in self.copies.values())


def _marked(pkts: list[F.Pkt], runs: set[int]):
    mine, ts, foreign, unmarked = defaultdict(list), defaultdict(list), [], []
    for p in pkts:
        k = find_mark(p.frame)
        if k is None:
            unmarked.append(f"{p.eth_src}>{p.eth_dst} type {p.ethertype:#06x} "
                            f"{p.ip_src}>{p.ip_dst} proto {p.proto} len {len(p.frame)}")
            continue
        if k[0] not in runs:
            foreign.append(k)
            continue
        mine[k].append(p.frame)
        ts[k].append(p.ts)
    return mine, ts, foreign, unmarked


def traffic(lab, outdir: Path, tag: str, plan: list[tuple[str, list[bytes], float]],
            during=None, timeout: float = 120) -> Result:
    """Capture at SERV21's port and at every destination's port while the
    plan runs: [(source host, frames, rate)], one after the other. `during`
    (optional) runs in parallel with the sending (the in-place change).
    Waits until every original reached its destination (or 15 s more), then
    until SERV21's capture has been quiet for 0.5 s."""
    outdir.mkdir(parents=True, exist_ok=True)
    runs = set()
    for _src, frames, _rate in plan:
        runs |= {find_mark(f)[0] for f in frames}
    dsts = sorted({next(h for h, (m, _i) in F.HOSTS.items() if m == F._mac(frames[0][0:6]))
                   for _s, frames, _r in plan})
    spath = outdir / f"{tag}-{SERVER}.pcap"
    dpaths = {d: outdir / f"{tag}-{d}.pcap" for d in dsts}
    sent: list[Sent] = []
    backlog_before = F.backlog_drops()
    with contextlib.ExitStack() as st:
        cs = st.enter_context(F.Capture(lab, SERVER, host_if(lab, SERVER), spath))
        # no "inbound" filter: libpcap's pkttype filter lost the first frame
        # of every burst on these veths; frames a host sent itself are left
        # out by their source MAC instead
        cds = {d: st.enter_context(F.Capture(lab, d, host_if(lab, d), p))
               for d, p in dpaths.items()}
        thread, errors = None, []
        if during is not None:
            def run():
                try:
                    during()
                except BaseException as e:          # reported by the caller
                    errors.append(e)
            thread = threading.Thread(target=run, daemon=True)
        for i, (src, frames, rate) in enumerate(plan):
            if i == 0 and thread:
                thread.start()
            sent.append(send(lab, src, frames, outdir, f"{tag}-{i}", rate, timeout))
        if thread:
            thread.join(timeout)
            if errors:
                raise errors[0]
        want = sum(len(s.frames) for s in sent)

        def delivered():
            n = 0
            for d, p in dpaths.items():
                n += sum(1 for q in F.read_pcap(p)
                         if q.eth_src != F.HOSTS[d][0] and find_mark(q.frame))
            return n >= want
        with contextlib.suppress(Exception):
            lab.wait_for(delivered, timeout=15, interval=0.2, what="every original delivered")
        F.wait_quiet(spath, 0.5, 10)
        spk = cs.stop()
        counters = entry_counters(lab)
        dpk = []
        for d, c in cds.items():
            dpk += [p for p in c.stop() if p.eth_src != F.HOSTS[d][0]]
        loss = F.losses_since(backlog_before, {SERVER: cs, **cds})
    copies, cts, foreign, unmarked = _marked(spk, runs)
    at_dst, dts, _f, _u = _marked(dpk, runs)
    return Result(sent, dict(copies), dict(cts), dict(at_dst),
                  {k: v[0] for k, v in dts.items()}, foreign, spath, unmarked, counters, loss)


def accounting(res: Result, expected: set[tuple[int, int]]) -> dict:
    """Exact comparison of the copies against the set of markers that must be
    copied once each."""
    got = res.copied()
    return {
        "expected": len(expected),
        "copies": res.total_copies(),
        "missing": sorted(expected - got),
        "unexpected": sorted(got - expected),
        "duplicated": res.duplicated(),
        "foreign": res.foreign,
        "not_delivered": res.not_delivered(),
        "altered": res.altered(),
        "losses": res.losses(),
    }


def accounting_ok(a: dict) -> bool:
    return a["expected"] > 0 and a["copies"] > 0 and not (
        a["missing"] or a["unexpected"] or a["duplicated"] or a["foreign"] or
        a["not_delivered"] or a["altered"])


def accounting_str(a: dict, label=lambda k: str(k)) -> str:
    def few(xs):
        xs = list(xs)
        return ", ".join(label(x) for x in xs[:8]) + (f" (+{len(xs) - 8})" if len(xs) > 8 else "")
    return (f"{a['copies']} copies for {a['expected']} frames that must be copied; "
            f"missing {len(a['missing'])} [{few(a['missing'])}], "
            f"unexpected {len(a['unexpected'])} [{few(a['unexpected'])}], "
            f"duplicated {len(a['duplicated'])} [{few(a['duplicated'])}], "
            f"copies of other runs {len(a['foreign'])}, originals not delivered "
            f"{len(a['not_delivered'])}, originals altered {len(a['altered'])}; "
            f"{a['losses']}")


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

def _bgp(lines: list[str]) -> list[str]:
    return [f"router bgp {CONFIG_ASN}", "address-family l2vpn evpn", *lines]


def configure(lab, lines: list[str]) -> str:
    """Apply lines under address-family l2vpn evpn on the configuration leaf;
    any '%' line vtysh prints is an error (the contract's messages)."""
    out = lab.configure(CONFIG_LEAF, _bgp(lines))
    errs = [l for l in out.splitlines() if l.strip().startswith("%")]
    assert not errs, f"vtysh on {CONFIG_LEAF} refused {lines}: {errs}"
    return out


def server_lines() -> list[str]:
    return [f"monitor server {F.HOST_ID} mac {F.SERV21_MAC} ip {F.SERV21_IP}"]


def profile_lines(name: str, settings: list[str]) -> list[str]:
    return [f"monitor profile {name}"] + [f"monitor profile {name} {s}" for s in settings]


def session_line(profile: str | None) -> str:
    return (f"monitor host vni {F.VNI} mac {HOST_MAC} server {F.HOST_ID}" +
            (f" profile {profile}" if profile else ""))


def show_sessions(lab, node: str) -> list[dict]:
    j = lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")
    return [s for s in j.get("sessions", []) if s.get("hostMac") == HOST_MAC
            and s.get("hostId") == F.HOST_ID]


def configured_sessions(lab, node: str) -> list[dict]:
    """This leaf's own configured sessions of VM210 and what became of them
    (`configured` of show bgp l2vpn evpn monitor json: state, profile)."""
    j = lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")
    return [s for s in j.get("configured", []) if s.get("hostMac") == HOST_MAC
            and s.get("hostId") == F.HOST_ID]


def consumer_doc(lab, node: str) -> dict:
    return F.ctl_json(lab, node, "all")


def session_entries(doc: dict) -> list[dict]:
    """The consumer's installed entries of the session (VM210 / HOST ID 21)
    and the server's decap entry."""
    out = []
    for e in doc.get("entries", {}).get("entry", []):
        if int(e.get("host-id", 0)) != F.HOST_ID:
            continue
        if e["kind"] == "decap" or e.get("host-mac") == HOST_MAC:
            out.append(e)
    return out


def _options_of(obj: dict):
    for k in ("options", "profile", "mirror-profile"):
        if k in obj:
            return obj[k]
    return None


def options_match(opts, want: dict) -> bool:
    """Does an options view of the consumer's state (a structure or the
    Options::to_string() text) say what `want` says? want: {"name": ..,
    "truncate": 128, "sample": 100, "direction": "rx", ...}."""
    if opts is None:
        return not want
    if isinstance(opts, str):
        # Options::to_string(): "profile NAME dir rx filters 2 sample 1/100
        # truncate 128 police 1000pps/100"
        text = " " + " ".join(opts.split()) + " "
        alias = {"name": "profile", "direction": "dir"}
        for k, v in want.items():
            v = f"1/{v}" if k == "sample" else v
            if f" {alias.get(k, k)} {v} " not in text:
                return False
        return True

    def find(o, key):
        if isinstance(o, dict):
            for kk, vv in o.items():
                if kk.replace("_", "-").lower() == key:
                    return vv
            for vv in o.values():
                r = find(vv, key)
                if r is not None:
                    return r
        elif isinstance(o, list):
            for vv in o:
                r = find(vv, key)
                if r is not None:
                    return r
        return None
    for k, v in want.items():
        got = find(opts, k)
        if got is None and k == "name":
            got = find(opts, "profile")
        if got is None and k == "sample":
            got = find(opts, "sample-rate") or find(opts, "1-in")
        if isinstance(got, dict) and k == "sample":
            got = find(got, "n") or find(got, "1-in")
        if got is None or str(got).lower() != str(v).lower():
            return False
    return True


def expected_kinds(leaf: str) -> set[str]:
    return {"mirror-source", "mirror-dest"} | ({"decap"} if leaf == SERVER_LEAF else set())


def session_state(lab, want: dict | None) -> dict[str, str]:
    """Per node, what is not yet as wanted ({} = converged):
    * bgpd on every patched leaf: exactly one session for VM210 / HOST ID 21,
      naming the profile (want["name"]); with want None: no session;
    * every consumer: entries 1 and 2 of VM210 (decap on SERV21's leaf) with
      the profile's options; with want None: none of them."""
    bad = {}
    for n in F.LEAVES:
        problems = []
        rows = show_sessions(lab, n)
        if want is None:
            if rows:
                problems.append(f"bgpd still shows {len(rows)} session(s)")
        else:
            if len(rows) != 1:
                problems.append(f"bgpd shows {len(rows)} sessions")
            elif rows[0].get("profile") not in (want.get("name"),):
                problems.append(f"bgpd session profile {rows[0].get('profile')!r} "
                                f"state {rows[0].get('state')!r}")
        doc = consumer_doc(lab, n)
        ents = session_entries(doc)
        if want is None:
            mine = [e for e in ents if e["kind"] != "decap"]
            if mine:
                problems.append(f"consumer still has {len(mine)} entries of VM210")
        else:
            kinds = Counter(e["kind"] for e in ents)
            if set(kinds) != expected_kinds(n) or any(v != 1 for v in kinds.values()):
                problems.append(f"consumer entries {dict(kinds)}")
            for e in ents:
                if e["kind"] == "decap":
                    continue
                o = _options_of(e)
                if not options_match(o, want):
                    problems.append(f"{e['kind']} options {o!r}, want {want}")
        if problems:
            bad[n] = "; ".join(problems)
    return bad


def wait_session(lab, want: dict | None, timeout: float = 30, what: str = "") -> float:
    """Wait until session_state() is converged; returns the seconds it took.
    A timeout fails with what each node still showed."""
    t0 = time.monotonic()
    last: dict = {}

    def ok():
        nonlocal last
        last = session_state(lab, want)
        return not last
    try:
        lab.wait_for(ok, timeout=timeout, interval=0.1, what=what or f"session {want}")
    except Exception as e:
        raise AssertionError(
            f"{what or 'session'} never converged (want {want}):\n" +
            "\n".join(f"  {n}: {v}" for n, v in last.items()) + f"\n  ({e})") from e
    return time.monotonic() - t0


def entry_counters(lab) -> dict[str, list]:
    """Per leaf, (kind, options, counters) of the session's entries: evidence
    for failure messages (filtered / sampled-out / policed by the program)."""
    out = {}
    for n in F.LEAVES:
        with contextlib.suppress(Exception):
            out[n] = [(e["kind"], _options_of(e), e.get("counters"))
                      for e in session_entries(consumer_doc(lab, n)) if e["kind"] != "decap"]
    return out


@contextlib.contextmanager
def profile_session(lab, name: str, settings: list[str], want: dict | None = None):
    """Create the profile and the session naming it, wait until every leaf
    has it installed with those options; remove both afterwards and wait
    until every consumer has dropped the session's entries."""
    want = {"name": name, **(want or {})}
    configure(lab, profile_lines(name, settings) + [session_line(name)])
    try:
        wait_session(lab, want, what=f"profile {name} installed everywhere")
        yield want
    finally:
        configure(lab, [f"no {session_line(name)}", f"no monitor profile {name}"])
        wait_session(lab, None, what=f"session with profile {name} removed everywhere")


def refresh_macs(lab) -> None:
    """Every leaf knows VM210's and VM220's MACs (a ping each way), so the
    measured frames are known unicast, not floods. Done while no session is
    configured: nothing of it reaches a sampler or a policer."""
    for a, b in ((HOST, PEER), (PEER, HOST), (HOST, SERVER)):
        F.wait_reachable(lab, a, b)
    for mac, where in ((HOST_MAC, "vtep101"), (F.HOSTS[PEER][0], "vtep102")):
        want = {n: ("local" if n == where else F.VTEP_IP[where]) for n in F.LEAVES}
        lab.wait_for(lambda: all(F.mac_location(lab, n, mac) == w for n, w in want.items()),
                     timeout=20, interval=0.1, what=f"{mac} known on every leaf")


def binomial_bounds(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    mean = n * p
    sd = (n * p * (1 - p)) ** 0.5
    return mean - sigmas * sd, mean + sigmas * sd
