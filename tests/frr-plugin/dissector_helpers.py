"""Helpers of test_dissector.py (the Wireshark dissector
frr-plugin/wireshark/evpn-monitor.lua): craft BGP messages and pcap files
with raw bytes (no scapy needed), run the real C codec
(proto/session/evpn_mon_codec.c and evpn_mon_options.c, compiled into a shared
object and called through ctypes) as the reference, and run tshark and read
its JSON tree.
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# EVPNMON_DISSECTOR_LUA: another copy of the plugin (e.g. a deliberately
# broken one, to see that the tests catch it)
PLUGIN = Path(os.environ.get("EVPNMON_DISSECTOR_LUA",
                             REPO / "frr-plugin" / "wireshark" / "evpn-monitor.lua"))
SESSION_DIR = REPO / "proto" / "session"
CODEC_SRC = [SESSION_DIR / "evpn_mon_codec.c", SESSION_DIR / "evpn_mon_options.c"]

ROUTE_TYPE = 254
CAP_CODE = 239

# evpn_mon_errname() of every enum evpn_mon_error value, in order
REASONS = ("ok", "tooShort", "tooLong", "hostMacLength", "hostIpLength", "serverMacLength",
           "serverIpLength", "originatorIpLength", "truncated", "trailingOctets",
           "hostIdOutOfRange", "noHost", "hostMacNotUnicast", "serverMacNotUnicast",
           "vniZero", "optionsVersion", "optionsTruncated", "optionsLength", "optionsDuplicate",
           "optionsUnknownMandatory", "optionsValue", "destination")
STRUCTURAL = set(REASONS[1:10])
OPTIONS_REASONS = set(REASONS[15:21])


# ---------------------------------------------------------------------------
# the reference: the C codec itself
# ---------------------------------------------------------------------------

class _Ip(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint8), ("addr", ctypes.c_uint8 * 16)]


class _Udf(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint8), ("offset", ctypes.c_uint8),
                ("value", ctypes.c_uint16), ("mask", ctypes.c_uint16)]


class _Prefix(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint8), ("addr", ctypes.c_uint8 * 16)]


class _Filter(ctypes.Structure):
    """struct evpn_mon_filter (evpn_mon_options.h)."""
    _fields_ = [("family", ctypes.c_uint8), ("proto", ctypes.c_uint8), ("src", _Prefix),
                ("dst", _Prefix), ("sport_lo", ctypes.c_uint16), ("sport_hi", ctypes.c_uint16),
                ("dport_lo", ctypes.c_uint16), ("dport_hi", ctypes.c_uint16),
                ("nudf", ctypes.c_uint8), ("udf", _Udf * 8)]


class _Erspan(ctypes.Structure):
    """struct evpn_mon_erspan (evpn_mon_options.h)."""
    _fields_ = [("version", ctypes.c_uint8), ("dscp", ctypes.c_uint8), ("ttl", ctypes.c_uint8),
                ("pad", ctypes.c_uint8), ("span_id", ctypes.c_uint16),
                ("gre_proto", ctypes.c_uint16)]


class _Options(ctypes.Structure):
    """struct evpn_mon_options (evpn_mon_options.h)."""
    _fields_ = [("present", ctypes.c_uint8), ("direction", ctypes.c_uint8),
                ("nfilters", ctypes.c_uint8), ("police_unit", ctypes.c_uint8),
                ("truncate", ctypes.c_uint16), ("pad", ctypes.c_uint16),
                ("sample", ctypes.c_uint32), ("police_burst", ctypes.c_uint32),
                ("police_rate", ctypes.c_uint64), ("name", ctypes.c_char * 17),
                ("filters", _Filter * 4), ("erspan", _Erspan)]


class _Route(ctypes.Structure):
    """struct evpn_mon_route (evpn_mon_codec.h), native layout."""
    _fields_ = [("rd", ctypes.c_uint8 * 8), ("eth_tag", ctypes.c_uint32),
                ("vni", ctypes.c_uint32), ("flags", ctypes.c_uint8),
                ("dest", ctypes.c_uint8), ("host_id", ctypes.c_uint32), ("host_mac_len", ctypes.c_uint8),
                ("host_mac", ctypes.c_uint8 * 6), ("host_ip", _Ip),
                ("server_mac", ctypes.c_uint8 * 6), ("server_ip", _Ip),
                ("orig_ip", ctypes.c_uint8 * 4), ("opts", _Options)]


def _prefix_text(family: int, p: _Prefix) -> str:
    b = bytes(p.addr)[:4 if family == 4 else 16]
    return f"{_ip(b)}/{p.len}"


def options_fields(o: _Options) -> dict:
    """A decoded options struct as the dissector's evpnmon.opt.* fields show
    it: {field: [values in order]} (only the TLVs a canonical encoder
    sends)."""
    out: dict[str, list] = {}

    def put(k, v):
        out.setdefault(k, []).append(str(v))
    if o.direction:
        put("evpnmon.opt.direction", o.direction)
    for i in range(o.nfilters):
        f = o.filters[i]
        put("evpnmon.opt.filter.family", f.family)
        put("evpnmon.opt.filter.protocol", f.proto)
        put("evpnmon.opt.filter.src_len", f.src.len)
        put("evpnmon.opt.filter.dst_len", f.dst.len)
        if f.src.len:
            put("evpnmon.opt.filter.src", _prefix_text(f.family, f.src))
        if f.dst.len:
            put("evpnmon.opt.filter.dst", _prefix_text(f.family, f.dst))
        if not (f.sport_lo == 0 and f.sport_hi in (0, 65535)):
            put("evpnmon.opt.filter.sport_lo", f.sport_lo)
            put("evpnmon.opt.filter.sport_hi", f.sport_hi)
        if not (f.dport_lo == 0 and f.dport_hi in (0, 65535)):
            put("evpnmon.opt.filter.dport_lo", f.dport_lo)
            put("evpnmon.opt.filter.dport_hi", f.dport_hi)
        put("evpnmon.opt.filter.nudf", f.nudf)
        for j in range(f.nudf):
            d = f.udf[j]
            put("evpnmon.opt.udf.base", d.base)
            put("evpnmon.opt.udf.offset", d.offset)
            put("evpnmon.opt.udf.value", f"0x{d.value:04x}")
            put("evpnmon.opt.udf.mask", f"0x{d.mask:04x}")
    if o.sample > 1:
        put("evpnmon.opt.sample", o.sample)
    if o.truncate:
        put("evpnmon.opt.truncate", o.truncate)
    if o.police_unit:
        put("evpnmon.opt.police.unit", o.police_unit)
        put("evpnmon.opt.police.rate", o.police_rate)
        put("evpnmon.opt.police.burst", o.police_burst)
    if o.erspan.version:
        e = o.erspan
        put("evpnmon.opt.erspan.version", e.version)
        put("evpnmon.opt.erspan.flags", "0x00")
        put("evpnmon.opt.erspan.span_id", e.span_id)
        put("evpnmon.opt.erspan.dscp", e.dscp)
        put("evpnmon.opt.erspan.ttl", e.ttl)
        put("evpnmon.opt.erspan.gre_proto", f"0x{e.gre_proto:04x}")
    if o.name:
        put("evpnmon.opt.name", o.name.decode())
    return out


def _mac(b) -> str:
    return ":".join(f"{x:02x}" for x in bytes(b))


def _ip(b) -> str:
    b = bytes(b)
    return socket.inet_ntop(socket.AF_INET if len(b) == 4 else socket.AF_INET6, b)


def rd_text(rd: bytes) -> str:
    """An RD as FRR prints it (type 0 ASN:nn, 1 IP:nn, 2 ASN4:nn)."""
    t = int.from_bytes(rd[:2], "big")
    if t == 0:
        return f"{int.from_bytes(rd[2:4], 'big')}:{int.from_bytes(rd[4:], 'big')}"
    if t == 1:
        return f"{_ip(rd[2:6])}:{int.from_bytes(rd[6:], 'big')}"
    if t == 2:
        return f"{int.from_bytes(rd[2:6], 'big')}:{int.from_bytes(rd[6:], 'big')}"
    return f"type {t}:{rd[2:].hex()}"


class Codec:
    """evpn_mon_decode() of the repository's codec, compiled with cc."""

    def __init__(self, workdir: Path):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise RuntimeError("no C compiler (cc) to build the reference codec")
        so = Path(workdir).resolve() / "libevpn_mon_codec_ref.so"
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-std=gnu11", "-I", str(SESSION_DIR),
                        "-o", str(so)] + [str(x) for x in CODEC_SRC],
                       check=True, capture_output=True, text=True)
        self.lib = ctypes.CDLL(str(so))
        self.lib.evpn_mon_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_bool,
                                             ctypes.POINTER(_Route)]
        self.lib.evpn_mon_decode.restype = ctypes.c_int
        self.lib.evpn_mon_errname.argtypes = [ctypes.c_int]
        self.lib.evpn_mon_errname.restype = ctypes.c_char_p
        self.lib.evpn_mon_strerror.argtypes = [ctypes.c_int]
        self.lib.evpn_mon_strerror.restype = ctypes.c_char_p
        for i, name in enumerate(REASONS):    # the names this test knows are the codec's
            got = self.lib.evpn_mon_errname(i).decode()
            if got != name:
                raise RuntimeError(f"codec reason {i} is {got!r}, test expects {name!r}")
        if self.lib.evpn_mon_errname(len(REASONS)).decode() != "unknown":
            raise RuntimeError("the codec has reasons this test does not know")
        self.last_options: dict | None = None

    def decode(self, body: bytes, withdraw: bool) -> tuple[str, dict | None]:
        """(reason name, decoded fields as the dissector shows them, or None
        when the key is not readable)."""
        r = _Route()
        err = self.lib.evpn_mon_decode(body, len(body), withdraw, ctypes.byref(r))
        name = self.lib.evpn_mon_errname(err).decode()
        # the decoded options (evpnmon.opt.* fields), None without a profile
        self.last_options = options_fields(r.opts) if r.opts.present else None
        if name in STRUCTURAL:
            return name, None
        collector = r.dest == 1
        out = {
            "rd": rd_text(bytes(r.rd)), "eth_tag": r.eth_tag, "vni": r.vni, "flags": r.flags,
            "dest": r.dest, "collector_id" if collector else "host_id": r.host_id,
            "host_mac_len": r.host_mac_len * 8,
            "host_ip_len": r.host_ip.len * 8, "server_mac_len": 48,
            "server_mac": _mac(r.server_mac), "server_ip_len": r.server_ip.len * 8,
            "orig_ip_len": 32, "orig_ip": _ip(bytes(r.orig_ip)),
        }
        if r.host_mac_len:
            out["host_mac"] = _mac(r.host_mac)
        if r.host_ip.len:
            out["host_ip"] = _ip(bytes(r.host_ip.addr)[:r.host_ip.len])
        if r.server_ip.len:
            out["collector_ip" if collector else "server_ip"] = _ip(
                bytes(r.server_ip.addr)[:r.server_ip.len])
        keys = 35 + r.host_mac_len + r.host_ip.len + r.server_ip.len
        if len(body) > keys:   # the key part was read whole: the rest is options
            out["options_length"] = len(body) - keys
        return name, out

    def strerror(self, name: str) -> str:
        return self.lib.evpn_mon_strerror(REASONS.index(name)).decode()


