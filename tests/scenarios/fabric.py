"""Shared helpers of the fabric scenarios (tests/scenarios, scripts/demo.py,
bench/lab): the reference fabric's names, the fpm-consumer's entries as the
control tool prints them, the entries the patent's example expects, packet
captures in the lab's namespaces, a dependency-free pcap reader, the
exactly-once comparison, and traffic (ping, a TCP echo flow).

Everything runs inside the lab's own namespaces (tests/lab/clabns.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "docker" / "clab" / "evpn-monitor.clab.yml"
BUILD = Path(os.environ.get("EVPNMON_BUILD_DIR") or REPO / "build")
FRR_PREFIX = os.environ.get("EVPNMON_FRR_PREFIX") or str(REPO / "build" / "frr")

sys.path.insert(0, str(REPO / "tests" / "lab"))
from clabns import wait_quiet  # noqa: E402,F401 (F.wait_quiet in the scenarios)
CTL = BUILD / "fpm-consumer" / "evpnmon-ctl"

LEAVES = ["vtep101", "vtep102", "vtep103", "vtep104"]     # patched, with consumer
STOCK_LEAF, STOCK_HOST = "vtep105", "vm250"
VTEP_IP = {f"vtep10{i}": f"10.0.0.10{i}" for i in range(1, 6)}
VNI = 100
HOSTS = {   # name: (MAC, IP)
    "vm210": ("02:00:00:00:02:10", "192.168.100.210"),
    "vm220": ("02:00:00:00:02:20", "192.168.100.220"),
    "vm230": ("02:00:00:00:02:30", "192.168.100.230"),
    "vm240": ("02:00:00:00:02:40", "192.168.100.240"),
    "serv21": ("02:00:00:00:00:21", "192.168.100.21"),
    "vm250": ("02:00:00:00:02:50", "192.168.100.250"),
}
HOST_ID = 21
VM210_MAC, VM210_IP = HOSTS["vm210"]
SERV21_MAC, SERV21_IP = HOSTS["serv21"]


def monitor_config(asn: int = 65101) -> list[str]:
    """What the operator types on one leaf (vtysh, configure terminal)."""
    return [f"router bgp {asn}", "address-family l2vpn evpn",
            f"monitor server {HOST_ID} mac {SERV21_MAC} ip {SERV21_IP}",
            f"monitor host vni {VNI} mac {VM210_MAC} ip {VM210_IP} server {HOST_ID}"]


def unmonitor_config(asn: int = 65101) -> list[str]:
    return [f"router bgp {asn}", "address-family l2vpn evpn",
            f"no monitor host vni {VNI} mac {VM210_MAC} ip {VM210_IP} server {HOST_ID}"]


def bring_up_wait(lab, timeout: float = 90) -> None:
    lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                 timeout=timeout, what="all BGP sessions established")


def quiet_hosts(lab) -> None:
    """No IPv6 on the hosts: router solicitations, MLD and DAD are background
    noise in the captures that proves nothing about monitoring."""
    for h in HOSTS:
        lab.exec(h, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                    "net.ipv6.conf.default.disable_ipv6=1", check=False)


# ---------------------------------------------------------------------------
# fpm-consumer state (evpnmon-ctl --json)
# ---------------------------------------------------------------------------

def ctl_json(lab, node: str, what: str = "all", timeout: float = 10) -> dict:
    sock = lab.node_dir(node) / "fpm-consumer.sock"
    cp = lab.exec(node, [str(CTL), "-s", str(sock), "--json", what], check=True,
                  timeout=timeout)
    return json.loads(cp.stdout)["evpn-monitor:fpm-consumer"]


def _key(e: dict) -> tuple:
    # a collector session's entries carry its collector ID instead of a HOST ID
    hid = int(e["host-id"]) if "host-id" in e else int(e["collector-id"])
    return (e["kind"], int(e["vni"]), e.get("host-mac"), e.get("host-ip"), hid,
            _action(e["action"]))


def _action(a: dict) -> tuple:
    if a["type"] == "local-port":
        return ("port", a["port"])
    if a["type"] == "none":  # the server has no target from this leaf (R5)
        return ("none",)
    if a["type"] == "erspan":
        return ("erspan", a["collector"], int(a["erspan-version"]), int(a["span-id"]))
    return ("vxlan", a["remote-vtep"], int(a["vni"]), int(a["host-id"]))


def entries(lab, node: str) -> set[tuple]:
    """{(kind, vni, host-mac, host-ip, host-id, action)} installed by node's consumer."""
    return {_key(e) for e in ctl_json(lab, node, "entries").get("entries", {}).get("entry", [])}


def entry_counters(lab, node: str) -> dict[tuple, dict]:
    out = {}
    for e in ctl_json(lab, node, "entries").get("entries", {}).get("entry", []):
        out[_key(e)] = {c: int(v) for c, v in e.get("counters", {}).items()}
    return out


def counters(lab, node: str) -> dict[str, int]:
    c = ctl_json(lab, node, "counters").get("counters", {}).get("counter", [])
    return {x["name"]: int(x["value"]) for x in c}


