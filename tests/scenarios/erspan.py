"""Helpers of the ERSPAN collector scenarios (tests/scenarios/test_erspan.py,
bench/lab/bench_erspan.py, scripts/demo.py): collector and session
configuration with waits on bgpd's and the consumers' state, captures at the
collector (GRE, nanosecond timestamps) and at the monitored host's port,
tshark decoding of every outer field, and the checks of each copy against
what was configured and what was sent.

The collector node (docker/clab/evpn-monitor.clab.yml) has 10.9.0.1 on its
lo; eth1 goes to the spine (the route every leaf learns from the spine's
BGP), eth2 straight to vtep101's eth4 (unused until a test moves vtep101's
route there). The kernel has no GRE module: a raw GRE socket on the
collector (`GreSink`) keeps it from answering every copy with ICMP protocol
unreachable; the captures see the copies either way.

Expectations, from the plan of the feature (docs/wire-format.md,
docs/dataplane.md):
  outer IPv4: src = the VTEP where the original entered the fabric, dst =
    the collector, DSCP and TTL as configured (minus one per router on the
    way: the spine), DF clear, header checksum right, protocol 47;
  GRE: flags/version 0x1000 (S only), protocol 0x88BE (II) / 0x22EB (III)
    or the configured one, sequence numbers contiguous per (VTEP, session);
  ERSPAN II: Ver 1, VLAN/COS of the original's 802.1Q tag, En 3 when
    tagged else 0, T = cut, Session ID, Index = ifindex of the port the
    original entered its VTEP on;
  ERSPAN III: Ver 2, VLAN, COS, BSO (1 < 60 octets, 2 > 1514 (+4 tagged),
    else 0), T, Session ID, timestamp (100 ns units since the UNIX epoch,
    low 32 bits), SGT 0, P 1, FT 0, HW ID of the VTEP (--erspan-hw-id), D
    (0 = from the monitored host, 1 = to it), Gra 1, O 1, platform
    subheader: Platform ID 3, port index (ifindex, low 14 bits), upper 32
    bits of the timestamp;
  inner frame: the original's first octets, byte for byte (all of them
    unless truncated by the profile or the underlay MTU).
"""
from __future__ import annotations

import contextlib
import re
import struct
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import fabric as F
import profiles as P

from scapy.all import Dot1Q, Raw, raw, UDP, IP, Ether  # noqa: E402
from scapy.contrib.roce import BTH  # noqa: E402

COLLECTOR = "collector"
COLLECTOR_IP = "10.9.0.1"
VIA_SPINE, VIA_DIRECT = "eth1", "eth2"          # the collector's two links
DIRECT_LEAF, DIRECT_LEAF_IF, DIRECT_NEXTHOP = "vtep101", "eth4", "10.2.0.1"
SPINE_ASN = 65000
GRE_DEFAULT = {2: 0x88BE, 3: 0x22EB}
CONFIG_LEAF = P.CONFIG_LEAF                     # vtep103: holds neither host
TS_TOLERANCE_NS = 1_000_000                     # 1 ms (see copy_problems)


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Collector:
    """`monitor collector ID ip A.B.C.D erspan V [session-id] [dscp] [ttl]
    [gre-protocol]`; None = not given (the documented default applies)."""
    cid: int
    version: int
    session_id: int | None = None
    dscp: int | None = None
    ttl: int | None = None
    gre_proto: int | None = None
    ip: str = COLLECTOR_IP

    def line(self) -> str:
        s = f"monitor collector {self.cid} ip {self.ip} erspan {self.version}"
        if self.session_id is not None:
            s += f" session-id {self.session_id}"
        if self.dscp is not None:
            s += f" dscp {self.dscp}"
        if self.ttl is not None:
            s += f" ttl {self.ttl}"
        if self.gre_proto is not None:
            s += f" gre-protocol {self.gre_proto:#06x}"
        return s

    # what the copies must carry
    @property
    def span(self) -> int:
        return self.cid % 1024 if self.session_id is None else self.session_id

    @property
    def eff_dscp(self) -> int:
        return self.dscp or 0

    @property
    def eff_ttl(self) -> int:
        return 64 if self.ttl is None else self.ttl

    @property
    def proto(self) -> int:
        return self.gre_proto or GRE_DEFAULT[self.version]

    @property
    def wire_version(self) -> int:
        """The ERSPAN header's Ver field: 1 = type II, 2 = type III."""
        return 1 if self.version == 2 else 2


def session_line(c: Collector, host: str = P.HOST, profile: str | None = None,
                 ip: bool = False) -> str:
    mac, hip = F.HOSTS[host]
    return (f"monitor host vni {F.VNI} mac {mac}" + (f" ip {hip}" if ip else "") +
            f" collector {c.cid}" + (f" profile {profile}" if profile else ""))


