"""The ERSPAN scenario checks (tests/scenarios/erspan.py) must be able to
fail: copies built here by a reference encoder (the header bits of the
plan) pass, and each way a product could be wrong -- collector ignored,
wrong span id, sequence numbers per VTEP instead of per session or per
packet, a lost or repeated copy, a timestamp 2 ms off, a wrong field in any
header, a copy from the wrong VTEP or on the wrong link, an altered inner
frame -- makes them fail. The copies are written to a pcap and decoded by
tshark exactly as in the lab. No root, no fabric; needs tshark and scapy.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import erspan as E  # noqa: E402
import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

HW = {"vtep101": 1, "vtep102": 2, "vtep103": 3, "vtep104": 4}
IFX = {("vtep101", "eth2"): 7, ("vtep102", "eth2"): 9}
T0 = 1_764_000_000_123_456_700          # ns since the epoch


def csum(h: bytes) -> int:
    s = sum(struct.unpack(f"!{len(h) // 2}H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def encode(c: E.Collector, e: E.Expect, seq: int, ts_ns: int, **bad) -> bytes:
    """A copy as the plan specifies it; `bad` overrides single fields."""
    g = lambda k, v: bad.get(k, v)  # noqa: E731
    keep = len(e.frame) if not e.trunc else min(len(e.frame), e.trunc)
    inner = g("inner", e.frame[:keep])
    vid, pcp, tagged = E.vlan_of(e.frame)
    t = g("t", int(keep < len(e.frame)))
    span = g("span", c.span)
    idx = IFX[(e.vtep, e.port)]
    if c.version == 2:
        w0 = (g("ver", 1) << 28) | (vid << 16) | (pcp << 13) | (g("en", 3 if tagged else 0) << 11) \
            | (t << 10) | span
        hdr = struct.pack("!II", w0, g("index", idx))
    else:
        stamp = g("stamp", ts_ns // 100)
        w0 = (g("ver", 2) << 28) | (vid << 16) | (pcp << 13) | (g("bso", E.bso_of(e.frame)) << 11) \
            | (t << 10) | span
        w2 = (0 << 16) | (1 << 15) | (0 << 10) | (g("hw", HW[e.vtep]) << 4) \
            | (g("d", e.direction) << 3) | (1 << 1) | 1
        hdr = struct.pack("!III", w0, stamp & 0xFFFFFFFF, w2) + \
            struct.pack("!II", (3 << 26) | (idx & 0x3FFF), stamp >> 32)
    gre = struct.pack("!HHI", g("gre_flags", 0x1000), g("proto", c.proto), seq)
    body = gre + hdr + inner
    ttl = g("ttl", c.eff_ttl - E.hops(e.iface))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, c.eff_dscp << 2 if "dscp" not in bad
                               else bad["dscp"] << 2, 20 + len(body), 1,
                               0x4000 if bad.get("df") else 0, ttl, 47, 0,
                               bytes(map(int, g("src", F.VTEP_IP[e.vtep]).split("."))),
                               bytes(map(int, c.ip.split(".")))))
    struct.pack_into("!H", ip, 10, csum(bytes(ip)) ^ (1 if bad.get("csum") else 0))
    return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + \
        bytes(ip) + body


def write_pcap(path: Path, recs: list[tuple[int, bytes]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
    for ts, fr in recs:
        out += struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, len(fr), len(fr))
        out += fr
    path.write_bytes(bytes(out))


RUN = 7


def originals() -> dict[tuple[int, tuple[int, int]], E.Expect]:
    """Frames from VM210 (vtep101, D 0) and to it (vtep102, D 1): IPv4 of
    several sizes, IPv6, ARP, 802.1Q-tagged."""
    frames = []
    q = 0
    for src, dst in ((P.HOST, P.PEER), (P.PEER, P.HOST)):
        for fr in (P.udp_frame(src, dst, RUN, q, size=60), P.udp_frame(src, dst, RUN, q + 1,
                                                                      size=1514),
                   P.ip6_frame(src, dst, RUN, q + 2), P.arp_frame(src, dst, RUN, q + 3),
                   E.tagged_frame(src, dst, RUN, q + 4, vid=10, pcp=5, size=200),
                   E.tagged_frame(src, dst, RUN, q + 5, vid=4094, pcp=7, size=1518)):
            frames.append((src, fr))
        q += 10
    return frames


def build(c: E.Collector, trunc: int = 0, mutate=None):
    """(copies as decoded from a pcap, expectations). mutate(i, expect,
    kwargs) may change the encoding of copy i (kwargs of encode(), plus
    'seq', 'ts', 'iface', 'drop', 'twice')."""
    exp = {}
    for i, (src, fr) in enumerate(originals()):
        vtep = "vtep101" if src == P.HOST else "vtep102"
        e = E.Expect(fr, vtep, "eth2", 0 if src == P.HOST else 1, trunc, E.VIA_SPINE,
                     T0 + i * 1_000_000)
        exp[(c.span, P.find_mark(fr))] = e
    return exp


def decoded(tmp: Path, c: E.Collector, exp: dict, mutate=None) -> list[E.Copy]:
    recs: dict[str, list] = {E.VIA_SPINE: [], E.VIA_DIRECT: []}
    seqs: dict[str, int] = {}
    for i, (k, e) in enumerate(exp.items()):
        kw = {"seq": seqs.get(e.vtep, 0), "ts": e.host_ts_ns + 20_000, "iface": e.iface}
        seqs[e.vtep] = seqs.get(e.vtep, 0) + 1
        if mutate:
            mutate(i, e, kw)
        if kw.pop("drop", False):
            continue
        n = 2 if kw.pop("twice", False) else 1
        seq, ts, iface = kw.pop("seq"), kw.pop("ts"), kw.pop("iface")
        for _ in range(n):
            recs[iface].append((ts + 40_000, encode(c, e, seq, ts, **kw)))
    out = []
    for iface, r in recs.items():
        p = tmp / f"{iface}.pcap"
        write_pcap(p, r)
        out += E.decode(p, iface)
    return out


def verdict(copies, exp, colls):
    return E.verdict(copies, exp, colls, HW, IFX)


COLLS = {"ii": E.Collector(2, 2, session_id=513, dscp=10, ttl=40),
         "iii": E.Collector(1029, 3),
         "iii-vendor-proto": E.Collector(4, 3, dscp=63, ttl=255, gre_proto=0x8949)}


@pytest.mark.parametrize("name", list(COLLS))
def test_right_copies_pass(tmp_path, name):
    c = COLLS[name]
    exp = build(c)
    v = verdict(decoded(tmp_path, c, exp), exp, [c])
    assert v.ok, str(v)
    assert v.marked == len(exp) == 12


def test_truncated_copies_pass(tmp_path):
    c = COLLS["iii"]
    exp = build(c, trunc=128)
    v = verdict(decoded(tmp_path, c, exp), exp, [c])
    assert v.ok, str(v)


def _flip(i, key, val, only=None):
    def m(j, e, kw):
        if only is None or j in only:
            kw[key] = val(kw, e) if callable(val) else val
    return m


MUTATIONS = {
    # the product ignores the collector / copies nothing
    "nothing sent": _flip(0, "drop", True, only=None),
    "one copy lost": _flip(0, "drop", True, only={3}),
    "one copy twice": _flip(0, "twice", True, only={5}),
    "wrong span id": _flip(0, "span", 6, only={2}),
    "type II header instead of III": _flip(0, "ver", 1, only={0}),
    "sequence per packet (repeats)": _flip(0, "seq", 0),
    "sequence per VTEP shared with another session (gap)":
        lambda j, e, kw: kw.update(seq=kw["seq"] * 2),
    "direction inverted": lambda j, e, kw: kw.update(d=1 - e.direction),
    "timestamp 2 ms late": lambda j, e, kw: kw.update(stamp=(kw["ts"] + 2_000_000) // 100)
    if j == 4 else None,
    "timestamp upper 32 bits missing": lambda j, e, kw: kw.update(stamp=(kw["ts"] // 100)
                                                                  & 0xFFFFFFFF),
    "HW ID of another VTEP": _flip(0, "hw", 4, only={1}),
    "DSCP not applied": _flip(0, "dscp", 0),
    "TTL not applied": _flip(0, "ttl", 64),
    "DF set": _flip(0, "df", True, only={0}),
    "bad IPv4 checksum": _flip(0, "csum", True, only={7}),
    "copy from the wrong VTEP": _flip(0, "src", "10.0.0.103", only={8}),
    "copy on the wrong link": _flip(0, "iface", E.VIA_DIRECT, only={9}),
    "inner frame altered": lambda j, e, kw: kw.update(inner=e.frame[:-1] + b"\x00")
    if j == 1 else None,
    "T not set on a cut copy": _flip(0, "inner", lambda kw, e: e.frame[:100], only={1}),
    "BSO wrong (short frame)": _flip(0, "bso", 0, only={3}),
    "GRE without S bit": _flip(0, "gre_flags", 0x0000, only={2}),
    "GRE protocol of the other type": _flip(0, "proto", 0x88BE),
}


@pytest.mark.parametrize("what", list(MUTATIONS))
def test_wrong_copies_fail(tmp_path, what):
    c = COLLS["iii"] if what not in ("DSCP not applied", "TTL not applied") else COLLS["ii"]
    exp = build(c)
    v = verdict(decoded(tmp_path, c, exp, MUTATIONS[what]), exp, [c])
    assert not v.ok, f"{what}: the checks did not notice ({v})"


def test_index_and_vlan_of_type_ii_are_checked(tmp_path):
    c = COLLS["ii"]
    exp = build(c)
    for bad in ({"index": 8}, {"en": 0}):
        v = verdict(decoded(tmp_path, c, exp, lambda j, e, kw, b=bad: kw.update(b)
                            if j == 4 else None), exp, [c])
        assert not v.ok and v.wrong, f"{bad}: not noticed ({v})"


def test_vendor_protocol_is_checked(tmp_path):
    c = COLLS["iii-vendor-proto"]
    exp = build(c)
    v = verdict(decoded(tmp_path, c, exp, _flip(0, "proto", 0x22EB)), exp, [c])
    assert not v.ok and v.generic, str(v)


def test_sequence_spaces_of_two_sessions(tmp_path):
    """Two sessions on the same VTEPs: numbered per (VTEP, session) passes,
    one counter per VTEP shared by both fails."""
    a, b = E.Collector(71, 3), E.Collector(72, 3)
    ea, eb = build(a), build(b)
    good = decoded(tmp_path, a, ea) + decoded(tmp_path / "b", b, eb) \
        if (tmp_path / "b").mkdir() is None else []
    both = {**ea, **eb}
    assert verdict(good, both, [a, b]).ok
    # one counter per VTEP: a's copies take the even numbers, b's the odd ones
    sa = decoded(tmp_path, a, ea, lambda j, e, kw: kw.update(seq=2 * kw["seq"]))
    sb = decoded(tmp_path / "b", b, eb, lambda j, e, kw: kw.update(seq=2 * kw["seq"] + 1))
    v = verdict(sa + sb, both, [a, b])
    assert not v.ok and v.sequence, str(v)
