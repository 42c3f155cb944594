"""Helpers of the evpnmon-collector end-to-end tests (tests/collector/test_*.py,
bench/collector/bench_ingest.py, scripts/demo.py): running the collector and
its `watch --json` subscriber inside a network namespace, a dependency-free
pcapng reader (every block and option the collector writes), the tshark and
capinfos checks of every file, Prometheus scrapes, and the TCP handshake
oracle (tshark's tcp.analysis.initial_rtt on the collector's own files).

The collector is started and stopped here (not through the lab's process
table) so that a test can send SIGTERM and check that it exits 0 after
closing its files.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("EVPNMON_BUILD_DIR") or REPO / "build")
COLLECTOR_BIN = Path(os.environ.get("EVPNMON_COLLECTOR_BIN") or
                     BUILD / "collector" / "evpnmon-collector")
REPLAY_BIN = BUILD / "collector" / "bench" / "evpnmon-erspan-replay"

DIR_INBOUND, DIR_OUTBOUND = 1, 2          # epb_flags bits 1-0


def run_options() -> str:
    """`evpnmon-collector run --help` (which inputs this build has)."""
    if not COLLECTOR_BIN.exists():
        return ""
    cp = subprocess.run([str(COLLECTOR_BIN), "run", "--help"], capture_output=True, text=True,
                        timeout=10)
    return cp.stdout + cp.stderr


def wait_for(pred, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# pcapng
# ---------------------------------------------------------------------------

@dataclass
class Interface:
    linktype: int
    snaplen: int
    name: str = ""
    description: str = ""
    tsresol: int = 6                 # decimal exponent (if_tsresol without the MSB)


@dataclass
class Epb:
    interface: int                   # index into the file's interfaces
    ts_ns: int
    caplen: int
    orig_len: int
    data: bytes
    flags: int | None = None         # epb_flags
    dropcount: int | None = None     # epb_dropcount
    comments: list[str] = field(default_factory=list)

    @property
    def direction(self) -> int:
        return (self.flags or 0) & 3


@dataclass
class Isb:
    interface: int
    ts_ns: int
    options: dict[int, bytes]

    def u64(self, code: int) -> int | None:
        v = self.options.get(code)
        return struct.unpack("<Q", v[:8])[0] if v is not None and len(v) >= 8 else None

    @property
    def ifdrop(self) -> int | None:
        return self.u64(5)

    @property
    def ifrecv(self) -> int | None:
        return self.u64(4)


@dataclass
class PcapngFile:
    path: Path
    interfaces: list[Interface]
    packets: list[Epb]
    isbs: list[Isb]
    sections: int
    problems: list[str]

    def ifname(self, p: Epb) -> str:
        return self.interfaces[p.interface].name


def _options(body: bytes) -> list[tuple[int, bytes]]:
    out, off = [], 0
    while off + 4 <= len(body):
        code, ln = struct.unpack_from("<HH", body, off)
        off += 4
        if code == 0:
            break
        out.append((code, body[off:off + ln]))
        off += (ln + 3) & ~3
    return out


def read_pcapng(path: Path) -> PcapngFile:
    """Every SHB/IDB/EPB/ISB of a little-endian pcapng file (what the
    collector writes); anything malformed is listed in `problems`."""
    data = Path(path).read_bytes()
    ifs: list[Interface] = []
    pkts: list[Epb] = []
    isbs: list[Isb] = []
    probs: list[str] = []
    sections, off = 0, 0
    while off < len(data):
        if off + 12 > len(data):
            probs.append(f"{len(data) - off} trailing octets at {off}")
            break
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 0x0A0D0D0A:
            bom = struct.unpack_from("<I", data, off + 8)[0]
            if bom != 0x1A2B3C4D:
                probs.append(f"section at {off}: byte order magic {bom:#x} (want little endian)")
                break
            sections += 1
            ifs = [] if sections == 1 else ifs   # one section per file expected
        if blen < 12 or blen % 4 or off + blen > len(data):
            probs.append(f"block type {btype:#x} at {off}: length {blen}")
            break
        if struct.unpack_from("<I", data, off + blen - 4)[0] != blen:
            probs.append(f"block at {off}: trailing length differs")
        body = data[off + 8:off + blen - 4]
        if btype == 1:                                           # IDB
            lt, _res, snap = struct.unpack_from("<HHI", body, 0)
            i = Interface(lt, snap)
            for code, v in _options(body[8:]):
                if code == 2:
                    i.name = v.decode(errors="replace")
                elif code == 3:
                    i.description = v.decode(errors="replace")
                elif code == 9 and v:
                    if v[0] & 0x80:
                        probs.append(f"IDB {len(ifs)}: binary if_tsresol {v[0]:#x}")
                    i.tsresol = v[0] & 0x7F
            ifs.append(i)
        elif btype == 6:                                         # EPB
            ifid, hi, lo, cap, orig = struct.unpack_from("<IIIII", body, 0)
            raw = body[20:20 + cap]
            if ifid >= len(ifs):
                probs.append(f"EPB at {off}: interface {ifid} not defined")
                tsres = 9
            else:
                tsres = ifs[ifid].tsresol
            units = (hi << 32) | lo
            ts = units * 10 ** (9 - tsres) if tsres <= 9 else units // 10 ** (tsres - 9)
            p = Epb(ifid, ts, cap, orig, raw)
            for code, v in _options(body[20 + ((cap + 3) & ~3):]):
                if code == 2 and len(v) >= 4:
                    p.flags = struct.unpack("<I", v[:4])[0]
                elif code == 4 and len(v) >= 8:
                    p.dropcount = struct.unpack("<Q", v[:8])[0]
                elif code == 1:
                    p.comments.append(v.decode(errors="replace"))
            if cap > orig:
                probs.append(f"EPB at {off}: captured {cap} > original {orig}")
            pkts.append(p)
        elif btype == 5:                                         # ISB
            ifid, hi, lo = struct.unpack_from("<III", body, 0)
            isbs.append(Isb(ifid, ((hi << 32) | lo), dict(_options(body[12:]))))
        elif btype not in (0x0A0D0D0A, 3, 4, 2):
            probs.append(f"unexpected block type {btype:#x} at {off}")
        off += blen
    if sections != 1:
        probs.append(f"{sections} section header blocks")
    return PcapngFile(Path(path), ifs, pkts, isbs, sections, probs)


def session_files(root: Path, session: str) -> list[Path]:
    """The files of one session's file set, oldest first (names carry the
    UTC start time and a counter: name order is creation order)."""
    d = Path(root) / session
    return sorted(d.glob(f"{session}_*.pcapng")) if d.is_dir() else []


def tool_problems(path: Path, want_packets: int) -> list[str]:
    """Open the file with capinfos and tshark: both must read it without an
    error and count `want_packets` packets."""
    probs = []
    cp = subprocess.run(["capinfos", "-M", "-c", "-T", "-r", str(path)],
                        capture_output=True, text=True, timeout=60)
    if cp.returncode != 0:
        probs.append(f"capinfos rc {cp.returncode}: {cp.stderr.strip()[-300:]}")
    else:
        n = int(cp.stdout.split("\t")[-1].strip() or -1)
        if n != want_packets:
            probs.append(f"capinfos counts {n} packets, the file has {want_packets} EPBs")
    cp = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                        capture_output=True, text=True, timeout=120)
    err = "\n".join(l for l in cp.stderr.splitlines() if "Running as user" not in l)
    if cp.returncode != 0 or "appears to be damaged" in err or "cut short" in err:
        probs.append(f"tshark rc {cp.returncode}: {err.strip()[-300:]}")
    elif len(cp.stdout.split()) != want_packets:
        probs.append(f"tshark reads {len(cp.stdout.split())} frames, the file has "
                     f"{want_packets} EPBs")
    return probs


def check_files(paths: list[Path]) -> tuple[list[PcapngFile], dict[str, list[str]]]:
    """Parse every file and open it with capinfos and tshark; returns the
    parsed files and the problems per file."""
    files, probs = [], {}
    for p in paths:
        f = read_pcapng(p)
        pr = list(f.problems) + tool_problems(p, len(f.packets))
        names = [i.name for i in f.interfaces]
        if len(set(names)) != len(names):
            pr.append(f"interface names repeated in one file: {names}")
        for i in f.interfaces:
            if i.tsresol != 9:
                pr.append(f"interface {i.name}: if_tsresol {i.tsresol}, want 9 (ns)")
            if i.linktype != 1:
                pr.append(f"interface {i.name}: linktype {i.linktype}, want 1 (Ethernet)")
        if pr:
            probs[p.name] = pr
        files.append(f)
    return files, probs


def initial_rtts(paths: list[Path], workdir: Path) -> dict[tuple, float]:
    """tshark's tcp.analysis.initial_rtt (seconds) per connection
    (orig ip, orig port, resp ip, resp port) over the files concatenated in
    order (a handshake may straddle a rotation)."""
    if not paths:
        return {}
    merged = workdir / "merged-for-tshark.pcapng"
    subprocess.run(["mergecap", "-a", "-F", "pcapng", "-w", str(merged), *map(str, paths)],
                   check=True, capture_output=True, timeout=120)
    cp = subprocess.run(["tshark", "-n", "-r", str(merged), "-Y",
                         "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                         "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "tcp.srcport",
                         "-e", "ip.dst", "-e", "tcp.dstport"],
                        capture_output=True, text=True, timeout=120, check=True)
    streams = {}
    for line in cp.stdout.splitlines():
        s, a, ap, b, bp = line.split("\t")
        streams.setdefault(int(s), (a, int(ap), b, int(bp)))
    cp = subprocess.run(["tshark", "-n", "-r", str(merged), "-Y", "tcp.analysis.initial_rtt",
                         "-T", "fields", "-e", "tcp.stream", "-e", "tcp.analysis.initial_rtt"],
                        capture_output=True, text=True, timeout=120, check=True)
    out = {}
    for line in cp.stdout.splitlines():
        s, rtt = line.split("\t")
        if int(s) in streams and streams[int(s)] not in out:
            out[streams[int(s)]] = float(rtt)
    return out


# ---------------------------------------------------------------------------
# the collector and its subscriber
# ---------------------------------------------------------------------------

class CollectorProc:
    """evpnmon-collector run ... in a namespace (prefix = the command that
    enters it, e.g. ["ip", "netns", "exec", NS]); output to `log`."""

    def __init__(self, prefix: list[str], args: list[str], log: Path,
                 metrics: str = "127.0.0.1:9521", cpu: int | None = None):
        assert COLLECTOR_BIN.exists(), f"no collector binary at {COLLECTOR_BIN}"
        self.prefix, self.log, self.metrics = prefix, Path(log), metrics
        self.argv = [str(COLLECTOR_BIN), "run", *args, "--metrics", metrics]
        if cpu is not None:
            self.argv = ["taskset", "-c", str(cpu), *self.argv]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([*prefix, *self.argv], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out, start_new_session=True)
        finally:
            out.close()
        self.returncode: int | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 15) -> str:
        """Until the metrics endpoint answers (inputs open, loop running);
        returns the start-up log line that lists the inputs."""
        def line():
            return [l for l in self.output().splitlines() if re.search(r"\binputs\b", l)]

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited rc={self.proc.returncode}:\n"
                                     f"{self.output()[-2000:]}")
            return line() and self.scrape() is not None
        wait_for(ready, timeout, "the collector's start-up line (its inputs) and metrics")
        return line()[0]

    def scrape(self) -> dict[str, float] | None:
        """Prometheus text -> {'name{labels}': value} (None: no answer)."""
        cp = subprocess.run([*self.prefix, "curl", "-s", "-m", "2",
                             f"http://{self.metrics}/metrics"],
                            capture_output=True, text=True, timeout=10)
        if cp.returncode != 0 or not cp.stdout:
            return None
        out = {}
        for line in cp.stdout.splitlines():
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[k.strip()] = float(v)
        return out

    def metric(self, name: str, **labels) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        m = self.scrape() or {}
        tot = 0.0
        for k, v in m.items():
            base, _, rest = k.partition("{")
            if base != name:
                continue
            lab = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
            if all(lab.get(a) == str(b) for a, b in labels.items()):
                tot += v
        return tot

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM (files closed with their ISBs, SHUTDOWN records); the exit
        status (SIGKILL after `timeout`: then the status is negative)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        return self.returncode

    def cpu_seconds(self) -> float:
        """user + system CPU seconds of the (running) collector process."""
        pid = self.proc.pid
        # `taskset` / `ip netns exec` exec() the collector: same pid
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Watch:
    """`evpnmon-collector watch --json` in a namespace, its lines collected
    in a file; envelopes() parses what arrived so far."""

    def __init__(self, prefix: list[str], endpoint: str, out: Path):
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.out, "wb")
        try:
            self.proc = subprocess.Popen([*prefix, str(COLLECTOR_BIN), "watch", "--connect",
                                          endpoint, "--json"], stdin=subprocess.DEVNULL,
                                         stdout=fh, stderr=subprocess.PIPE,
                                         start_new_session=True)
        finally:
            fh.close()

    def envelopes(self) -> list[dict]:
        out = []
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def wait_connected(self, timeout: float = 15) -> None:
        """Until the first envelope (the periodic status) arrived: from then
        on nothing published is missed (ZeroMQ drops what a subscriber not
        yet connected would have got)."""
        def got():
            if self.proc.poll() is not None:
                raise AssertionError(f"watch exited rc={self.proc.returncode}: "
                                     f"{self.proc.stderr.read().decode(errors='replace')}")
            return self.envelopes()
        wait_for(got, timeout, "the first envelope at `watch --json`")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(Exception):
            self.proc.stderr.close()


def u(v) -> int:
    """A protobuf JSON integer (64-bit ones are strings)."""
    return int(v) if v not in (None, "") else 0


def tcp_records(envs: list[dict], event: str | None = None) -> list[dict]:
    return [e["tcp"] for e in envs
            if "tcp" in e and (event is None or e["tcp"].get("event") == event)]


def conn_key(r: dict) -> tuple:
    return (r.get("id_orig_h"), u(r.get("id_orig_p")), r.get("id_resp_h"), u(r.get("id_resp_p")))


def last_session_stats(envs: list[dict]) -> dict[str, dict]:
    """The latest SessionStats per session name."""
    out = {}
    for e in envs:
        if "session" in e:
            out[e["session"].get("session", {}).get("name", "")] = e["session"]
    return out


def last_status(envs: list[dict]) -> dict:
    st = [e["status"] for e in envs if "status" in e]
    return st[-1] if st else {}


def erspan_ts_ns(frame: bytes) -> tuple[str, int, int, int, bytes] | None:
    """(outer source, GRE sequence, ERSPAN III timestamp in ns, D bit,
    inner frame) of an Ethernet/IPv4/GRE/ERSPAN III frame with the platform
    subheader 3/7 and Gra 01; None otherwise. Independent of the collector's
    decoder: the tests' oracle."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00" or frame[23] != 47:
        return None
    ihl = (frame[14] & 15) * 4
    g = 14 + ihl
    flags, proto = struct.unpack_from("!HH", frame, g)
    if flags != 0x1000 or proto != 0x22EB:
        return None
    seq = struct.unpack_from("!I", frame, g + 4)[0]
    e = g + 8
    w0, lo, w2 = struct.unpack_from("!III", frame, e)
    if w0 >> 28 != 2 or (w2 >> 1) & 3 != 1 or not w2 & 1:
        return None
    sub0, hi = struct.unpack_from("!II", frame, e + 12)
    if sub0 >> 26 not in (3, 7):
        return None
    src = ".".join(str(b) for b in frame[26:30])
    return src, seq, ((hi << 32) | lo) * 100, (w2 >> 3) & 1, frame[e + 20:]