def hw_ids(lab) -> dict[str, int]:
    """Each leaf's ERSPAN III HW ID, from its consumer's arguments in the
    topology file (--erspan-hw-id N; 0 when absent)."""
    out = {}
    for n in F.LEAVES:
        args = lab.topology.nodes[n].env.get("EVPNMON_CONSUMER_ARGS", "")
        m = re.search(r"--erspan-hw-id[ =](\d+)", args)
        out[n] = int(m.group(1)) if m else 0
    return out


def vtep_of_ip(ip: str) -> str:
    return next(n for n, v in F.VTEP_IP.items() if v == ip)


def bgp_sessions(lab, node: str, c: Collector, host: str) -> list[dict]:
    mac = F.HOSTS[host][0]
    j = lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")
    return [s for s in j.get("sessions", []) if s.get("hostMac") == mac
            and s.get("destination") == "collector" and s.get("collectorId") == c.cid]


def consumer_entries(doc: dict, c: Collector, host: str) -> list[dict]:
    mac = F.HOSTS[host][0]
    return [e for e in doc.get("entries", {}).get("entry", [])
            if e.get("host-mac") == mac and int(e.get("collector-id", -1)) == c.cid]


def action_problems(a: dict, c: Collector) -> list[str]:
    want = {"type": "erspan", "collector": c.ip, "erspan-version": c.version,
            "span-id": c.span, "dscp": c.eff_dscp, "ttl": c.eff_ttl, "gre-protocol": c.proto}
    return [f"action {k} {a.get(k)!r} != {v!r}" for k, v in want.items() if a.get(k) != v]


def session_state(lab, c: Collector, host: str, present: bool,
                  profile: str | None = None) -> dict[str, str]:
    """Per leaf, what is not yet as wanted ({} = converged): bgpd holds
    exactly one collector session of `host` to c (none when not present);
    the consumer has entries 1 and 2 of it with the ERSPAN action of c (no
    entry 3: a collector is routed, not located)."""
    bad = {}
    for n in F.LEAVES:
        probs = []
        rows = bgp_sessions(lab, n, c, host)
        if present and len(rows) != 1:
            probs.append(f"bgpd shows {len(rows)} sessions")
        elif present and profile and rows[0].get("profile") != profile:
            probs.append(f"bgpd session profile {rows[0].get('profile')!r}")
        elif not present and rows:
            probs.append(f"bgpd still shows {len(rows)} sessions")
        ents = consumer_entries(F.ctl_json(lab, n, "all"), c, host)
        kinds = sorted(e["kind"] for e in ents)
        if present:
            if kinds != ["mirror-dest", "mirror-source"]:
                probs.append(f"consumer entries {kinds}")
            for e in ents:
                probs += action_problems(e.get("action", {}), c)
        elif ents:
            probs.append(f"consumer still has entries {kinds}")
        if probs:
            bad[n] = "; ".join(probs)
    return bad


def wait_state(lab, c: Collector, host: str, present: bool, profile: str | None = None,
               timeout: float = 30) -> float:
    t0 = time.monotonic()
    last: dict = {}

    def ok():
        nonlocal last
        last = session_state(lab, c, host, present, profile)
        return not last
    what = f"collector {c.cid} session of {host} {'installed' if present else 'removed'}"
    try:
        lab.wait_for(ok, timeout=timeout, interval=0.1, what=what)
    except Exception as e:
        raise AssertionError(f"{what}: never converged:\n" +
                             "\n".join(f"  {n}: {v}" for n, v in last.items()) +
                             f"\n  ({e})") from e
    return time.monotonic() - t0


@contextlib.contextmanager
def collector_session(lab, c: Collector, hosts=(P.HOST,), profile: str | None = None,
                      profile_settings: list[str] | None = None, keep_collector=False):
    """Define the collector (and the profile), watch each host with it,
    wait until every leaf has the entries; afterwards remove all of it and
    wait until every consumer dropped the entries."""
    lines = [c.line()]
    if profile:
        lines += P.profile_lines(profile, profile_settings or [])
    lines += [session_line(c, h, profile) for h in hosts]
    P.configure(lab, lines)
    try:
        for h in hosts:
            wait_state(lab, c, h, True, profile)
        yield c
    finally:
        undo = [f"no {session_line(c, h, profile)}" for h in hosts]
        if profile:
            undo.append(f"no monitor profile {profile}")
        if not keep_collector:
            undo.append(f"no monitor collector {c.cid}")
        P.configure(lab, undo)
        for h in hosts:
            wait_state(lab, c, h, False)