def expected_entries(lab, server_leaf: str) -> dict[str, set[tuple]]:
    """The exactly-once rule (docs/exactly-once.md) for the one session
    (VNI 100, VM210, SERV21/HOST ID 21), from where SERV21 is plugged *now*
    (lab.links follow move_link):
      entries 1 (mirror-source) and 2 (mirror-dest) on every patched leaf,
      wherever VM210 is,
      entry 3 (decap) on SERV21's leaf,
      action = SERV21's port on its own leaf, else VXLAN to SERV21's VTEP."""
    sport = lab.link_of("serv21", server_leaf).iface(server_leaf)
    out = {}
    for leaf in LEAVES:
        act = ("port", sport) if leaf == server_leaf else \
            ("vxlan", VTEP_IP[server_leaf], VNI, HOST_ID)
        want = {("mirror-dest", VNI, VM210_MAC, VM210_IP, HOST_ID, act),
                ("mirror-source", VNI, VM210_MAC, VM210_IP, HOST_ID, act)}
        if leaf == server_leaf:
            want.add(("decap", VNI, None, None, HOST_ID, ("port", sport)))
        out[leaf] = want
    return out


def expected_for(lab, sessions: list[dict]) -> dict[str, set[tuple]]:
    """The rule for several sessions: each a dict(host=, server=, hid=, mac=True).
    mac=False: IP-only session (matched by IP)."""
    out = {leaf: set() for leaf in LEAVES}
    for ss in sessions:
        hmac, hip = HOSTS[ss["host"]]
        hmac = hmac if ss.get("mac", True) else None
        sleaf = where_is(lab, ss["server"])
        sport = lab.link_of(ss["server"], sleaf).iface(sleaf)
        for leaf in LEAVES:
            act = ("port", sport) if leaf == sleaf else ("vxlan", VTEP_IP[sleaf], VNI, ss["hid"])
            out[leaf].add(("mirror-dest", VNI, hmac, hip, ss["hid"], act))
            out[leaf].add(("mirror-source", VNI, hmac, hip, ss["hid"], act))
            if leaf == sleaf:
                out[leaf].add(("decap", VNI, None, None, ss["hid"], ("port", sport)))
    return out


def pair_traffic(lab, pairs) -> dict[str, bool]:
    res = {}
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            res[f"ping {x}->{y}"] = ping(lab, x, y)
            res[f"tcp {x}->{y}"] = tcp_flow(lab, x, y, n=10)
    return res


def all_entries(lab) -> dict[str, set[tuple]]:
    return {n: entries(lab, n) for n in LEAVES}


def wait_entries(lab, want: dict[str, set[tuple]], timeout: float = 20) -> float:
    """Wait until every leaf's entries equal `want`; returns the seconds it took."""
    t0 = time.monotonic()
    last = {}

    def ok():
        nonlocal last
        last = all_entries(lab)
        return last == want
    try:
        lab.wait_for(ok, timeout=timeout, what="entries as expected", interval=0.1)
    except Exception as e:
        raise AssertionError(f"entries never became the expected ones:\n{diff_entries(want, last)}") from e
    return time.monotonic() - t0


def diff_entries(want: dict, got: dict) -> str:
    lines = []
    for n in sorted(set(want) | set(got)):
        w, g = want.get(n, set()), got.get(n, set())
        for e in sorted(w - g, key=str):
            lines.append(f"  {n}: missing {e}")
        for e in sorted(g - w, key=str):
            lines.append(f"  {n}: unexpected {e}")
    return "\n".join(lines) or "  (equal)"


def format_entries(ents: set[tuple]) -> list[str]:
    names = {"mirror-source": "entry 1 (src = host)", "mirror-dest": "entry 2 (dst = host)",
             "decap": "entry 3 (decap)"}
    out = []
    for kind, vni, mac, _ip, hid, act in sorted(ents, key=lambda e: (e[0] != "mirror-source", e[0])):
        if act[0] == "port":
            a = f"-> port {act[1]}"
        elif act[0] == "erspan":
            a = f"-> ERSPAN {'II' if act[2] == 2 else 'III'} {act[1]} span {act[3]}"
        else:
            a = f"-> VXLAN-GBP {act[1]} GPID {act[3]}"
        out.append(f"{names.get(kind, kind):22} vni {vni} {('host ' + mac) if mac else '':24} "
                   f"host-id {hid} {a}")
    return out


# ---------------------------------------------------------------------------
# captures
# ---------------------------------------------------------------------------