# ---------------------------------------------------------------------------
# building BGP messages
# ---------------------------------------------------------------------------

def rd_ip(ip: str, n: int) -> bytes:
    return struct.pack("!H4sH", 1, socket.inet_aton(ip), n)


def mac(s: str) -> bytes:
    return bytes.fromhex(s.replace(":", ""))


def ipb(s: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in s else socket.AF_INET, s)


def monitor_body(*, rd: bytes = rd_ip("10.0.0.101", 100), eth_tag: int = 0, vni: int = 100,
                 flags: int = 0, dest: int = 0, host_id: int = 21, host_mac: bytes = mac("02:00:00:00:02:10"),
                 host_ip: bytes = ipb("192.168.100.210"),
                 server_mac: bytes = mac("02:00:00:00:00:21"),
                 server_ip: bytes = ipb("192.168.100.21"), orig_ip: bytes = ipb("10.0.0.101"),
                 host_mac_bits: int | None = None, host_ip_bits: int | None = None,
                 server_mac_bits: int | None = None, server_ip_bits: int | None = None,
                 orig_ip_bits: int | None = None, options: bytes = b"") -> bytes:
    """A type-254 NLRI body in the layout of docs/wire-format.md; the *_bits
    arguments override a length octet (to build malformed bodies); options:
    the options area, as is (see options_area()); dest: the destination kind
    octet in front of a 24-bit host_id (0 server, 1 collector)."""
    def lf(bits, val):
        return bytes([len(val) * 8 if bits is None else bits]) + val
    b = rd + struct.pack("!I", eth_tag) + vni.to_bytes(3, "big") + bytes([flags])
    b += struct.pack("!I", (dest << 24) | host_id)
    b += lf(host_mac_bits, host_mac) + lf(host_ip_bits, host_ip)
    b += lf(server_mac_bits, server_mac) + lf(server_ip_bits, server_ip)
    b += lf(orig_ip_bits, orig_ip)
    return b + options