def collectors_doc(lab, node: str) -> list[dict]:
    """The consumer's ERSPAN destinations with their counters."""
    return F.ctl_json(lab, node, "all").get("collectors", {}).get("collector", [])


def collector_counters(lab, node: str, c: Collector) -> dict[str, int]:
    for d in collectors_doc(lab, node):
        if d.get("collector") == c.ip and int(d.get("span-id", -1)) == c.span:
            return {k: int(v) for k, v in d.get("counters", {}).items()}
    return {}


# ---------------------------------------------------------------------------
# the collector node
# ---------------------------------------------------------------------------

GRE_SINK = r"""
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
while True:
    s.recv(65535)
"""


def start_gre_sink(lab) -> None:
    """A raw GRE socket on the collector: the kernel (no GRE module) then
    delivers the copies to it instead of answering each with ICMP protocol
    unreachable towards the VTEP."""
    lab.spawn(COLLECTOR, ["/usr/bin/python3", "-c", GRE_SINK], name="gre-sink")


def route_dev(lab, node: str, dst: str = COLLECTOR_IP) -> str | None:
    """The interface node's kernel routes dst through, None without a route."""
    cp = lab.exec(node, ["ip", "-j", "route", "get", dst], check=False)
    if cp.returncode != 0:
        return None
    import json
    j = json.loads(cp.stdout or "[]")
    return j[0].get("dev") if j else None


def ifindex(lab, node: str, ifname: str) -> int:
    return int(lab.exec(node, ["cat", f"/sys/class/net/{ifname}/ifindex"]).stdout)


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------

def tagged_frame(src: str, dst: str, run: int, seq: int, *, vid: int, pcp: int,
                 size: int | None = None, dport=7000) -> bytes:
    """Ethernet / 802.1Q (vid, pcp) / IPv4 / UDP, marker after UDP, padded
    to `size` octets (the whole frame, tag included)."""
    def build(pad: int) -> bytes:
        return raw(Ether(src=F.HOSTS[src][0], dst=F.HOSTS[dst][0]) / Dot1Q(vlan=vid, prio=pcp) /
                   IP(src="10.77.5.2", dst="10.77.5.1") / UDP(sport=40000, dport=dport) /
                   Raw(P.mark(run, seq) + bytes((i * 5) & 0xFF for i in range(pad))))
    f = build(0)
    if size is not None:
        f = build(size - len(f))
        assert len(f) == size
    return f


def cnp_frame(src: str, dst: str, run: int, seq: int, *, opcode: int = 0x81,
              size: int | None = None) -> bytes:
    """RoCEv2 (UDP 4791, BTH with `opcode`), marker right after the BTH,
    padded to `size` octets."""
    def build(pad: int) -> bytes:
        return raw(Ether(src=F.HOSTS[src][0], dst=F.HOSTS[dst][0]) /
                   IP(src="10.77.2.2", dst="10.77.2.1") / UDP(sport=49152, dport=4791) /
                   BTH(opcode=opcode, dqpn=0x123 + seq, psn=seq & 0xFFFFFF,
                       becn=1 if opcode == 0x81 else 0) /
                   Raw(P.mark(run, seq) + bytes((i * 3) & 0xFF for i in range(pad))))
    f = build(0)
    if size is not None:
        f = build(size - len(f))
        assert len(f) == size
    return f


def vlan_of(frame: bytes) -> tuple[int, int, bool]:
    """(VID, PCP, tagged) of an Ethernet frame."""
    if len(frame) >= 18 and frame[12:14] == b"\x81\x00":
        tci = struct.unpack("!H", frame[14:16])[0]
        return tci & 0xFFF, tci >> 13, True
    return 0, 0, False


def bso_of(frame: bytes) -> int:
    n = len(frame)
    if n < 60:
        return 1
    if n > 1514 + (4 if vlan_of(frame)[2] else 0):
        return 2
    return 0


# ---------------------------------------------------------------------------
# pcap (nanosecond timestamps kept as integers)
# ---------------------------------------------------------------------------

def read_pcap_ns(path: Path) -> list[tuple[int, bytes]]:
    """[(capture time in ns since the epoch, Ethernet frame)] of a pcap file
    (tcpdump -w, with or without --time-stamp-precision=nano)."""
    data = Path(path).read_bytes() if Path(path).exists() else b""
    if len(data) < 24:
        return []
    le = struct.unpack("<I", data[:4])[0]
    if le in (0xA1B2C3D4, 0xA1B23C4D):
        end, magic = "<", le
    else:
        end, magic = ">", struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack(end + "I", data[20:24])[0]
    assert linktype == 1, f"{path}: linktype {linktype}, want Ethernet"
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        out.append((sec * 1_000_000_000 + frac * (1 if nano else 1000), data[off:off + incl]))
        off += incl
    return out