def which(x: str) -> bool:
    return shutil.which(x) is not None


def by_source(files: list[PcapngFile]) -> dict[str, list[Epb]]:
    out = defaultdict(list)
    for f in files:
        for p in f.packets:
            out[f.ifname(p)].append(p)
    return out


# ---------------------------------------------------------------------------
# two namespaces and a veth: a replayed stream, no fabric
# ---------------------------------------------------------------------------

class VethPair:
    """Namespaces <tag>-tx and <tag>-rx joined by a veth (ctx <-> crx); rx
    has the collector address 10.9.0.1 on lo and routes the VTEP addresses
    (10.0.0.0/8) back through the veth, so the copies pass its IP input as
    they would at a collector on an underlay. rps_cpu: steer rx's receive
    processing (softirq) to that CPU."""

    def __init__(self, tag: str = "evpnmon-crep", rps_cpu: int | None = None):
        self.tx, self.rx = f"{tag}-tx", f"{tag}-rx"
        for n in (self.tx, self.rx):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        sh = [
            f"ip netns add {self.tx}", f"ip netns add {self.rx}",
            f"ip link add ctx netns {self.tx} type veth peer name crx netns {self.rx}",
            f"ip -n {self.tx} link set lo up", f"ip -n {self.rx} link set lo up",
            f"ip -n {self.tx} link set ctx up", f"ip -n {self.rx} link set crx up",
            f"ip -n {self.rx} addr add 10.9.0.1/32 dev lo",
            f"ip -n {self.rx} addr add 10.1.0.11/31 dev crx",
            f"ip -n {self.tx} addr add 10.1.0.10/31 dev ctx",
            f"ip -n {self.rx} route add 10.0.0.0/8 via 10.1.0.10 dev crx",
            f"ip netns exec {self.rx} sysctl -qw net.ipv4.conf.all.rp_filter=0 "
            f"net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.crx.rp_filter=0",
        ]
        if rps_cpu is not None:
            sh.append(f"ip netns exec {self.rx} sh -c 'echo {1 << rps_cpu:x} > "
                      f"/sys/class/net/crx/queues/rx-0/rps_cpus'")
        try:
            for c in sh:
                subprocess.run(c, shell=True, check=True, capture_output=True, timeout=20)
        except BaseException:
            self.close()
            raise
        j = subprocess.run(["ip", "-n", self.rx, "-j", "link", "show", "crx"], check=True,
                           capture_output=True, text=True).stdout
        self.rx_mac = json.loads(j)[0]["address"]

    def prefix(self, side: str) -> list[str]:
        return ["ip", "netns", "exec", self.rx if side == "rx" else self.tx]

    def replay(self, *args: str, cpu: int | None = None, timeout: float = 120) -> dict:
        """evpnmon-erspan-replay ctx <rx MAC> ARGS in tx; its JSON summary."""
        assert REPLAY_BIN.exists(), f"no replay tool at {REPLAY_BIN}"
        argv = [*self.prefix("tx"), *(["taskset", "-c", str(cpu)] if cpu is not None else []),
                str(REPLAY_BIN), "ctx", self.rx_mac, *args]
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        assert cp.returncode == 0, f"replay failed: {cp.stderr}"
        return json.loads(cp.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        for n in (self.tx, self.rx):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Tcpdump:
    """tcpdump -w in a namespace (nanosecond timestamps), started when it
    listens; stop() returns its "captured / dropped by kernel" counts."""

    def __init__(self, prefix: list[str], iface: str, path: Path, extra: list[str] = (),
                 cpu: int | None = None, nano: bool = True):
        self.path = Path(path)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        argv = [*prefix, *(["taskset", "-c", str(cpu)] if cpu is not None else []),
                "tcpdump", "-n", "-i", iface, "-Z", "root",
                *(["--time-stamp-precision=nano"] if nano else []), *extra, "-w", str(self.path)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if b"listening on" in line or not line:
                break
        assert self.proc.poll() is None, "tcpdump did not start"

    def cpu_seconds(self) -> float:
        f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> dict[str, int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _o, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _o, err = self.proc.communicate(timeout=5)
        out = {}
        for line in err.decode(errors="replace").splitlines():
            m = re.match(r"(\d+) packets? (captured|received by filter|dropped by kernel)", line)
            if m:
                out[m.group(2)] = int(m.group(1))
        return out


# ---------------------------------------------------------------------------
# RoCEv2 frames with known counts
# ---------------------------------------------------------------------------

def roce_frames(src_mac: str, dst_mac: str, sip: str, dip: str, qp: int, opcode: int,
                count: int, marks, syndrome: int | None = None, psn0: int = 100) -> list[bytes]:
    """`count` RoCEv2 frames (UDP 4791) to destination QP `qp`: BTH with
    `opcode` (+ AETH with `syndrome`), PSN psn0, psn0+1, ...; each carries
    the next marker of the iterator `marks` after its headers."""
    from scapy.all import IP, UDP, Ether, Raw, raw
    from scapy.contrib.roce import AETH, BTH
    out = []
    for i in range(count):
        bth = BTH(opcode=opcode, dqpn=qp, psn=psn0 + i, becn=1 if opcode == 0x81 else 0)
        l5 = bth / AETH(syndrome=syndrome, msn=i) if syndrome is not None else bth
        out.append(raw(Ether(src=src_mac, dst=dst_mac) / IP(src=sip, dst=dip) /
                       UDP(sport=49152 + i, dport=4791) / l5 / Raw(next(marks) + bytes(8))))
    return out


# (opcode, syndrome or None, count, counter it must raise)
ROCE_KINDS = [
    (0x81, None, 30, "cnp"),
    (0x11, 0x60, 5, "nak_psn_sequence_error"),
    (0x11, 0x61, 3, "nak_invalid_request"),
    (0x11, 0x62, 2, "nak_remote_access_error"),
    (0x11, 0x63, 1, "nak_remote_operational_error"),
    (0x11, 0x21, 2, "rnr_nak"),
    (0x11, 0x3F, 2, "rnr_nak"),
    (0x11, 0x00, 4, None),        # a plain ACK: no counter
    (0x80, None, 4, None),        # opcode 0x80: not a RoCEv2 CNP
    (0x0A, None, 4, None),        # RDMA WRITE only
]
ROCE_FIELDS = ["cnp", "nak_psn_sequence_error", "nak_invalid_request", "nak_remote_access_error",
               "nak_remote_operational_error", "rnr_nak", "nak_other"]


def roce_plan(src_mac: str, dst_mac: str, sip: str, dip: str, qp: int, marks):
    """Frames of every ROCE_KINDS kind to one QP, and the counters the last
    RoceRecord of (sip, dip, qp) must show (last_nak_psn: the last NAK's)."""
    frames, want, psn = [], {f: 0 for f in ROCE_FIELDS}, 1000
    last_nak_psn = None
    for op, syn, n, field_ in ROCE_KINDS:
        frames += roce_frames(src_mac, dst_mac, sip, dip, qp, op, n, marks, syn, psn)
        if field_:
            want[field_] += n
            if field_ != "cnp":
                last_nak_psn = psn + n - 1
        psn += n
    want["last_nak_psn"] = last_nak_psn
    return frames, want


def roce_problems(envs: list[dict], key: tuple[str, str, int], want: dict,
                  session: str) -> list[str]:
    recs = [e["roce"] for e in envs if "roce" in e and
            (e["roce"].get("src_ip"), e["roce"].get("dst_ip"), u(e["roce"].get("dest_qp"))) == key]
    if not recs:
        return [f"{key}: no RoceRecord"]
    r = recs[-1]
    got = {f: u(r.get(f)) for f in ROCE_FIELDS}
    got["last_nak_psn"] = u(r.get("last_nak_psn"))
    p = [f"{key}: {f} {got[f]} != {v}" for f, v in want.items() if got[f] != v]
    if r.get("session", {}).get("name") != session:
        p.append(f"{key}: session {r.get('session')}")
    if not r.get("final"):
        p.append(f"{key}: the last record is not final (at shutdown)")
    if u(r.get("first_seen_ns")) == 0 or u(r.get("last_seen_ns")) < u(r.get("first_seen_ns")):
        p.append(f"{key}: first/last seen {r.get('first_seen_ns')} / {r.get('last_seen_ns')}")
    return p