class Capture:
    """tcpdump in a node's netns, writing a pcap; started when it listens."""

    def __init__(self, lab, node: str, iface: str, path: str | Path, bpf: str = "",
                 nano: bool = False, snaplen: int = 0, direction: str = ""):
        self.path = Path(path)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        argv = ["ip", "netns", "exec", lab.netns(node), "tcpdump", "-n", "-U", "--immediate-mode",
                "-B", "8192", "-Z", "root",   # writes where only root may (pytest's tmp_path)
                *(["--time-stamp-precision=nano"] if nano else []),
                *(["-s", str(snaplen)] if snaplen else []),
                *(["-Q", direction] if direction else []),   # "in": what iface received
                "-i", iface, "-w", str(self.path)] + ([bpf] if bpf else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline:          # "listening on eth1, ..."
            line = self.proc.stderr.readline()
            if b"listening on" in line or not line:
                break
        if b"listening on" not in line:             # it said something else, and ended
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(5)
            self.proc.stderr.close()
            raise RuntimeError(f"tcpdump on {node}/{iface} failed: {line!r}")
        # The capture is active at "listening on", but tcpdump's start-up
        # (its 8 MiB buffer) goes on: traffic sent at once competes with it
        # on these 2 CPUs, and the collector under test dropped copies in
        # the two CI runs without this pause (collector.lab).
        time.sleep(0.05)

    # What tcpdump itself lost (its "N packets dropped by kernel" at exit):
    # None until stopped, or when it did not say.
    dropped: int | None = None

    def stop(self) -> list["Pkt"]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if not self.proc.stderr.closed:
            m = re.search(rb"(\d+) packets? dropped by kernel", self.proc.stderr.read())
            self.dropped = int(m.group(1)) if m else None
            self.proc.stderr.close()
        return read_pcap(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


@dataclass
class Pkt:
    ts: float
    frame: bytes               # Ethernet frame (linktype 1) or L3 packet (SLL2)
    eth_src: str = ""
    eth_dst: str = ""
    ethertype: int = 0
    outgoing: bool = False     # SLL2 only
    ip_src: str = ""
    ip_dst: str = ""
    proto: int = 0
    icmp_type: int = -1
    icmp_id: int = -1
    icmp_seq: int = -1
    arp_op: int = 0
    arp_spa: str = ""
    arp_tpa: str = ""
    extra: dict = field(default_factory=dict)


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def read_pcap(path: str | Path) -> list[Pkt]:
    data = Path(path).read_bytes() if Path(path).exists() else b""
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    else:
        end = ">"
    nano = magic == 0xa1b23c4d or struct.unpack(">I", data[:4])[0] == 0xa1b23c4d
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        raw = data[off:off + incl]
        off += incl
        p = Pkt(ts=sec + frac / (1e9 if nano else 1e6), frame=raw)
        if linktype == 1 and len(raw) >= 14:
            p.eth_dst, p.eth_src = _mac(raw[0:6]), _mac(raw[6:12])
            p.ethertype = struct.unpack("!H", raw[12:14])[0]
            l3 = raw[14:]
        elif linktype == 276 and len(raw) >= 20:     # LINUX_SLL2 (tcpdump -i any)
            p.ethertype = struct.unpack("!H", raw[0:2])[0]
            p.outgoing = raw[10] == 4
            alen = raw[11]
            p.eth_src = _mac(raw[12:12 + min(alen, 6)]) if p.outgoing else ""
            l3 = raw[20:]
            p.frame = l3
        else:
            continue
        if p.ethertype == 0x0800 and len(l3) >= 20:
            ihl = (l3[0] & 15) * 4
            p.proto = l3[9]
            p.ip_src, p.ip_dst = socket.inet_ntoa(l3[12:16]), socket.inet_ntoa(l3[16:20])
            if p.proto == 1 and len(l3) >= ihl + 8:
                p.icmp_type = l3[ihl]
                p.icmp_id, p.icmp_seq = struct.unpack("!HH", l3[ihl + 4:ihl + 8])
        elif p.ethertype == 0x0806 and len(l3) >= 28:
            p.arp_op = struct.unpack("!H", l3[6:8])[0]
            p.arp_spa, p.arp_tpa = socket.inet_ntoa(l3[14:18]), socket.inet_ntoa(l3[24:28])
        out.append(p)
    return out


def _unicast(mac: str) -> bool:
    return bool(mac) and not (int(mac[:2], 16) & 1)


def monitored_frames(pkts: list[Pkt], host_mac: str = VM210_MAC,
                     exclude_macs: tuple[str, ...] = (SERV21_MAC,),
                     host_ip: str | None = None) -> list[bytes]:
    """Unicast frames to or from the monitored host, leaving out frames that
    involve the server itself (those reach it as originals too) and
    broadcast/multicast (the fabric floods those to the server anyway).
    With host_ip (IP-only session): IPv4 frames to or from that address."""
    out = []
    for p in pkts:
        if not (_unicast(p.eth_dst) and _unicast(p.eth_src)):
            continue
        if host_ip is not None:
            if host_ip not in (p.ip_src, p.ip_dst):
                continue
        elif host_mac not in (p.eth_src, p.eth_dst):
            continue
        if p.eth_src in exclude_macs or p.eth_dst in exclude_macs:
            continue
        out.append(p.frame)
    return out


@dataclass
class Comparison:
    at_host: int
    at_server: int
    missing: int           # seen at the host's port, never at the server
    duplicated: int        # copies beyond the first
    unexpected: int        # at the server, never at the host's port (stale/spurious)
    examples: list = field(default_factory=list)
    # What else lost frames meanwhile (the captures, the kernel's backlog):
    # evidence for a missing copy, never a reason to pass.
    losses: str = ""

    @property
    def exactly_once(self) -> bool:
        return self.missing == 0 and self.duplicated == 0 and self.unexpected == 0

    def __str__(self) -> str:
        return (f"{self.at_host} frames at the host's port, {self.at_server} copies at the "
                f"server: missing {self.missing}, duplicated {self.duplicated}, "
                f"unexpected {self.unexpected}" + (f" ({self.losses})" if self.losses else ""))


def compare(host_pkts: list[Pkt], server_pkts: list[Pkt], ignore_from: tuple[str, ...] = (),
            host_mac: str = VM210_MAC, server_mac: str = SERV21_MAC,
            host_ip: str | None = None) -> Comparison:
    """Multiset comparison, byte for byte, of the frames to/from the monitored
    host (default VM210) seen at its port against the copies the server
    (default SERV21) received. `ignore_from`: source MACs whose frames are not
    expected to be mirrored (hosts behind a stock leaf); `host_ip`: compare
    IPv4 frames of that address (IP-only session)."""
    kw = dict(host_mac=host_mac, exclude_macs=(server_mac,), host_ip=host_ip)
    h = Counter(f for f in monitored_frames(host_pkts, **kw)
                if _mac(f[6:12]) not in ignore_from)
    s = Counter(f for f in monitored_frames(server_pkts, **kw)
                if _mac(f[6:12]) not in ignore_from)
    missing = sum((h - s).values())
    unexpected = sum(max(0, s[f] - h[f]) for f in s if f not in h)
    dup = sum(max(0, s[f] - h[f]) for f in s if f in h)
    ex = []
    for f in list((h - s))[:3]:
        ex.append(("missing", _mac(f[6:12]), _mac(f[0:6]), len(f)))
    for f, n in s.items():
        if n > h.get(f, 0) and len(ex) < 6:
            ex.append(("extra" if f not in h else f"x{n}", _mac(f[6:12]), _mac(f[0:6]), len(f)))
    return Comparison(sum(h.values()), sum(s.values()), missing, dup, unexpected, ex)


# ---------------------------------------------------------------------------
# traffic
# ---------------------------------------------------------------------------

ECHO_SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
"""

# request/response with one segment in flight per direction: every segment
# is a frame of its own (no TSO/GSO aggregates, so captures compare 1:1)
ECHO_CLIENT = r"""
import socket, sys, time
dst, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((dst, port), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(n):
    msg = bytes([(i + j) & 0xff for j in range(size)])
    s.sendall(msg)
    got = b""
    while len(got) < size:
        d = s.recv(size - len(got))
        if not d:
            sys.exit("connection closed")
        got += d
    if got != msg:
        sys.exit("echo mismatch")
s.close()
print("ok", n * size)
"""

ECHO_PORT = 5001


def start_echo_servers(lab, hosts) -> None:
    for h in hosts:
        lab.spawn(h, ["/usr/bin/python3", "-c", ECHO_SERVER, str(ECHO_PORT)], name="echo-server")
    for h in hosts:
        lab.wait_for(lambda: f":{ECHO_PORT}" in lab.exec(h, "ss -ltn", check=False).stdout,
                     timeout=10, what=f"echo server on {h}")


def tcp_flow(lab, src: str, dst: str, n: int = 20, size: int = 1000) -> bool:
    cp = lab.exec(src, ["/usr/bin/python3", "-c", ECHO_CLIENT, HOSTS[dst][1], str(ECHO_PORT),
                        str(n), str(size)], check=False, timeout=30)
    return cp.returncode == 0 and cp.stdout.startswith("ok")


def ping(lab, src: str, dst: str, count: int = 3, interval: float = 0.05) -> bool:
    cp = lab.exec(src, ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1",
                        HOSTS[dst][1]], check=False, timeout=count * interval + 10)
    return cp.returncode == 0


def mac_location(lab, leaf: str, mac: str) -> str | None:
    """Where leaf's kernel sends mac: 'local' (the bridge's own entry points
    at a host port), the remote VTEP's IP (the bridge's entry points at
    vxlan100 and vxlan100's own entry has that dst), or None (unknown: the
    bridge would flood).  The bridge (master) entry decides; a stale vxlan100
    entry left behind on the leaf the host moved to does not."""
    j = json.loads(lab.exec(leaf, ["bridge", "-j", "fdb", "show", "br", "br100"]).stdout)
    master = [e for e in j if e.get("mac") == mac and e.get("master") == "br100"]
    if len(master) != 1:
        return None
    if master[0].get("ifname") != "vxlan100":
        return "local"
    dsts = {e["dst"] for e in j if e.get("mac") == mac and e.get("ifname") == "vxlan100"
            and e.get("dst")}
    return dsts.pop() if len(dsts) == 1 else None


def move_host(lab, host: str, from_leaf: str, to_leaf: str, timeout: float = 20) -> str:
    """lab.move_link, then wait until every leaf's kernel FDB (the stock one
    too) sends host's MAC to its new place.  The consumers' entries converge
    on their own schedule (wait_entries); a third leaf whose FDB still points
    at the old VTEP would mirror a packet that the old VTEP then drops, which
    a capture comparison rightly counts as an unexpected copy."""
    port = lab.move_link(host, from_leaf, to_leaf)
    wait_fdb(lab, host, to_leaf, timeout)
    return port


def wait_fdb(lab, host: str, leaf: str, timeout: float = 20) -> None:
    """Wait until every leaf's kernel FDB (the stock one too) sends host's
    MAC to `leaf`: local there, that VTEP elsewhere."""
    mac = HOSTS[host][0]
    want = {n: ("local" if n == leaf else VTEP_IP[leaf]) for n in LEAVES + [STOCK_LEAF]}
    try:
        lab.wait_for(lambda: all(mac_location(lab, n, mac) == w for n, w in want.items()),
                     timeout=timeout, interval=0.1,
                     what=f"{host}'s MAC at {leaf} in every leaf's FDB")
    except Exception as e:
        now = {n: mac_location(lab, n, mac) for n in want}
        raise AssertionError(f"{e}; want {want}, have {now}") from e


def wait_reachable(lab, src: str, dst: str, timeout: float = 20) -> None:
    """Poll until src pings dst.  BGP Established does not mean the flood
    list (type-3) is in every kernel yet, and a lost first ARP is only
    retried after 1 s: one ping is not a reachability check."""
    lab.wait_for(lambda: ping(lab, src, dst, count=1), timeout=timeout,
                 what=f"{src} -> {dst} ping", interval=0.1)


def traffic_round(lab, peers, log=None) -> dict[str, bool]:
    """Ping and a TCP echo flow, both directions, between VM210 and each peer."""
    res = {}
    for p in peers:
        for a, b in ((p, "vm210"), ("vm210", p)):
            res[f"ping {a}->{b}"] = ping(lab, a, b)
            res[f"tcp {a}->{b}"] = tcp_flow(lab, a, b)
            if log:
                log(f"{a:>6} -> {b:<6} ping {'ok' if res[f'ping {a}->{b}'] else 'FAILED'}, "
                    f"TCP echo flow {'ok' if res[f'tcp {a}->{b}'] else 'FAILED'}")
    return res


def where_is(lab, host: str) -> str:
    """The leaf a host is plugged into now."""
    for l in lab.links:
        ends = {l.a[0], l.b[0]}
        if host in ends:
            (other,) = ends - {host}
            return other
    raise KeyError(host)


def gbp_copies(pkts: list[Pkt]) -> list[tuple[str, int, int]]:
    """(outer destination, VNI, Group Policy ID) of the VXLAN-GBP mirror copies
    captured on the spine (SLL2 L3 packets, outgoing only: once per copy)."""
    out = []
    for p in pkts:
        f = p.frame
        if not p.outgoing or p.ethertype != 0x0800 or p.proto != 17 or len(f) < 36:
            continue
        ihl = (f[0] & 15) * 4
        vx = f[ihl + 8:ihl + 16]
        if len(vx) < 8:
            continue
        gpid = struct.unpack("!H", vx[2:4])[0] if vx[0] & 0x80 else -1
        vni = int.from_bytes(vx[4:7], "big")
        out.append((p.ip_dst, vni, gpid))
    return out


def mirrored_exchange(lab, peers, tag: str, outdir: Path, log=None, quiet: float = 0.5,
                      underlay: bool = False):
    """Capture at VM210's port and at SERV21's port (and with underlay=True the
    mirror copies crossing the spine) while traffic_round runs; returns the
    comparison, the traffic results and SERV21's pcap (and the copies seen on
    the spine: [(outer destination, VNI, Group Policy ID)]).
    After the traffic, the captures stop once every frame seen at VM210's
    port has its copy at SERV21 (at most 5 s) and then no capture has grown
    for `quiet` seconds: a late copy, duplicate or unexpected, lands in
    that window.
    Frames from the host behind the stock leaf are left out of the
    comparison unless it is one of the peers: they enter the fabric where
    nothing mirrors (a stray one, e.g. its unicast ARP probe of VM210, may
    land in any window); test_interop checks them on purpose."""
    outdir.mkdir(parents=True, exist_ok=True)
    ignore = () if STOCK_HOST in peers else (HOSTS[STOCK_HOST][0],)
    hleaf, sleaf = where_is(lab, "vm210"), where_is(lab, "serv21")
    hif = lab.link_of("vm210", hleaf).iface("vm210")
    sif = lab.link_of("serv21", sleaf).iface("serv21")
    hp, sp = outdir / f"{tag}-vm210.pcap", outdir / f"{tag}-serv21.pcap"
    backlog_before = backlog_drops()
    with contextlib.ExitStack() as st:
        ch = st.enter_context(Capture(lab, "vm210", hif, hp))
        cs = st.enter_context(Capture(lab, "serv21", sif, sp))
        cu = st.enter_context(Capture(lab, "spine", "any", outdir / f"{tag}-spine.pcap",
                                      "udp port 4790")) if underlay else None
        res = traffic_round(lab, peers, log)
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline
               and compare(read_pcap(hp), read_pcap(sp), ignore).missing):
            time.sleep(0.05)
        for path in (hp, sp) + ((cu.path,) if cu else ()):
            wait_quiet(path, quiet, 10)
        spk = cs.stop()
        hpk = ch.stop()
        upk = cu.stop() if cu else None
    cmp = compare(hpk, spk, ignore)
    cmp.losses = (f"frames tcpdump lost: at VM210's port {ch.dropped}, at SERV21's {cs.dropped}; "
                  f"frames the kernel's input backlog dropped meanwhile, any netns: "
                  f"{backlog_drops() - backlog_before}")
    if underlay:
        return cmp, res, sp, gbp_copies(upk)
    return cmp, res, sp


def backlog_drops() -> int:
    """Frames dropped for a full per-CPU input backlog (netdev_max_backlog),
    every namespace: the second column of /proc/net/softnet_stat, summed."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f if line.strip())