def _write_pcap(path: Path, src: Path, patch: dict[int, bytes]) -> None:
    """A copy of pcap `src` with frames (index -> new octets) replaced."""
    data = src.read_bytes()
    end = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out, off, i = bytearray(data[:24]), 24, 0
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        body = data[off + 16:off + 16 + incl]
        if i in patch:
            body = patch[i]
            incl = orig = len(body)
        out += struct.pack(end + "IIII", sec, frac, incl, orig) + body
        off += 16 + struct.unpack(end + "IIII", data[off:off + 16])[2]
        i += 1
    path.write_bytes(bytes(out))


# ---------------------------------------------------------------------------
# decoding the copies (tshark for the fields, own parser for the inner frame)
# ---------------------------------------------------------------------------

TSHARK_FIELDS = [
    "frame.number", "ip.src", "ip.dst", "ip.proto", "ip.dsfield.dscp", "ip.ttl", "ip.flags.df",
    "gre.flags_and_version", "gre.proto", "gre.sequence_number",
    "erspan.version", "erspan.vlan", "erspan.cos", "erspan.encap", "erspan.bso",
    "erspan.truncated", "erspan.spanid", "erspan.index", "erspan.timestamp", "erspan.sgt",
    "erspan.p", "erspan.ft", "erspan.hw", "erspan.direction", "erspan.gra", "erspan.o",
    "erspan.platid", "erspan.pid3.port_index", "erspan.pid3.timestamp",
]


def _num(v: str) -> int | None:
    v = v.strip()
    if v == "":
        return None
    if v in ("True", "False"):
        return int(v == "True")
    return int(v, 16) if v.lower().startswith("0x") else int(v)


@dataclass
class Copy:
    iface: str              # the collector's interface it arrived on
    ts_ns: int              # capture time there
    f: dict                 # tshark fields (ints; None = absent), outer occurrence
    gre_proto: int          # as on the wire (tshark saw a normalised one)
    ip_csum_ok: bool
    inner: bytes            # the mirrored frame (after the ERSPAN header)
    marker: tuple[int, int] | None = None

    @property
    def src(self) -> str:
        return self.f["ip.src"]

    @property
    def span(self) -> int:
        return self.f["erspan.spanid"]

    @property
    def seq(self) -> int:
        return self.f["gre.sequence_number"]

    def timestamp_ns(self) -> int | None:
        """ERSPAN III: (upper 32 bits from the platform subheader << 32 | base
        timestamp) in 100 ns units since the UNIX epoch, as ns."""
        lo, hi = self.f.get("erspan.timestamp"), self.f.get("erspan.pid3.timestamp")
        if lo is None or hi is None:
            return None
        return ((hi << 32) | lo) * 100

    def short(self) -> str:
        return (f"{self.iface} {self.src} seq {self.seq} span {self.span} "
                f"v{self.f.get('erspan.version')} len {len(self.inner)}")