# The options area, written from docs/wire-format.md ("Options") independently
# of the C encoder.
def tlv(t: int, value: bytes, length: int | None = None) -> bytes:
    return bytes([t, len(value) if length is None else length]) + value


def filter_tlv(*, family: int = 0, proto: int = 0, src: tuple[bytes, int] = (b"", 0),
               dst: tuple[bytes, int] = (b"", 0), sport: tuple[int, int] | None = None,
               dport: tuple[int, int] | None = None,
               udfs: list[tuple[int, int, int, int]] = ()) -> bytes:
    """One FILTER TLV; src/dst = (address octets, prefix length)."""
    v = bytes([family, proto, src[1], dst[1]])
    v += src[0][:(src[1] + 7) // 8] + dst[0][:(dst[1] + 7) // 8]
    v += bytes([(1 if sport else 0) | (2 if dport else 0)])
    for pr in (sport, dport):
        if pr:
            v += struct.pack("!HH", *pr)
    v += bytes([len(udfs)]) + b"".join(struct.pack("!BBHH", *u) for u in udfs)
    return tlv(2, v)


def options_area(*tlvs: bytes, version: int = 1) -> bytes:
    return bytes([version]) + b"".join(tlvs)


def direction_tlv(d: int) -> bytes:
    return tlv(1, bytes([d]))


def sample_tlv(n: int) -> bytes:
    return tlv(3, struct.pack("!I", n))


def truncate_tlv(n: int) -> bytes:
    return tlv(4, struct.pack("!H", n))


def police_tlv(unit: int, rate: int, burst: int) -> bytes:
    return tlv(5, struct.pack("!BQI", unit, rate, burst))


def erspan_tlv(version: int = 3, span_id: int = 7, dscp: int = 0, ttl: int = 64,
               gre_proto: int = 0, flags: int = 0) -> bytes:
    return tlv(6, struct.pack("!BBHBBH", version, flags, span_id, dscp, ttl, gre_proto))


def collector_body(*, collector_id: int = 7, collector_ip: bytes = ipb("10.9.0.1"),
                   options: bytes | None = None, **kw) -> bytes:
    """A collector route body: kind 1, zero server MAC field, the collector IP
    in the server IP field, an options area with the ERSPAN TLV."""
    kw.setdefault("server_mac", bytes(6))
    return monitor_body(dest=1, host_id=collector_id, server_ip=collector_ip,
                        options=options_area(erspan_tlv()) if options is None else options, **kw)


def name_tlv(name: str | bytes) -> bytes:
    return tlv(0x81, name.encode() if isinstance(name, str) else name)


CNP = filter_tlv(proto=17, dport=(4791, 4791), udfs=[(2, 0, 0x8100, 0xff00)])
NAK = filter_tlv(proto=17, dport=(4791, 4791), udfs=[(2, 0, 0x1100, 0xff00), (2, 12, 0x6000, 0xe000)])


def evpn_nlri(rtype: int, body: bytes, length: int | None = None) -> bytes:
    return bytes([rtype, len(body) if length is None else length]) + body


def imet(ip: str = "10.0.0.101", n: int = 100) -> bytes:
    """A type-3 (IMET) NLRI, which the stock dissector decodes."""
    return evpn_nlri(3, rd_ip(ip, n) + b"\0\0\0\0" + bytes([32]) + ipb(ip))


def bgp_msg(mtype: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body


def path_attr(flags: int, atype: int, value: bytes) -> bytes:
    if flags & 0x10 or len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, atype, len(value)) + value
    return struct.pack("!BBB", flags, atype, len(value)) + value


def mp_reach(nlri: bytes, next_hop: str = "10.0.0.101") -> bytes:
    nh = ipb(next_hop)
    return path_attr(0x90, 14, struct.pack("!HBB", 25, 70, len(nh)) + nh + b"\0" + nlri)


def mp_unreach(nlri: bytes) -> bytes:
    return path_attr(0x90, 15, struct.pack("!HB", 25, 70) + nlri)


def update(*attrs: bytes, reach: bool = True) -> bytes:
    base = [path_attr(0x40, 1, b"\0"), path_attr(0x50, 2, b"")] if reach else []
    a = b"".join(base + list(attrs))
    return bgp_msg(2, struct.pack("!H", 0) + struct.pack("!H", len(a)) + a)


def open_msg(caps: list[tuple[int, bytes]], asn: int = 65101, router_id: str = "10.0.0.101",
             extended: bool = False, raw_params: bytes | None = None) -> bytes:
    """OPEN with one Capabilities optional parameter per capability (as FRR
    sends them); extended=True uses the RFC 9072 encoding; raw_params: the
    optional parameters as given (after the length octet)."""
    if raw_params is not None:
        opt = bytes([len(raw_params)]) + raw_params
    elif extended:
        params = b"".join(struct.pack("!BH", 2, 2 + len(v)) + bytes([c, len(v)]) + v
                          for c, v in caps)
        opt = bytes([255, 255]) + struct.pack("!H", len(params)) + params
    else:
        params = b"".join(bytes([2, 2 + len(v), c, len(v)]) + v for c, v in caps)
        opt = bytes([len(params)]) + params
    return bgp_msg(1, struct.pack("!BHH4s", 4, asn, 9, socket.inet_aton(router_id)) + opt)


MP_EVPN_CAP = (1, struct.pack("!HBB", 25, 0, 70))


# ---------------------------------------------------------------------------
# pcap
# ---------------------------------------------------------------------------

def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s >> 16) + (s & 0xFFFF)
    return ~s & 0xFFFF