@dataclass
class Losses:
    """What the kernel and the captures said they lost during a run: frames
    missing while these are 0 were lost where nothing counts (or by the
    product); while not, they may be the kernel's or tcpdump's."""
    backlog_drops: int = 0                              # input backlog, every namespace
    capture_drops: dict = field(default_factory=dict)   # node -> tcpdump's own drops

    def __str__(self) -> str:
        return (f"input backlog drops during the run {self.backlog_drops}, "
                f"tcpdump's own drops {self.capture_drops}")


def losses_since(backlog_before: int, captures: dict[str, "Capture"]) -> Losses:
    """Losses of a run that began when backlog_drops() was backlog_before,
    with the given (stopped) captures, by node."""
    return Losses(backlog_drops() - backlog_before,
                  {n: c.dropped for n, c in captures.items()})


def tshark_summary(pcap: Path, limit: int = 12) -> str:
    """A short summary of what SERV21 received (conversations + first frames)."""
    if not shutil_which("tshark"):
        return "(tshark not installed)"
    conv = subprocess.run(["tshark", "-n", "-r", str(pcap), "-q", "-z", "conv,ip"],
                          capture_output=True, text=True, timeout=60).stdout
    lines = subprocess.run(["tshark", "-n", "-r", str(pcap), "-c", str(limit)],
                           capture_output=True, text=True, timeout=60).stdout
    keep = [l for l in conv.splitlines() if l.strip() and not l.startswith("=")]
    return "\n".join(keep + ["first frames:"] + lines.rstrip().splitlines())