def _ipv4_csum_ok(h: bytes) -> bool:
    s = sum(struct.unpack(f"!{len(h) // 2}H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def decode(pcap: Path, iface: str) -> list[Copy]:
    """Every GRE packet of a collector capture, decoded by tshark (field by
    field) and by this module (inner frame, header checksum, the GRE
    protocol as sent: a vendor protocol tshark does not know is shown to it
    as 0x88BE, whose ERSPAN dissector reads the version from the header)."""
    pkts = read_pcap_ns(pcap)
    if not pkts:
        return []
    protos, patch = [], {}
    for i, (_ts, fr) in enumerate(pkts):
        if len(fr) < 34 or fr[12:14] != b"\x08\x00" or fr[23] != 47:
            protos.append(None)
            continue
        g = 14 + (fr[14] & 15) * 4
        proto = struct.unpack("!H", fr[g + 2:g + 4])[0]
        protos.append(proto)
        if proto not in (0x88BE, 0x22EB):
            b = bytearray(fr)
            b[g + 2:g + 4] = b"\x88\xbe"
            patch[i] = bytes(b)
    src = pcap
    if patch:
        src = pcap.with_suffix(".tshark.pcap")
        _write_pcap(src, pcap, patch)
    argv = ["tshark", "-n", "-r", str(src), "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=f"]
    for fld in TSHARK_FIELDS:
        argv += ["-e", fld]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, f"tshark failed on {src}: {cp.stderr[-500:]}"
    out = []
    for line in cp.stdout.splitlines():
        vals = line.split("\t")
        vals += [""] * (len(TSHARK_FIELDS) - len(vals))
        f = {}
        for k, v in zip(TSHARK_FIELDS, vals):
            f[k] = v.strip() if k in ("ip.src", "ip.dst") else _num(v)
        i = f["frame.number"] - 1
        ts, fr = pkts[i]
        if protos[i] is None:
            continue
        ihl = (fr[14] & 15) * 4
        g = 14 + ihl
        gflags = struct.unpack("!H", fr[g:g + 2])[0]
        glen = 4 + (4 if gflags & 0x8000 else 0) + (4 if gflags & 0x2000 else 0) + \
            (4 if gflags & 0x1000 else 0)
        ver = f["erspan.version"]
        elen = 8 if ver == 1 else (12 + (8 if f["erspan.o"] else 0)) if ver == 2 else 0
        inner = fr[g + glen + elen:] if elen else b""
        c = Copy(iface, ts, f, protos[i], _ipv4_csum_ok(fr[14:14 + ihl]), inner)
        c.marker = P.find_mark(inner) if inner else None
        out.append(c)
    return out


# ---------------------------------------------------------------------------
# captures and traffic
# ---------------------------------------------------------------------------

class CollectorCapture:
    """GRE at the collector's two interfaces (nanosecond timestamps)."""

    def __init__(self, lab, outdir: Path, tag: str):
        self.paths = {i: outdir / f"{tag}-collector-{i}.pcap" for i in (VIA_SPINE, VIA_DIRECT)}
        self.caps = {i: F.Capture(lab, COLLECTOR, i, p, "ip proto 47", nano=True)
                     for i, p in self.paths.items()}
        self.copies: list[Copy] | None = None

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 10) -> None:
        for p in self.paths.values():
            F.wait_quiet(p, quiet, timeout)

    @property
    def dropped(self) -> dict:
        """tcpdump's own drops per interface (None until stopped)."""
        return {i: c.dropped for i, c in self.caps.items()}

    def stop(self) -> list[Copy]:
        if self.copies is None:
            for c in self.caps.values():
                c.stop()
            self.copies = []
            for i, p in self.paths.items():
                self.copies += decode(p, i)
        return self.copies

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@dataclass
class Expect:
    """One copy the collector must receive."""
    frame: bytes            # the original, as sent
    vtep: str               # the leaf whose program makes the copy
    port: str               # the port of that leaf the original enters on
    direction: int          # ERSPAN III D: 0 = from the monitored host, 1 = to it
    trunc: int = 0          # the profile's truncation (0 = whole frame)
    iface: str = VIA_SPINE  # where it reaches the collector
    # capture time of the original at the port where it entered the fabric
    # (its sender's port: the monitored host's own port for frames from it)
    host_ts_ns: int | None = None


@dataclass
class Run:
    sent: list[P.Sent]
    host_pkts: list[tuple[int, bytes]]            # at the monitored host's port
    src_ts: dict[tuple[int, int], int]             # marker -> capture at its sender's port
    delivered: dict[tuple[int, int], list[bytes]]  # marked originals at their destinations
    server: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)  # at SERV21
    server_pcap: Path | None = None
    loss: F.Losses = field(default_factory=F.Losses)  # the kernel's and tcpdump's

    def losses(self) -> str:
        return str(self.loss)

    @property
    def frames(self) -> dict[tuple[int, int], bytes]:
        out = {}
        for s in self.sent:
            out.update(s.frames)
        return out

    def not_delivered(self) -> list:
        return sorted(k for k in self.frames if k not in self.delivered)

    def altered(self) -> list:
        fr = self.frames
        return sorted(k for k, v in self.delivered.items() if k in fr and any(x != fr[k] for x in v))