class PcapWriter:
    """One TCP connection 10.1.0.1:40179 -> 10.1.0.0:179 (Ethernet), one BGP
    message per segment, consecutive sequence numbers (so TCP reassembly
    finds every message complete); frame numbers start at 1."""

    def __init__(self):
        self.frames: list[bytes] = []
        self.seq = 1000

    def add(self, payload: bytes) -> int:
        src, dst = socket.inet_aton("10.1.0.1"), socket.inet_aton("10.1.0.0")
        tcp = struct.pack("!HHIIBBHHH", 40179, 179, self.seq, 1, 5 << 4, 0x18, 65535, 0, 0)
        ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        tcp = tcp[:16] + struct.pack("!H", _csum(ph + tcp + payload)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(tcp) + len(payload),
                         len(self.frames) + 1, 0x4000, 1, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        eth = mac("02:00:00:00:00:00") + mac("02:00:00:00:01:01") + b"\x08\x00"
        self.frames.append(eth + ip + tcp + payload)
        self.seq += len(payload)
        return len(self.frames)

    def write(self, path: Path) -> Path:
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for i, fr in enumerate(self.frames):
                f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(fr), len(fr)) + fr)
        return path


# ---------------------------------------------------------------------------
# tshark
# ---------------------------------------------------------------------------