def shutil_which(x: str) -> str | None:
    import shutil
    return shutil.which(x)


# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    try:
        for l in Path(f"/proc/{pid}/status").read_text().splitlines():
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0


def bpf_memlock_kib(pid: int) -> int:
    """memlock of the BPF maps a process holds (fdinfo), in KiB."""
    total, seen = 0, set()
    fd_dir = Path(f"/proc/{pid}/fdinfo")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                info = dict(l.split(":", 1) for l in fd.read_text().splitlines() if ":" in l)
                if "map_id" in info and "memlock" in info:
                    mid = info["map_id"].strip()
                    if mid not in seen:
                        seen.add(mid)
                        total += int(info["memlock"].strip())
    return total // 1024


def fabric_memory(lab) -> dict[str, int]:
    """KiB: RSS per process kind summed over the fabric, plus BPF maps."""
    out: dict[str, int] = {}
    for (node, name), p in list(lab.procs.items()):
        pid = p.pid if hasattr(p, "pid") else int(p)
        if name.startswith("echo") or name.startswith("ping"):
            continue
        out[name] = out.get(name, 0) + rss_kib(pid)
        if name == "fpm-consumer":
            out["bpf-maps"] = out.get("bpf-maps", 0) + bpf_memlock_kib(pid)
    out["total"] = sum(v for k, v in out.items() if k != "total")
    return out