def traffic(lab, outdir: Path, tag: str, plan: list[tuple[str, list[bytes], float]],
            host: str = P.HOST, server: bool = False, timeout: float = 120) -> Run:
    """Send the plan [(source host, frames, rate)] one after the other while
    capturing (nanosecond timestamps) at the monitored host's port, at every
    destination's port and, with server=True, at SERV21's port; waits until
    every original reached its destination (15 s at most). The collector's
    capture is the caller's (CollectorCapture), so it can span several runs."""
    outdir.mkdir(parents=True, exist_ok=True)
    dsts = sorted({next(h for h, (m, _i) in F.HOSTS.items() if m == F._mac(fr[0][0:6]))
                   for _s, fr, _r in plan} | {host} | {s for s, _f, _r in plan})
    paths = {d: outdir / f"{tag}-{d}.pcap" for d in dsts}
    spath = outdir / f"{tag}-serv21.pcap"
    sent = []
    backlog_before = F.backlog_drops()
    with contextlib.ExitStack() as st:
        caps = {d: st.enter_context(F.Capture(lab, d, P.host_if(lab, d), p, nano=True))
                for d, p in paths.items()}
        cs = st.enter_context(F.Capture(lab, "serv21", P.host_if(lab, "serv21"), spath)) \
            if server else None
        for i, (src, frames, rate) in enumerate(plan):
            sent.append(P.send(lab, src, frames, outdir, f"{tag}-{i}", rate, timeout))
        want = sum(len(s.frames) for s in sent)

        def delivered():
            # every original at its destination's port, and in its sender's
            # capture (the ERSPAN III check times each copy against it: a
            # capture stopped while tcpdump, busy, has not read the last
            # frames from the kernel yet would lose them)
            n = seen = 0
            for d, p in paths.items():
                mac = F.HOSTS[d][0]
                for _t, q in read_pcap_ns(p):
                    if not P.find_mark(q):
                        continue
                    if F._mac(q[6:12]) != mac:
                        n += 1
                    else:
                        seen += 1
            return n >= want and seen >= want
        with contextlib.suppress(Exception):
            lab.wait_for(delivered, timeout=15, interval=0.2,
                         what="every original delivered and seen at its sender's port")
        if cs:
            F.wait_quiet(spath, 0.5, 10)
            cs.stop()
        for c in caps.values():
            c.stop()
        loss = F.losses_since(backlog_before, {**caps, **({"serv21": cs} if cs else {})})
        pk = {d: read_pcap_ns(p) for d, p in paths.items()}
    runs = {P.find_mark(f)[0] for s in sent for f in s.frames.values()}
    delivered: dict = defaultdict(list)
    for d, pkts in pk.items():
        mac = F.HOSTS[d][0]
        for _t, q in pkts:
            k = P.find_mark(q)
            if k and k[0] in runs and F._mac(q[6:12]) != mac:
                delivered[k].append(q)
    src_ts = {}
    for s in sent:
        mac = F.HOSTS[s.src][0]
        for t, q in pk[s.src]:
            k = P.find_mark(q)
            if k in s.frames and F._mac(q[6:12]) == mac:
                src_ts.setdefault(k, t)
    srv: dict = defaultdict(list)
    if server:
        for p in F.read_pcap(spath):
            k = P.find_mark(p.frame)
            if k:
                srv[k].append(p.frame)
    return Run(sent, pk[host], src_ts, dict(delivered), dict(srv), spath if server else None,
               loss)


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------

def hops(iface: str) -> int:
    """Routers between the VTEP and the collector: the spine via eth1, none
    on the direct link."""
    return 1 if iface == VIA_SPINE else 0


def generic_problems(c: Copy, coll: Collector, hw: dict[str, int]) -> list[str]:
    """What every copy of this collector must carry, whatever it copies."""
    f, p = c.f, []

    def want(name, got, exp):
        if got != exp:
            p.append(f"{name} {got!r} != {exp!r}")
    want("ip.dst", f["ip.dst"], coll.ip)
    if f["ip.src"] not in F.VTEP_IP.values():
        p.append(f"ip.src {f['ip.src']} is no VTEP")
    want("ip.proto", f["ip.proto"], 47)
    want("ip.dsfield.dscp", f["ip.dsfield.dscp"], coll.eff_dscp)
    want("ip.ttl", f["ip.ttl"], coll.eff_ttl - hops(c.iface))
    want("ip.flags.df", f["ip.flags.df"], 0)
    want("ip header checksum ok", c.ip_csum_ok, True)
    want("gre.flags_and_version", f["gre.flags_and_version"], 0x1000)
    want("gre protocol", c.gre_proto, coll.proto)
    if f["gre.sequence_number"] is None:
        p.append("no gre.sequence_number")
    want("erspan.version", f["erspan.version"], coll.wire_version)
    want("erspan.spanid", f["erspan.spanid"], coll.span)
    if not c.inner:
        p.append("no inner frame")
    if coll.version == 3:
        want("erspan.sgt", f["erspan.sgt"], 0)
        want("erspan.p", f["erspan.p"], 1)
        want("erspan.ft", f["erspan.ft"], 0)
        if f["ip.src"] in F.VTEP_IP.values():
            want("erspan.hw", f["erspan.hw"], hw[vtep_of_ip(f["ip.src"])])
        want("erspan.gra", f["erspan.gra"], 1)
        want("erspan.o", f["erspan.o"], 1)
        want("erspan.platid", f["erspan.platid"], 3)
        if f["erspan.timestamp"] is None or f["erspan.pid3.timestamp"] is None:
            p.append("no timestamp (base or upper 32 bits)")
    return p