_HOME = None


def tshark(args: list[str], plugin: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """tshark with the repository's plugin (-X lua_script:) or without it.
    HOME is an empty directory, so neither a personal copy of the plugin
    (~/.local/lib/wireshark/plugins) nor personal preferences take part;
    without the plugin, --disable-protocol evpnmon also switches off a copy
    installed in the global Lua plugins folder (with the plugin, such a copy
    makes the -X load fail with "there cannot be two protocols", which the
    callers' stderr check reports)."""
    global _HOME
    if _HOME is None:
        _HOME = tempfile.mkdtemp(prefix="evpnmon-tshark-home-")
        atexit.register(shutil.rmtree, _HOME, True)
    argv = ["tshark", "-n"] + (["-X", f"lua_script:{PLUGIN}"] if plugin
                               else ["--disable-protocol", "evpnmon"]) + args
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HOME": _HOME})


def tshark_json(pcap: Path, plugin: bool = True, extra: list[str] | None = None) -> list[dict]:
    """Packets of `tshark -T json --no-duplicate-keys` (exit 0 and no Lua
    error asserted)."""
    r = tshark(["-r", str(pcap), "-T", "json", "--no-duplicate-keys"] + (extra or []), plugin)
    assert r.returncode == 0, f"tshark exit {r.returncode}: {r.stderr}"
    assert "Lua" not in r.stderr and "rror" not in r.stderr, r.stderr
    return json.loads(r.stdout or "[]")


def as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def layers(pkt: dict) -> dict:
    return pkt["_source"]["layers"]


def frame_no(pkt: dict) -> int:
    return int(layers(pkt)["frame"]["frame.number"])


def experts(obj) -> list[dict]:
    """Every _ws.expert object anywhere below obj."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "_ws.expert":
                out.extend(e for e in as_list(v) if isinstance(e, dict))
            out.extend(experts(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(experts(v))
    return out


def expert_names(obj) -> list[str]:
    """The expert abbreviations (e.g. evpnmon.malformed.tooShort) below obj."""
    return [k for e in experts(obj) for k in e if not k.startswith("_ws.")]


def flat(obj, prefix: str) -> dict[str, list]:
    """All fields named prefix* below obj (searching *_tree subtrees too):
    {name: [values...]}."""
    out: dict[str, list] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.startswith(prefix) and not k.endswith("_tree") and not isinstance(v, (dict, list)):
                out.setdefault(k, []).append(v)
            elif k.startswith(prefix) and isinstance(v, list) and all(isinstance(x, str) for x in v):
                out.setdefault(k, []).extend(v)
            if isinstance(v, (dict, list)):
                for kk, vv in flat(v, prefix).items():
                    out.setdefault(kk, []).extend(vv)
    elif isinstance(obj, list):
        for v in obj:
            for kk, vv in flat(v, prefix).items():
                out.setdefault(kk, []).extend(vv)
    return out


@dataclass
class Nlri:
    """One evpnmon.nlri of tshark's JSON tree."""
    frame: int
    fields: dict[str, str]            # short name (after evpnmon.nlri.) -> value
    experts: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def __getitem__(self, k: str) -> str:
        return self.fields[k]

    def get(self, k: str, default=None):
        return self.fields.get(k, default)


def monitor_nlris(pkts: list[dict]) -> list[Nlri]:
    out = []
    for p in pkts:
        em = layers(p).get("evpnmon")
        if not isinstance(em, dict):
            continue
        for n in as_list(em.get("evpnmon.nlri")):
            vals = flat(n, "evpnmon.nlri.")
            fields = {}
            for k, v in vals.items():
                assert len(v) == 1, f"frame {frame_no(p)}: {k} appears {len(v)} times in one NLRI"
                fields[k[len("evpnmon.nlri."):]] = v[0]
            ex = experts(n)
            out.append(Nlri(frame_no(p), fields, expert_names(n),
                            [e.get("_ws.expert.message", "") for e in ex]))
    return out


def capabilities(pkts: list[dict]) -> list[tuple[int, list[int], list[str]]]:
    """(frame, route types, expert names) of every evpnmon.cap."""
    out = []
    for p in pkts:
        em = layers(p).get("evpnmon")
        if not isinstance(em, dict):
            continue
        for c in as_list(em.get("evpnmon.cap")):
            v = flat(c, "evpnmon.cap.")
            out.append((frame_no(p), [int(x) for x in v.get("evpnmon.cap.route_type", [])],
                        expert_names(c)))
    return out