# ---------------------------------------------------------------------------
# convergence measurements (pcap timestamps and time.time() share one clock)
# ---------------------------------------------------------------------------

class Pinger:
    """Continuous ping (interval 5 ms) from a host, tracked by the lab."""

    def __init__(self, lab, src: str, dst: str, interval: float = 0.005, name: str = ""):
        self.lab, self.src = lab, src
        self.name = name or f"ping-{dst}"
        lab.spawn(src, ["ping", "-n", "-q", "-i", str(interval), HOSTS[dst][1]], name=self.name)

    def stop(self):
        self.lab.kill_process(self.src, self.name, timeout=3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _first(pkts, t0, pred):
    for p in pkts:
        if p.ts >= t0 and pred(p):
            return p.ts
    return None


def _garp_ts(pkts, ip, t0):
    return _first(pkts, t0, lambda p: p.ethertype == 0x0806 and p.outgoing
                  and p.arp_spa == ip and p.arp_tpa == ip)


def measure_config(lab, outdir: Path, configure=None, pinger: str = "vm220") -> float:
    """Seconds from the vtysh configuration to the first mirrored packet at
    SERV21 (continuous 5 ms ping pinger -> VM210 running)."""
    sleaf = where_is(lab, "serv21")
    sif = lab.link_of("serv21", sleaf).iface("serv21")
    with Pinger(lab, pinger, "vm210", name="ping-cfg"):
        time.sleep(0.3)
        with Capture(lab, "serv21", sif, outdir / "config-serv21.pcap",
                     f"icmp and host {VM210_IP}") as cs:
            time.sleep(0.3)
            t0 = time.time()
            (configure or (lambda: lab.configure("vtep101", monitor_config())))()
            deadline = time.monotonic() + 20
            pk = []
            while time.monotonic() < deadline:
                time.sleep(0.3)
                pk = read_pcap(cs.path)
                if _first(pk, t0, lambda p: True):
                    break
            pk = cs.stop()
    t = _first(pk, t0, lambda p: p.ip_src == VM210_IP or p.ip_dst == VM210_IP)
    if t is None:
        raise AssertionError("no mirrored packet at SERV21 within 20 s of the configuration")
    return t - t0


def vxlan_inner(p: Pkt) -> tuple[str, bytes] | None:
    """(outer destination, inner Ethernet frame) of a VXLAN packet captured on
    an underlay port, else None."""
    f = p.frame
    if p.ethertype != 0x0800 or len(f) < 14 + 20 + 8 + 8 + 14:
        return None
    ihl = (f[14] & 15) * 4
    if f[14 + 9] != 17:
        return None
    return socket.inet_ntoa(f[30:34]), f[14 + ihl + 8 + 8:]


def first_known_unicast(pkts: list[Pkt], t0: float, mac: str, vtep: str) -> float | None:
    """First VXLAN packet after t0 carrying a frame to `mac` sent to `vtep`
    only (not a flood copy, which goes to every VTEP of the flood list): the
    sending leaf's FDB points `mac` at `vtep` (the type-2 route arrived)."""
    dsts: dict[bytes, set] = {}
    first: dict[bytes, float] = {}
    for p in pkts:
        if p.ts < t0:
            continue
        v = vxlan_inner(p)
        if v is None or _mac(v[1][0:6]) != mac:
            continue
        dsts.setdefault(v[1], set()).add(v[0])
        first.setdefault(v[1], p.ts)
    ok = [first[f] for f, d in dsts.items() if d == {vtep}]
    return min(ok) if ok else None


def wait_gates(lab, timeout: float = 40) -> float:
    """Wait until every consumer has opened its gates (feed snapshot, local
    MAC dump, FPM resynced); returns the seconds waited."""
    t0 = time.monotonic()
    lab.wait_for(lambda: all(all(ctl_json(lab, n, "status").get("gates", {}).values())
                             and ctl_json(lab, n, "status").get("gates")
                             for n in LEAVES), timeout=timeout, what="consumer gates open",
                 interval=0.25)
    return time.monotonic() - t0


def wait_restarted(lab, node: str, timeout: float = 40) -> None:
    """After node's consumer restarted: every gate open and its first
    reconcile done. Until then it shows the entries it adopted from the
    dataplane, which may be the right ones by luck of the old process."""
    wait_gates(lab, timeout)
    lab.wait_for(lambda: counters(lab, node).get("reconciles", 0) >= 1, timeout=timeout,
                 what=f"{node}'s restarted consumer's first reconcile", interval=0.1)


@dataclass
class Move:
    fabric: float          # GARP -> the fabric's type-2 MAC move (known unicast to the new VTEP)
    mirror: float          # GARP -> mirroring resumed
    unmirrored: int        # packets to/from VM210 in between that the server never got
    port: str              # the moved host's new leaf port

    def __str__(self):
        return (f"type-2 MAC move {1000 * self.fabric:.0f} ms, mirroring resumed "
                f"{1000 * self.mirror:.0f} ms, {self.unmirrored} packets not mirrored meanwhile")


def _vm210_resumed(spk, hpk, tg):
    """(first packet VM210 sent at its new port after the GARP tg whose copy
    reached SERV21, packets it sent before that)."""
    copies = {p.frame[14:] for p in spk}
    gap = 0
    for p in hpk:
        if p.ts >= tg and p.outgoing and p.ethertype == 0x0800:
            if p.frame in copies:
                return p.ts, gap
            gap += 1
    return None, gap


def measure_move(lab, who: str, from_leaf: str, to_leaf: str, outdir: Path, tag: str,
                 timeout: float = 15) -> Move:
    """Move VM210 or SERV21 (link moved + gratuitous ARP) under traffic
    (continuous 5 ms pings) and time it against the GARP:
      fabric: first known-unicast VXLAN frame to the moved MAC sent by a
              third leaf to the new VTEP (the fabric's own type-2 move);
      mirror: VM210 moved: first packet VM210 sends at its new port whose
              copy reaches SERV21 (entry 1 of the new leaf);
              SERV21 moved: first copy of VM210's traffic at its new port.
    The captures start once copies reach SERV21 and stop once both times
    are found (or `timeout` after the move).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    sleaf = where_is(lab, "serv21")
    mac = HOSTS[who][0]
    is_copy = lambda p: not p.outgoing and (p.ip_src == VM210_IP or p.ip_dst == VM210_IP)  # noqa: E731
    if who == "vm210":
        pinger = next(h for h in ("vm230", "vm240", "vm220") if where_is(lab, h) not in
                      (from_leaf, to_leaf, sleaf))
        sif = lab.link_of("serv21", sleaf).iface("serv21")
        pleaf = where_is(lab, pinger)
        with Pinger(lab, pinger, "vm210", name="ping-move"):
            with Capture(lab, "vm210", "any", outdir / f"{tag}-vm210-any.pcap", "icmp or arp") as ch, \
                 Capture(lab, pleaf, "eth1", outdir / f"{tag}-{pleaf}-underlay.pcap",
                         "udp port 4789") as cu, \
                 Capture(lab, "serv21", sif, outdir / f"{tag}-serv21.pcap",
                         f"host {VM210_IP}") as cs:
                lab.wait_for(lambda: read_pcap(cs.path), 10, f"{tag}: copies before the move",
                             interval=0.05)
                t0 = time.time()
                port = lab.move_link("vm210", from_leaf, to_leaf)

                def found():
                    tg = _garp_ts(read_pcap(ch.path), VM210_IP, t0)
                    return tg is not None and \
                        _vm210_resumed(read_pcap(cs.path), read_pcap(ch.path), tg)[0] and \
                        first_known_unicast(read_pcap(cu.path), tg, mac, VTEP_IP[to_leaf])
                with contextlib.suppress(Exception):    # the checks below say what is missing
                    lab.wait_for(found, timeout, f"{tag}: the move's times", interval=0.1)
                spk, upk, hpk = cs.stop(), cu.stop(), ch.stop()
        tg = _garp_ts(hpk, VM210_IP, t0)
        if tg is None:
            raise AssertionError(f"{tag}: no gratuitous ARP seen from {who}")
        tm, gap = _vm210_resumed(spk, hpk, tg)
    else:
        pinger = next(h for h in ("vm220", "vm230", "vm240") if where_is(lab, h) not in
                      (from_leaf, to_leaf))
        pleaf = where_is(lab, pinger)
        with Pinger(lab, pinger, "vm210", name="ping-mon"), \
             Pinger(lab, pinger, "serv21", name="ping-srv"):
            with Capture(lab, "serv21", "any", outdir / f"{tag}-serv21-any.pcap",
                         "icmp or arp") as cs, \
                 Capture(lab, pleaf, "eth1", outdir / f"{tag}-{pleaf}-underlay.pcap",
                         "udp port 4789") as cu:
                lab.wait_for(lambda: _first(read_pcap(cs.path), 0, is_copy), 10,
                             f"{tag}: copies before the move", interval=0.05)
                t0 = time.time()
                port = lab.move_link("serv21", from_leaf, to_leaf)

                def found():
                    pk = read_pcap(cs.path)
                    tg = _garp_ts(pk, SERV21_IP, t0)
                    return tg is not None and _first(pk, tg, is_copy) and \
                        first_known_unicast(read_pcap(cu.path), tg, mac, VTEP_IP[to_leaf])
                with contextlib.suppress(Exception):
                    lab.wait_for(found, timeout, f"{tag}: the move's times", interval=0.1)
                spk, upk = cs.stop(), cu.stop()
        tg = _garp_ts(spk, SERV21_IP, t0)
        if tg is None:
            raise AssertionError(f"{tag}: no gratuitous ARP seen from {who}")
        tm = _first(spk, tg, is_copy)
        # pings pinger <-> VM210 (request + reply) sent meanwhile: 2 per 5 ms
        gap = int(2 * (tm - tg) / 0.005) if tm else -1
    tf = first_known_unicast(upk, tg, mac, VTEP_IP[to_leaf])
    if tf is None:
        raise AssertionError(f"{tag}: {pleaf} never sent known unicast to {who} at {to_leaf}")
    if tm is None:
        raise AssertionError(f"{tag}: mirroring did not resume within {timeout} s of the move")
    return Move(tf - tg, tm - tg, gap, port)


@contextlib.contextmanager
def ready_fabric(pings: list[tuple[str, str]], echo_hosts: list[str],
                 test_heap: bool = True):
    """The reference fabric as every scenario starts: all BGP sessions up,
    hosts quiet, the given pairs reachable before any monitoring, TCP echo
    servers on echo_hosts, every consumer past its start-up gates.  With
    test_heap, FRR and the consumers fill freed memory (clabns.TEST_HEAP)."""
    import sys
    sys.path.insert(0, str(REPO / "tests" / "lab"))
    from clabns import TEST_HEAP, Lab
    # A missing build is a failure, not a skip: these tests must be able to fail.
    assert (Path(FRR_PREFIX) / "bin").exists(), f"no patched FRR build at {FRR_PREFIX}"
    assert CTL.exists(), f"no evpnmon-ctl at {CTL}"
    # EVPNMON_CONSUMER_BIN: run another fpm-consumer build (e.g. a mutant,
    # to show that a test fails when the product is wrong)
    with Lab(TOPOLOGY, frr_prefix=FRR_PREFIX, stock_ok=False, require_extras=True,
             consumer_bin=os.environ.get("EVPNMON_CONSUMER_BIN") or None,
             **(TEST_HEAP if test_heap else {})) as lab:
        bring_up_wait(lab)
        quiet_hosts(lab)
        for a, b in pings:
            wait_reachable(lab, a, b)       # before any monitoring
        start_echo_servers(lab, echo_hosts)
        wait_gates(lab)
        yield lab