def copy_problems(c: Copy, e: Expect, coll: Collector, lab_ifindex: dict) -> list[str]:
    """A marked copy against the original it copies."""
    f, p = c.f, []

    def want(name, got, exp):
        if got != exp:
            p.append(f"{name} {got!r} != {exp!r}")
    want("arrived on", c.iface, e.iface)
    want("ip.src", f["ip.src"], F.VTEP_IP[e.vtep])
    keep = len(e.frame) if not e.trunc else min(len(e.frame), e.trunc)
    if c.inner != e.frame[:keep]:
        if len(c.inner) != keep:
            p.append(f"inner frame {len(c.inner)} octets, want the original's first {keep} "
                     f"(original {len(e.frame)})")
        else:
            p.append("inner frame differs from the original")
    want("erspan.truncated", f["erspan.truncated"], int(keep < len(e.frame)))
    vid, pcp, tagged = vlan_of(e.frame)
    want("erspan.vlan", f["erspan.vlan"], vid)
    want("erspan.cos", f["erspan.cos"], pcp)
    idx = lab_ifindex[(e.vtep, e.port)]
    if coll.version == 2:
        want("erspan.encap", f["erspan.encap"], 3 if tagged else 0)
        want("erspan.index", f["erspan.index"], idx)
    else:
        want("erspan.bso", f["erspan.bso"], bso_of(e.frame))
        want("erspan.direction", f["erspan.direction"], e.direction)
        want("erspan.pid3.port_index", f["erspan.pid3.port_index"], idx & 0x3FFF)
        t = c.timestamp_ns()
        if e.host_ts_ns is None:
            p.append("original not seen at its sender's port")
        elif t is not None and abs(t - e.host_ts_ns) > TS_TOLERANCE_NS and \
                not e.host_ts_ns - 100 <= t <= c.ts_ns:
            # more than 1 ms from the original's capture, and not between it
            # and the copy's arrival either (a loaded machine may hold a
            # packet in a backlog for a millisecond; a clock cannot stamp a
            # copy before its original was sent or after it arrived)
            p.append(f"timestamp {t} is {(t - e.host_ts_ns) / 1e6:+.3f} ms from the capture "
                     f"where the original entered the fabric, {(t - c.ts_ns) / 1e6:+.3f} ms "
                     f"from the copy's arrival at the collector")
    return p


def sequence_problems(copies: list[Copy]) -> dict[tuple[str, int], str]:
    """gre.seq contiguous per (VTEP, session): per (ip.src, span id), the
    numbers seen are consecutive, without a gap or a repeat."""
    by: dict[tuple[str, int], list[int]] = defaultdict(list)
    for c in copies:
        if c.seq is not None:
            by[(c.src, c.span)].append(c.seq)
    bad = {}
    for k, seqs in by.items():
        s = sorted(seqs)
        dup = len(s) - len(set(s))
        gaps = [(a, b) for a, b in zip(s, s[1:]) if b - a > 1]
        if dup or gaps:
            bad[k] = (f"{len(s)} copies, seq {s[0]}..{s[-1]}: {dup} repeated, gaps "
                      f"{gaps[:5]}{' ...' if len(gaps) > 5 else ''}")
    return bad


def seq_ranges(copies: list[Copy]) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(ip.src, span) -> (first, last, count) of the sequence numbers."""
    by: dict = defaultdict(list)
    for c in copies:
        by[(c.src, c.span)].append(c.seq)
    return {k: (min(v), max(v), len(v)) for k, v in by.items()}


@dataclass
class Verdict:
    expected: int
    copies: int
    marked: int
    missing: list
    unexpected: list
    duplicated: dict
    wrong: dict                   # (span, marker) -> problems
    generic: dict                 # copy -> problems (every copy)
    sequence: dict
    not_delivered: list
    altered: list
    unmarked: list
    ts_offsets_us: list = field(default_factory=list)   # copy timestamp - host port capture
    losses: list = field(default_factory=list)          # what the captures and kernel lost

    @property
    def ok(self) -> bool:
        return self.expected > 0 and self.marked > 0 and not (
            self.missing or self.unexpected or self.duplicated or self.wrong or self.generic
            or self.sequence or self.not_delivered or self.altered)

    def __str__(self) -> str:
        def few(xs, n=6):
            xs = list(xs)
            return ", ".join(map(str, xs[:n])) + (f" (+{len(xs) - n})" if len(xs) > n else "")
        s = (f"{self.marked} marked copies ({self.copies} GRE packets) for {self.expected} "
             f"expected: missing {len(self.missing)} [{few(self.missing)}], unexpected "
             f"{len(self.unexpected)} [{few(self.unexpected)}], duplicated "
             f"{len(self.duplicated)} [{few(self.duplicated)}], originals not delivered "
             f"{len(self.not_delivered)}, altered {len(self.altered)}; "
             f"{len(self.unmarked)} unmarked copies")
        if self.not_delivered:
            s += f"; originals not delivered: {few(self.not_delivered)}"
        if (self.missing or self.not_delivered) and self.losses:
            s += f"; {'; '.join(self.losses)}"
        if self.ts_offsets_us:
            o = sorted(self.ts_offsets_us)
            s += (f"; ERSPAN III timestamp - capture at the sender's port: min {o[0]:+.1f} us, "
                  f"median {o[len(o) // 2]:+.1f} us, max {o[-1]:+.1f} us")
        for k, v in list(self.wrong.items())[:6]:
            s += f"\n    copy {k}: {'; '.join(v)}"
        if len(self.wrong) > 6:
            s += f"\n    ... {len(self.wrong) - 6} more copies with wrong fields"
        for k, v in list(self.generic.items())[:4]:
            s += f"\n    {k}: {'; '.join(v)}"
        for k, v in self.sequence.items():
            s += f"\n    sequence of {k}: {v}"
        return s


def verdict(copies: list[Copy], expect: dict[tuple[int, tuple[int, int]], Expect],
            colls: list[Collector], hw: dict[str, int], ifindex_of: dict,
            runs: list[Run] = (), spans_checked_for_sequence=None,
            capture: CollectorCapture | None = None) -> Verdict:
    """Exactly one copy per (span, marker) expected, each right field by
    field; every copy of these collectors right in the fields that do not
    depend on the original; sequence numbers contiguous per (VTEP, span);
    every original delivered unchanged. An empty capture never passes.
    capture (stopped): the collector's, whose own drops the verdict says
    with the runs' losses when copies or originals are missing."""
    by_span = {c.span: c for c in colls}
    mine = [c for c in copies if c.span in by_span]
    got: dict = defaultdict(list)
    unmarked = []
    for c in mine:
        if c.marker is None:
            unmarked.append(c.short())
        else:
            got[(c.span, c.marker)].append(c)
    runs_seen = {k[1][0] for k in expect}
    wrong, generic = {}, {}
    for c in mine:
        g = generic_problems(c, by_span[c.span], hw)
        if g:
            generic[c.short()] = g
    for k, cs in got.items():
        if k in expect:
            pr = copy_problems(cs[0], expect[k], by_span[k[0]], ifindex_of)
            if pr:
                wrong[k] = pr
    unexpected = sorted(k for k in got if k not in expect and k[1][0] in runs_seen)
    foreign = [k for k in got if k[1][0] not in runs_seen]
    unexpected += foreign
    # copies of another session id (e.g. a wrong span id) at this collector
    unexpected += sorted({("span", c.span, c.src) for c in copies if c.span not in by_span},
                         key=str)
    offs = []
    for k, cs in got.items():
        t = cs[0].timestamp_ns()
        if k in expect and t is not None and expect[k].host_ts_ns is not None:
            offs.append((t - expect[k].host_ts_ns) / 1000)
    seq = sequence_problems(mine)
    nd, alt = [], []
    for r in runs:
        nd += r.not_delivered()
        alt += r.altered()
    return Verdict(len(expect), len(copies), sum(len(v) for v in got.values()),
                   sorted(k for k in expect if k not in got), unexpected,
                   {k: len(v) for k, v in got.items() if len(v) > 1}, wrong, generic, seq,
                   nd, alt, unmarked, offs,
                   [f"run {i + 1}: {r.loss}" for i, r in enumerate(runs)]
                   + ([f"the collector's tcpdump drops {capture.dropped}"] if capture else []))


def ifindexes(lab) -> dict[tuple[str, str], int]:
    """(leaf, port) -> ifindex of every host port of every leaf."""
    out = {}
    for l in lab.links:
        for n, ifn in (l.a, l.b):
            if n in F.LEAVES:
                out[(n, ifn)] = ifindex(lab, n, ifn)
    return out


def expect_for(lab, run: Run, span: int, host: str = P.HOST, trunc: int = 0,
               iface_of=lambda vtep: VIA_SPINE, select=lambda k, f: True) -> dict:
    """The copies a session of `host` must produce for a run: one per sent
    frame that `select` keeps, made at the leaf where the frame entered
    (its source's leaf), D = 0 when the source is the monitored host; the
    timestamp reference is the capture at the source's port (for frames
    from the monitored host: its own port)."""
    hts = run.src_ts
    out = {}
    for s in run.sent:
        leaf = F.where_is(lab, s.src)
        port = lab.link_of(s.src, leaf).iface(leaf)
        for k, fr in s.frames.items():
            if not select(k, fr):
                continue
            out[(span, k)] = Expect(fr, leaf, port, 0 if s.src == host else 1, trunc,
                                    iface_of(leaf), hts.get(k))
    return out
