"""The Wireshark dissector frr-plugin/wireshark/evpn-monitor.lua.

tshark 4.0 marks EVPN route type 254 as malformed ("Invalid EVPN Route Type
(254)") and shows capability 239 as unknown. The Lua post-dissector decodes
both (docs/wire-format.md, section 3). Checked here:

* crafted captures (no lab): valid monitor-config NLRIs of every shape, with
  and without options (mirror profiles, up to the largest 255-octet route),
  decode to exactly the fields encoded, equal to what the real C codec
  (proto/session/evpn_mon_codec.c + evpn_mon_options.c, compiled and called
  through ctypes) decodes from the same octets; every malformation the codec knows is
  flagged with the codec's reason name and an expert info naming it, with the
  NLRIs after it in the same attribute still decoded; 600 random/mutated
  NLRIs give the codec's result (one codec per wire format); capability 239
  in plain and RFC 9072 OPENs; collector routes (destination kind,
  collector ID and IP, the ERSPAN TLV) and every `destination` error; tshark exits 0 throughout; the stock BGP tree
  is byte-for-byte the same JSON with and without the plugin, and without it
  tshark shows its malformed marking (so these checks see the plugin);
* the reference fabric (patched FRR): a capture on the spine's link to
  vtep101 while a session is configured there, its server changed, the BGP
  session cleared (OPENs) and the session removed decodes to what was
  configured and what vtep101's vtysh shows (VNI, RD, originator), the
  change as an implicit replace, the removal as an MP_UNREACH withdrawal, and
  capability 239 in both OPENs; likewise a collector session (kind 1,
  collector ID and IP, the ERSPAN TLV) whose collector is changed.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_dissector.py
"""
from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))
sys.path.insert(0, str(HERE.parent / "scenarios"))

from dissector_helpers import (  # noqa: E402
    CNP, MP_EVPN_CAP, NAK, OPTIONS_REASONS, STRUCTURAL, Codec, PcapWriter, as_list,
    capabilities, collector_body, direction_tlv, erspan_tlv, evpn_nlri, expert_names, experts,
    filter_tlv, flat, frame_no,
    imet, ipb, layers, mac, monitor_body, monitor_nlris, mp_reach, mp_unreach, name_tlv,
    open_msg, options_area, police_tlv, rd_ip, sample_tlv, tlv, truncate_tlv, tshark, tshark_json,
    update)
import fabric as F  # noqa: E402  (tests/scenarios: the capture helper)

if not shutil.which("tshark"):
    pytest.skip("tshark is not installed", allow_module_level=True)

STOCK_254 = "Invalid EVPN Route Type (254)"
PI_MALFORMED = str(0x07000000)


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    return Codec(tmp_path_factory.mktemp("codec"))


def stock_254_marks(pkt: dict) -> list[dict]:
    """The stock BGP dissector's expert infos about route type 254."""
    return [e for e in experts(layers(pkt).get("bgp", {}))
            if STOCK_254 in e.get("_ws.expert.message", "")]


def bgp_types(pkt: dict) -> list[str]:
    """bgp.type of every BGP message of a frame."""
    return [m["bgp.type"] for m in as_list(layers(pkt).get("bgp")) if "bgp.type" in m]


def by_frame(nlris):
    out = {}
    for n in nlris:
        out.setdefault(n.frame, []).append(n)
    return out


def assert_fields_equal_codec(n, want: dict, what: str):
    """Every field the codec decoded is shown, with the same value, and no
    address field the codec did not decode is shown."""
    for k, v in want.items():
        if k in ("host_ip", "server_ip", "collector_ip") and ":" in v:
            k = k.replace("_ip", "_ipv6")
        got = n.get(k)
        if k == "flags":
            got = int(got, 16)
        elif isinstance(v, int):
            got = int(got)
        assert got == v, f"{what}: evpnmon.nlri.{k} = {n.get(k)!r}, codec: {v!r}"
    ids = ("host_mac", "host_ip", "server_ip", "collector_ip", "host_id", "collector_id")
    shown = {k.replace("ipv6", "ip") for k in n.fields
             if k in ids + ("host_ipv6", "server_ipv6", "collector_ipv6")}
    assert shown == {k for k in ids if k in want}, what


# ---------------------------------------------------------------------------
# crafted captures
# ---------------------------------------------------------------------------

V6 = dict(host_ip=ipb("2001:db8:100::210"), server_ip=ipb("2001:db8:100::21"))
VALID = [
    # name, body kwargs, attribute, intended decoded values (besides the codec's)
    ("MAC+IPv4 host, IPv4 server", {}, "reach",
     dict(rd="10.0.0.101:100", rd_type="1", vni="100", host_id="21", length="49",
          host_mac="02:00:00:00:02:10", host_ip="192.168.100.210",
          server_mac="02:00:00:00:00:21", server_ip="192.168.100.21", orig_ip="10.0.0.101")),
    ("everything IPv6", dict(**V6, host_id=4242), "reach",
     dict(length="73", host_ipv6="2001:db8:100::210", server_ipv6="2001:db8:100::21",
          host_ip_len="128", server_ip_len="128", host_id="4242")),
    ("IP-only host, no server IP, RD type 0, largest VNI and HOST ID",
     dict(rd=bytes([0, 0]) + (65101).to_bytes(2, "big") + (100).to_bytes(4, "big"),
          host_mac=b"", server_ip=b"", vni=0xFFFFFF, host_id=65535, eth_tag=7,
          orig_ip=ipb("10.0.0.104")), "reach",
     dict(length="39", rd="65101:100", rd_type="0", host_mac_len="0", server_ip_len="0",
          vni="16777215", host_id="65535", eth_tag="7", orig_ip="10.0.0.104")),
    ("MAC-only host, RD type 2, reserved flags set",
     dict(rd=bytes([0, 2]) + (4200000000).to_bytes(4, "big") + (7).to_bytes(2, "big"),
          host_ip=b"", flags=0x80), "reach",
     dict(length="45", rd="4200000000:7", rd_type="2", host_ip_len="0", flags="0x80")),
    ("withdrawal with zero server MAC, no server IP",
     dict(server_mac=bytes(6), server_ip=b""), "unreach",
     dict(withdrawal="1", attribute="15", action="withdraw", server_mac="00:00:00:00:00:00")),
    # options (mirror profiles)
    ("empty profile: the version octet alone", dict(options=options_area()), "reach",
     dict(length="50", options_length="1")),
    ("profile: direction, rocev2-cnp, sample, truncate, police pps, name",
     dict(options=options_area(direction_tlv(1), CNP, sample_tlv(100), truncate_tlv(128),
                               police_tlv(1, 1000, 100), name_tlv("roce"))), "reach",
     dict(length=str(49 + 53), options_length="53")),
    ("profile: tx, rocev2-nak + IPv4/IPv6 prefix lines, police bps, unknown optional TLV",
     dict(options=options_area(direction_tlv(2), NAK,
                               filter_tlv(family=4, proto=6, src=(ipb("10.1.2.0"), 23),
                                          sport=(1, 1023)),
                               filter_tlv(family=6, dst=(ipb("2001:db8:7::"), 48)),
                               tlv(0x9f, b"\x01\x02\x03"), police_tlv(2, 400_000_000_000, 1500))),
     "reach", dict()),
    ("profile in a withdrawal", dict(options=options_area(name_tlv("gone"))), "unreach",
     dict(withdrawal="1", action="withdraw")),
    # collector routes (destination kind 1)
    ("collector: the docs' worked example (ERSPAN III, no profile)",
     dict(dest=1, host_id=7, rd=rd_ip("10.0.0.103", 2), host_ip=b"", server_mac=bytes(6),
          server_ip=ipb("10.9.0.1"), orig_ip=ipb("10.0.0.103"), options=options_area(erspan_tlv())),
     "reach",
     dict(length="56", dest="1", collector_id="7", collector_ip="10.9.0.1",
          server_mac="00:00:00:00:00:00", options_length="11")),
    ("collector: IPv6 collector, profile, ERSPAN II with a GRE protocol of its own",
     dict(dest=1, host_id=65535, server_mac=bytes(6), server_ip=ipb("2001:db8::9"),
          options=options_area(truncate_tlv(128), erspan_tlv(2, 1023, 46, 8, 0x8949),
                               name_tlv("cnp"))),
     "reach", dict(dest="1", collector_id="65535", collector_ipv6="2001:db8::9")),
    ("collector withdrawal: zero server fields, no options",
     dict(dest=1, host_id=7, server_mac=bytes(6), server_ip=b""), "unreach",
     dict(withdrawal="1", action="withdraw", dest="1", collector_id="7")),
    ("the largest route: 73 key octets + 182 of options = 255",
     dict(**V6, options=options_area(
         direction_tlv(1),
         filter_tlv(family=6, proto=17, src=(bytes(range(0x20, 0x30)), 128),
                    dst=(bytes(range(0x40, 0x50)), 128), sport=(1000, 2000), dport=(4791, 4791),
                    udfs=[(2, 2 * i, 0x1100 + (i << 8), 0xff00) for i in range(8)]),
         filter_tlv(family=4, proto=6, src=(ipb("10.1.2.0"), 24), sport=(1, 1023),
                    udfs=[(1, 126 - i, 2, 2) for i in range(4)]),
         sample_tlv(8388608), truncate_tlv(9216), police_tlv(2, 400_000_000_000, 100_000_000),
         name_tlv("rocev2-debugging"))), "reach",
     dict(length="255", options_length="182")),
]

MC = mac("01:00:5e:00:00:01")
MALFORMED = [
    # name, NLRI body, in a withdrawal?, the reason the codec must give
    ("too short (34 octets)", monitor_body()[:34], False, "tooShort"),
    ("empty body", b"", False, "tooShort"),
    ("host MAC length 40", monitor_body(host_mac_bits=40), False, "hostMacLength"),
    ("host IP length 24", monitor_body(host_ip_bits=24), False, "hostIpLength"),
    ("server MAC length 0", monitor_body(server_mac_bits=0), False, "serverMacLength"),
    ("server IP length 64", monitor_body(server_ip_bits=64), False, "serverIpLength"),
    ("originator IP length 128", monitor_body(orig_ip_bits=128), False, "originatorIpLength"),
    ("originator IP cut off", monitor_body()[:45], False, "truncated"),
    ("server IPv6 cut off", monitor_body(server_ip=ipb("2001:db8::21"))[:50], False,
     "truncated"),
    # octets after the originator IP are an options area (the key stays
    # readable: treat-as-withdraw, the BGP session is kept)
    ("options version 0xab", monitor_body() + b"\xab\xcd", False, "optionsVersion"),
    ("options: TLV header cut", monitor_body(options=options_area() + b"\x01"), False,
     "optionsTruncated"),
    ("options: TLV value cut", monitor_body(options=options_area(tlv(3, b"\0\0", length=4))),
     False, "optionsTruncated"),
    ("options: sample of 3 octets", monitor_body(options=options_area(tlv(3, b"\0\0\2"))), False,
     "optionsLength"),
    ("options: filter length 7 for 6 octets of fields",
     monitor_body(options=options_area(tlv(2, bytes(7)))), False, "optionsLength"),
    ("options: direction twice",
     monitor_body(options=options_area(direction_tlv(1), direction_tlv(2))), False,
     "optionsDuplicate"),
    ("options: unknown mandatory TLV 7",
     monitor_body(options=options_area(tlv(7, b"\0"))), False, "optionsUnknownMandatory"),
    ("options: truncate 63", monitor_body(options=options_area(truncate_tlv(63))), False,
     "optionsValue"),
    ("options: UDF offset 127",
     monitor_body(options=options_area(filter_tlv(udfs=[(2, 127, 0, 0xffff)]))), False,
     "optionsValue"),
    ("options: ports without TCP/UDP/SCTP",
     monitor_body(options=options_area(filter_tlv(proto=1, dport=(1, 2)))), False,
     "optionsValue"),
    ("options: host bits set in 10.1.2.0/23",
     monitor_body(options=options_area(filter_tlv(family=4, src=(ipb("10.1.3.0"), 23)))), False,
     "optionsValue"),
    ("options: two full IPv6 lines do not fit (193 octets canonically)",
     monitor_body(host_mac=b"", server_ip=b"", options=options_area(*[
         filter_tlv(family=6, src=(bytes(16), 128), dst=(bytes(16), 128), proto=17,
                    sport=(1, 1), dport=(2, 2), udfs=[(0, 0, 0, 0)] * 8)] * 2)), False,
     "optionsValue"),
    ("options version 2 in a withdrawal (ignored)", monitor_body(options=options_area(version=2)),
     True, "ok"),
    ("options error after a key error: the key's reason first",
     monitor_body(vni=0, options=options_area(version=9)), False, "vniZero"),
    ("HOST ID 0", monitor_body(host_id=0), False, "hostIdOutOfRange"),
    ("HOST ID 70000", monitor_body(host_id=70000), False, "hostIdOutOfRange"),
    ("no host", monitor_body(host_mac=b"", host_ip=b""), False, "noHost"),
    ("multicast host MAC", monitor_body(host_mac=MC), False, "hostMacNotUnicast"),
    ("broadcast host MAC", monitor_body(host_mac=b"\xff" * 6), False, "hostMacNotUnicast"),
    ("zero host MAC", monitor_body(host_mac=bytes(6)), False, "hostMacNotUnicast"),
    ("multicast server MAC", monitor_body(server_mac=MC), False, "serverMacNotUnicast"),
    ("VNI 0", monitor_body(vni=0), False, "vniZero"),
    ("HOST ID 0 and VNI 0 and multicast host MAC (all flagged)",
     monitor_body(host_id=0, vni=0, host_mac=MC), False, "hostIdOutOfRange"),
    ("multicast host MAC in a withdrawal", monitor_body(host_mac=MC), True, "hostMacNotUnicast"),
    # destination kinds and collector routes
    ("destination kind 2", monitor_body(dest=2), False, "destination"),
    ("destination kind 255 in a withdrawal", monitor_body(dest=255), True, "destination"),
    ("HOST ID field: second octet not 0", collector_body(collector_id=0x10007), False,
     "hostIdOutOfRange"),
    ("collector ID 0", collector_body(collector_id=0), False, "hostIdOutOfRange"),
    ("collector with a server MAC", collector_body(server_mac=mac("02:00:00:00:00:21")), False,
     "destination"),
    ("collector without a collector IP", collector_body(collector_ip=b""), False, "destination"),
    ("collector without options", collector_body(options=b""), False, "destination"),
    ("collector with a profile but no ERSPAN TLV",
     collector_body(options=options_area(truncate_tlv(128))), False, "destination"),
    ("server route with the ERSPAN TLV", monitor_body(options=options_area(erspan_tlv())), False,
     "destination"),
    ("collector with a server MAC and no options: the server fields first",
     collector_body(server_mac=MC, options=b""), False, "destination"),
    ("collector, VNI 0 and no options: the key first", collector_body(vni=0, options=b""), False,
     "vniZero"),
    ("collector with a server MAC and no ERSPAN TLV, withdrawn (only the key matters)",
     collector_body(options=b"", server_mac=MC), True, "ok"),
    ("options: ERSPAN version 4", collector_body(options=options_area(erspan_tlv(4))), False,
     "optionsValue"),
    ("options: ERSPAN version 0", collector_body(options=options_area(erspan_tlv(0))), False,
     "optionsValue"),
    ("options: ERSPAN flags 0x01",
     collector_body(options=options_area(erspan_tlv(flags=1), direction_tlv(1), direction_tlv(1))),
     False, "optionsValue"),
    ("options: ERSPAN session ID 1024", collector_body(options=options_area(erspan_tlv(span_id=1024))),
     False, "optionsValue"),
    ("options: ERSPAN DSCP 64", collector_body(options=options_area(erspan_tlv(dscp=64))), False,
     "optionsValue"),
    ("options: ERSPAN TTL 0", collector_body(options=options_area(erspan_tlv(ttl=0))), False,
     "optionsValue"),
    ("options: ERSPAN length 7", collector_body(options=options_area(tlv(6, erspan_tlv()[2:9]))),
     False, "optionsLength"),
    ("options: ERSPAN twice", collector_body(options=options_area(erspan_tlv(), erspan_tlv(2))),
     False, "optionsDuplicate"),
    # 178 octets of profile fit on their own; with the ERSPAN TLV, 188 do not
    ("options: profile + ERSPAN TLV above 182 octets",
     collector_body(host_ip=b"", options=options_area(
         direction_tlv(1), sample_tlv(2), truncate_tlv(64), police_tlv(1, 1, 1),
         filter_tlv(family=6, src=(bytes(16), 128), dst=(bytes(16), 128), proto=17,
                    sport=(1, 1), dport=(2, 2), udfs=[(0, 0, 0, 0)] * 8),
         filter_tlv(family=6, src=(bytes(16), 120), proto=17, udfs=[(0, 0, 0, 0)] * 2),
         name_tlv("sixteen-octets-x"), erspan_tlv())), False, "optionsValue"),
]
FOLLOWER = monitor_body(host_id=99, host_mac=mac("02:00:00:00:09:99"))


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, codec):
    """One pcap with every crafted case; returns (path, case index by frame)."""
    w = PcapWriter()
    cases: dict[int, tuple] = {}
    cases[w.add(open_msg([MP_EVPN_CAP, (239, b"\xfe")]))] = ("cap", "plain", [254], [])
    cases[w.add(open_msg([MP_EVPN_CAP, (239, b"\xfe\xc8")], extended=True))] = (
        "cap", "RFC 9072 extended parameters, two types", [254, 200], [])
    cases[w.add(open_msg([MP_EVPN_CAP, (239, b"")]))] = ("cap", "empty", [], ["evpnmon.cap.empty"])
    cases[w.add(open_msg([], raw_params=bytes([2, 3, 239, 3, 254])))] = (
        "cap", "length past the parameter", [254], ["evpnmon.cap.truncated"])
    for name, kw, where, want in VALID:
        body = monitor_body(**kw)
        nl = evpn_nlri(254, body)
        attr = mp_reach(nl) if where == "reach" else mp_unreach(nl)
        cases[w.add(update(attr, reach=where == "reach"))] = ("valid", name, body,
                                                              where == "unreach", want)
    # an IMET the stock dissector decodes, two monitor NLRIs, an IMET it
    # does not reach any more
    two = [monitor_body(host_id=1), monitor_body(host_id=2, host_ip=b"")]
    cases[w.add(update(mp_reach(imet("10.0.0.101") + evpn_nlri(254, two[0])
                                + evpn_nlri(254, two[1]) + imet("10.0.0.102"))))] = (
        "mixed", "IMET, 2 x monitor, IMET", two)
    for name, body, wd, reason in MALFORMED:
        nl = evpn_nlri(254, body) + evpn_nlri(254, FOLLOWER)
        attr = mp_unreach(nl) if wd else mp_reach(nl)
        cases[w.add(update(attr, reach=not wd))] = ("bad", name, body, wd, reason)
    # length runs past the attribute: 49 announced, 20 there; and 60
    # announced where the 49 octets there would be a whole valid route:
    # bgpd decodes neither (truncated, ignored)
    body = monitor_body()
    cases[w.add(update(mp_reach(imet() + evpn_nlri(254, body[:20], length=49))))] = (
        "overrun", "49 announced, 20 there", body[:20], False, "truncated")
    cases[w.add(update(mp_reach(evpn_nlri(254, body, length=60))))] = (
        "overrun", "60 announced, a valid 49-octet body there", body, False, "truncated")
    # one stray octet after the last NLRI
    cases[w.add(update(mp_reach(evpn_nlri(254, FOLLOWER) + b"\xfe")))] = (
        "stray", "1 octet after the last NLRI")
    path = w.write(tmp_path_factory.mktemp("crafted") / "crafted.pcap")
    return path, cases


@pytest.fixture(scope="module")
def crafted_json(crafted):
    path, _ = crafted
    return tshark_json(path), tshark_json(path, plugin=False)


def test_crafted_valid_routes_decode_every_field(crafted, crafted_json, codec):
    _, cases = crafted
    pkts, _ = crafted_json
    nl = by_frame(monitor_nlris(pkts))
    checked = 0
    for fr, c in cases.items():
        if c[0] != "valid":
            continue
        _, name, body, wd, want = c
        reason, dec = codec.decode(body, wd)
        assert reason == "ok", f"{name}: test case not valid for the codec: {reason}"
        (n,) = nl.get(fr, [None])
        assert n, f"{name}: frame {fr} has no evpnmon.nlri"
        assert_fields_equal_codec(n, dec, name)
        for k, v in want.items():
            assert n.get(k) == v, f"{name}: evpnmon.nlri.{k} = {n.get(k)!r}, encoded {v!r}"
        assert n["route_type"] == "254" and n["length"] == str(len(body))
        assert n["status"] == "ok", name
        assert n["action"] == ("withdraw" if wd else "install"), name
        assert n["withdrawal"] == ("1" if wd else "0") and n["attribute"] == ("15" if wd else "14")
        bad = [e for e in n.experts if e.startswith("evpnmon.malformed")]
        assert not bad, f"{name}: flagged {bad}"
        if int(n["flags"], 16):
            assert "evpnmon.flags_not_zero" in n.experts, f"{name}: reserved flags not noted"
        checked += 1
    assert checked == len(VALID)


def test_crafted_options_decode_as_the_codec(crafted, crafted_json, codec):
    """Every option of a valid route: the evpnmon.opt.* fields are the
    values the C codec decodes (same TLVs, lines and UDFs, in order); an
    unknown optional TLV is shown as such and noted, not flagged."""
    _, cases = crafted
    pkts, _ = crafted_json
    checked = 0
    for fr, c in cases.items():
        if c[0] != "valid" or "options_length" not in c[4] and "profile" not in c[1]:
            continue
        _, name, body, wd, _ = c
        reason, _ = codec.decode(body, wd)
        assert reason == "ok", name
        want = codec.last_options
        assert want is not None, f"{name}: the codec decoded no profile"
        em = layers(pkts[fr - 1])["evpnmon"]
        (nl,) = as_list(em["evpnmon.nlri"])
        got = {k: v for k, v in flat(nl, "evpnmon.opt.").items()
               if k.rsplit(".", 1)[0] not in ("evpnmon.opt.tlv",)
               and k not in ("evpnmon.opt.version", "evpnmon.opt.status", "evpnmon.opt.filter",
                             "evpnmon.opt.filter.port_flags", "evpnmon.opt.unknown",
                             "evpnmon.opt.unknown_optional", "evpnmon.opt.ignored_in_withdrawal")}
        assert got == want, f"{name}: dissector {got}\ncodec {want}"
        assert flat(nl, "evpnmon.opt.")["evpnmon.opt.status"] == ["ok"], name
        assert flat(nl, "evpnmon.opt.")["evpnmon.opt.version"] == ["1"], name
        if "unknown optional" in name:
            assert flat(nl, "evpnmon.opt.")["evpnmon.opt.unknown"] == ["01:02:03"], name
            assert "evpnmon.opt.unknown_optional" in expert_names(nl), name
        checked += 1
    assert checked == 7


def test_crafted_mixed_attribute(crafted, crafted_json, codec):
    """Route types 1-5 before a type-254 NLRI stay the stock dissector's; both
    monitor NLRIs are decoded; the IMET the stock dissector no longer
    reaches is listed as evpnmon.other_nlri."""
    _, cases = crafted
    pkts, _ = crafted_json
    (fr,) = [f for f, c in cases.items() if c[0] == "mixed"]
    pkt = pkts[fr - 1]
    assert frame_no(pkt) == fr
    ns = [n for n in monitor_nlris([pkt])]
    assert [n["host_id"] for n in ns] == ["1", "2"]
    for n, body in zip(ns, cases[fr][2]):
        reason, dec = codec.decode(body, False)
        assert reason == "ok" and n["status"] == "ok"
        assert_fields_equal_codec(n, dec, f"mixed #{n['host_id']}")
    stock_rt = [v for k, v in _walk(layers(pkt)["bgp"]) if k == "bgp.evpn.nlri.rt"]
    assert stock_rt[:1] == ["3"], f"stock dissector decodes the leading IMET: {stock_rt}"
    other = as_list(layers(pkt)["evpnmon"].get("evpnmon.other_nlri"))
    assert [o["evpnmon.other_nlri.route_type"] for o in other] == ["3"]
    assert [o["evpnmon.other_nlri.length"] for o in other] == ["17"]


def _walk(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)):
                yield from _walk(v)
            else:
                yield k, v
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def test_crafted_malformed_routes_are_flagged(crafted, crafted_json, codec):
    """Every malformation: tshark exits 0 (asserted by tshark_json), the NLRI
    carries the codec's reason (evpnmon.nlri.status) and the receiver's
    action, an expert info evpnmon.malformed.<reason> whose text names it,
    and the next NLRI of the same attribute is still decoded."""
    _, cases = crafted
    pkts, _ = crafted_json
    nl = by_frame(monitor_nlris(pkts))
    seen = set()
    for fr, c in cases.items():
        if c[0] not in ("bad", "overrun"):
            continue
        kind, name, body, wd, reason = c
        # an overrunning NLRI never reaches the codec (bgpd's core says so)
        got_reason, dec = ("truncated", None) if kind == "overrun" else codec.decode(body, wd)
        assert got_reason == reason, f"{name}: the codec says {got_reason}, the case expects {reason}"
        ns = nl.get(fr, [])
        assert ns, f"{name}: frame {fr} has no evpnmon.nlri"
        n = ns[0]
        assert n["status"] == reason, f"{name}: status {n['status']}, codec {reason}"
        want_action = ("ignore" if reason in STRUCTURAL else
                       ("withdraw" if wd else "install") if reason == "ok" else "treat-as-withdraw")
        assert n["action"] == want_action, name
        if reason != "ok":
            ex = f"evpnmon.malformed.{reason}"
            assert ex in n.experts, f"{name}: experts {n.experts}"
            msg = [m for m in n.messages if f"({reason})" in m]
            assert msg and codec.strerror(reason) in msg[0], f"{name}: {n.messages}"
            # no other reason flagged for a structural error
            if reason in STRUCTURAL:
                assert [e for e in n.experts if e.startswith("evpnmon.malformed.")] == [ex], name
            seen.add(reason)
        if dec is not None:      # key readable: every field as the codec has it
            assert_fields_equal_codec(n, dec, name)
        if reason in OPTIONS_REASONS:
            assert n["status"] == reason and n["action"] == "treat-as-withdraw", name
        if wd and "options" in name:
            assert "evpnmon.opt.ignored_in_withdrawal" in n.experts, f"{name}: {n.experts}"
        if kind == "overrun":
            assert "evpnmon.overrun" in n.experts, f"{name}: overrun not flagged: {n.experts}"
            assert int(n["available"]) == len(body) < int(n["length"])
            assert len(ns) == 1, f"{name}: nothing may follow an overrunning NLRI"
        else:
            assert len(ns) == 2, f"{name}: the NLRI after the malformed one was not decoded"
            assert ns[1]["host_id"] == "99" and ns[1]["status"] == "ok", name
            assert "evpnmon.overrun" not in n.experts
    # every reason a receiver can meet: tooLong (a body above 255 octets)
    # cannot be written in a one-octet length, and octets after the last key
    # field are an options area now (no more trailingOctets)
    assert seen == (STRUCTURAL - {"tooLong", "trailingOctets"}) | OPTIONS_REASONS | {
        "hostIdOutOfRange", "noHost", "hostMacNotUnicast", "serverMacNotUnicast", "vniZero",
        "destination"}


def test_crafted_every_semantic_error_is_flagged_and_withdrawal_rules(crafted, crafted_json):
    _, cases = crafted
    pkts, _ = crafted_json
    nl = by_frame(monitor_nlris(pkts))
    for fr, c in cases.items():
        if c[0] == "bad" and c[1].startswith("HOST ID 0 and VNI 0"):
            n = nl[fr][0]
            assert sorted(e for e in n.experts if e.startswith("evpnmon.malformed")) == sorted(
                ["evpnmon.malformed.hostIdOutOfRange", "evpnmon.malformed.vniZero",
                 "evpnmon.malformed.hostMacNotUnicast"])
            assert n["status"] == "hostIdOutOfRange"       # the codec's first reason
        if c[0] == "bad" and c[1] == "multicast host MAC in a withdrawal":
            n = nl[fr][0]
            assert n["withdrawal"] == "1" and n["action"] == "treat-as-withdraw"
    # the server MAC is not checked in a withdrawal (valid case "withdrawal
    # with zero server MAC" decodes as ok, asserted above); in an
    # advertisement it is
    (fr,) = [f for f, c in cases.items() if c[0] == "bad" and c[1] == "multicast server MAC"]
    assert nl[fr][0]["status"] == "serverMacNotUnicast"


def test_crafted_stray_octet_and_no_internal_error(crafted, crafted_json):
    _, cases = crafted
    pkts, _ = crafted_json
    (fr,) = [f for f, c in cases.items() if c[0] == "stray"]
    em = layers(pkts[fr - 1])["evpnmon"]
    assert "evpnmon.evpn_header_short" in expert_names(em)
    assert [n["status"] for n in monitor_nlris([pkts[fr - 1]])] == ["ok"]
    for p in pkts:
        assert "evpnmon.internal_error" not in expert_names(layers(p).get("evpnmon", {})), \
            f"frame {frame_no(p)}: the plugin hit an internal error"


def test_crafted_capability_239(crafted, crafted_json):
    _, cases = crafted
    pkts, _ = crafted_json
    caps = {fr: (types, ex) for fr, types, ex in capabilities(pkts)}
    for fr, c in cases.items():
        if c[0] != "cap":
            continue
        _, name, types, want_ex = c
        assert fr in caps, f"capability 239 ({name}) not decoded in frame {fr}"
        assert caps[fr][0] == types, f"{name}: route types {caps[fr][0]}"
        assert sorted(caps[fr][1]) == sorted(want_ex), f"{name}: experts {caps[fr][1]}"
        assert bgp_types(pkts[fr - 1]) == ["1"]
    assert set(caps) == {fr for fr, c in cases.items() if c[0] == "cap"}


def test_crafted_stock_tree_unchanged_and_stock_marks_malformed(crafted, crafted_json):
    """The plugin leaves the BGP dissector's tree exactly as it is (same JSON
    for the bgp layer of every frame); without the plugin the frames with a
    type-254 NLRI carry tshark's malformed marking and nothing decodes them."""
    _, cases = crafted
    with_p, without = crafted_json
    assert len(with_p) == len(without) == len(cases)
    for a, b in zip(with_p, without):
        assert layers(a)["bgp"] == layers(b)["bgp"], f"frame {frame_no(a)}: BGP tree changed"
        assert "evpnmon" not in layers(b)
    for fr, c in cases.items():
        if c[0] in ("valid", "bad", "overrun", "mixed", "stray"):
            marks = stock_254_marks(without[fr - 1])
            assert marks, f"frame {fr} ({c[1]}): no stock malformed marking without the plugin"
            assert all(m["_ws.expert.group"] == PI_MALFORMED for m in marks)
            assert "evpnmon" in layers(with_p[fr - 1])


def test_crafted_filter_names(crafted):
    """The documented filter names select the right frames."""
    path, cases = crafted

    def frames(flt: str) -> list[int]:
        r = tshark(["-r", str(path), "-Y", flt, "-T", "fields", "-e", "frame.number"])
        assert r.returncode == 0, r.stderr
        return [int(x) for x in r.stdout.split()]

    def case_frames(pred) -> list[int]:
        return sorted(f for f, c in cases.items() if pred(c))

    assert frames('evpnmon.nlri.status == "hostIdOutOfRange"') == case_frames(
        lambda c: c[0] == "bad" and c[4] == "hostIdOutOfRange")
    assert frames("evpnmon.malformed.tooShort") == case_frames(
        lambda c: c[0] in ("bad", "overrun") and c[4] == "tooShort")
    assert frames("evpnmon.nlri.host_mac == 01:00:5e:00:00:01") == case_frames(
        lambda c: c[0] == "bad" and c[2][20:27] == bytes([48]) + MC)
    assert frames("evpnmon.nlri.host_id == 4242 && evpnmon.nlri.host_ipv6 == 2001:db8:100::210") \
        == case_frames(lambda c: c[0] == "valid" and c[1] == "everything IPv6")
    assert frames("evpnmon.cap.route_type == 200") == case_frames(
        lambda c: c[0] == "cap" and 200 in c[2])
    assert frames("evpnmon.overrun") == case_frames(lambda c: c[0] == "overrun")
    assert frames('evpnmon.opt.name == "roce"') == case_frames(
        lambda c: c[0] == "valid" and b"\x81\x04roce" in c[2])
    assert frames("evpnmon.malformed.optionsDuplicate") == case_frames(
        lambda c: c[0] == "bad" and c[4] == "optionsDuplicate")
    assert frames('evpnmon.nlri.action == "withdraw"') == case_frames(
        lambda c: c[0] in ("valid", "bad") and c[3])
    # every semantic error is flagged: the VNI 0 collector without options too
    assert frames("evpnmon.malformed.destination") == case_frames(
        lambda c: c[0] == "bad" and (c[4] == "destination" or c[1].startswith("collector, VNI 0")))
    assert frames("evpnmon.nlri.collector_id == 7 && evpnmon.nlri.collector_ip == 10.9.0.1 && "
                  'evpnmon.opt.erspan.version == 3 && evpnmon.nlri.rd == "10.0.0.103:2"') == case_frames(
        lambda c: c[0] == "valid" and c[1].startswith("collector: the docs'"))
    assert frames("evpnmon.opt.erspan.gre_proto == 0x8949") == case_frames(
        lambda c: c[0] == "valid" and "GRE protocol of its own" in c[1])


def test_crafted_tcp_segmentation(tmp_path):
    """A message split across TCP segments (decoded from the reassembled
    data, in the frame that completes it) and several messages in one
    segment (each decoded)."""
    w = PcapWriter()
    op = open_msg([MP_EVPN_CAP, (239, b"\xfe")])
    up = [update(mp_reach(evpn_nlri(254, monitor_body(host_id=h)))) for h in (11, 12, 13)]
    w.add(op + up[0][:30])
    f2 = w.add(up[0][30:])
    f3 = w.add(up[1] + up[2])
    pkts = tshark_json(w.write(tmp_path / "seg.pcap"))
    assert [fr for fr, _, _ in capabilities(pkts)] == [1]
    assert [(n.frame, n["host_id"], n["status"]) for n in monitor_nlris(pkts)] == [
        (f2, "11", "ok"), (f3, "12", "ok"), (f3, "13", "ok")]


RANDOM_AREAS = [
    options_area(),
    options_area(direction_tlv(1), CNP, name_tlv("cnp")),
    options_area(NAK, sample_tlv(1000), truncate_tlv(64), police_tlv(1, 10, 10)),
    options_area(filter_tlv(family=6, proto=6, src=(ipb("2001:db8::"), 32), dport=(80, 90)),
                 tlv(0xc0, b"xyz"), police_tlv(2, 8000, 1)),
    options_area(filter_tlv(family=4, dst=(ipb("192.168.0.0"), 16), udfs=[(0, 9, 0x11, 0xff)])),
    options_area(erspan_tlv()),
    options_area(direction_tlv(2), erspan_tlv(2, 1023, 63, 255, 0x8949), name_tlv("er")),
]


def test_random_nlris_match_the_codec(tmp_path, codec):
    """600 NLRIs (valid routes of random shapes, then mutated: octets
    flipped, cut, appended, a length octet replaced) in MP_REACH or
    MP_UNREACH: the dissector's reason is the codec's for every one, and for
    every readable key every field is the codec's."""
    rng = random.Random(14254)
    w = PcapWriter()
    want = {}
    macs = [mac("02:00:00:00:02:10"), MC, b"\xff" * 6, bytes(6), mac("00:11:22:33:44:55")]
    for _ in range(600):
        # a collector's HOST ID field (kind 1) and unknown kinds among them
        kw = dict(host_id=rng.choice([0, 1, 21, 65535, 65536, rng.randrange(1 << 32),
                                      (1 << 24) | 7, (1 << 24) | 65535, (1 << 24) | 0x10007,
                                      (2 << 24) | 7]),
                  vni=rng.choice([0, 100, 0xFFFFFF]), flags=rng.choice([0, 0, 1]),
                  host_mac=rng.choice(macs + [b""]),
                  host_ip=rng.choice([b"", ipb("192.168.100.210"), ipb("2001:db8::1")]),
                  server_mac=rng.choice(macs),
                  server_ip=rng.choice([b"", ipb("192.168.100.21"), ipb("2001:db8::21")]))
        body = bytearray(monitor_body(**kw))
        m = rng.randrange(9)
        if m >= 6:          # a valid key, then an options area, valid or mutated
            if rng.random() < 0.5:      # as a collector route, or as a server route
                body = bytearray(collector_body(host_ip=kw["host_ip"],
                                                collector_ip=kw["server_ip"], options=b""))
            else:
                body = bytearray(monitor_body(host_ip=kw["host_ip"], server_ip=kw["server_ip"]))
            area = bytearray(rng.choice(RANDOM_AREAS))
            if m == 7:
                area[rng.randrange(len(area))] = rng.randrange(256)
            elif m == 8:
                area = area[:rng.randrange(1, len(area) + 1)]
            body += area
        if m == 1:
            body[rng.randrange(len(body))] = rng.randrange(256)
        elif m == 2:
            body = body[:rng.randrange(len(body))]
        elif m == 3:
            body += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        elif m == 4:        # replace one length octet with a random value
            pos = [20, 21 + (len(kw["host_mac"]))]
            body[rng.choice(pos)] = rng.choice([0, 8, 32, 48, 64, 128, 255])
        body = bytes(body[:255])
        wd = rng.random() < 0.3
        nl = evpn_nlri(254, body)
        fr = w.add(update(mp_unreach(nl) if wd else mp_reach(nl), reach=not wd))
        want[fr] = codec.decode(body, wd) + (body, wd)
    path = w.write(tmp_path / "random.pcap")
    nl = by_frame(monitor_nlris(tshark_json(path)))
    reasons = set()
    for fr, (reason, dec, body, wd) in want.items():
        (n,) = nl[fr]
        assert n["status"] == reason, f"frame {fr}: {body.hex()} withdraw={wd}: " \
                                      f"dissector {n['status']}, codec {reason}"
        if dec is not None:
            assert_fields_equal_codec(n, dec, f"frame {fr}: {body.hex()}")
        reasons.add(reason)
    assert len(reasons) >= 17, f"the random cases cover too few reasons: {sorted(reasons)}"
    assert "destination" in reasons


def test_random_messages_never_break_the_plugin(tmp_path):
    """400 OPEN/UPDATE messages with random or corrupted attribute, NLRI and
    capability octets (lengths that lie included): tshark exits 0, no Lua
    error, never the plugin's internal-error expert info."""
    rng = random.Random(239)
    w = PcapWriter()

    def rnd(n):
        return bytes(rng.randrange(256) for _ in range(n))
    for i in range(400):
        k = rng.randrange(5)
        if k == 0:          # OPEN, random capability octets (a 239 among them)
            caps = [(rng.choice([239, 239, 1, 65, 200]), rnd(rng.randrange(6)))
                    for _ in range(rng.randrange(1, 4))]
            msg = bytearray(open_msg(caps, extended=rng.random() < 0.3))
        elif k == 1:        # MP_REACH, random EVPN NLRI octets starting with 254
            msg = bytearray(update(mp_reach(bytes([254]) + rnd(rng.randrange(80)))))
        elif k == 2:        # MP_UNREACH with a random run of NLRIs
            nl = b"".join(evpn_nlri(rng.choice([254, 3, 254, 0, 9]), rnd(rng.randrange(60)))
                          for _ in range(rng.randrange(1, 4)))
            msg = bytearray(update(mp_unreach(nl), reach=False))
        else:               # a valid message with one octet after the header changed
            msg = bytearray(update(mp_reach(evpn_nlri(254, monitor_body()) + imet())))
            msg[19 + rng.randrange(len(msg) - 19)] = rng.randrange(256)
        w.add(bytes(msg))
    pkts = tshark_json(w.write(tmp_path / "garbage.pcap"))
    assert len(pkts) == 400
    for p in pkts:
        assert "evpnmon.internal_error" not in expert_names(layers(p).get("evpnmon", {})), \
            f"frame {frame_no(p)}: {layers(p).get('evpnmon')}"
    assert len(monitor_nlris(pkts)) > 100, "the garbage hardly reached the NLRI decoder"
    r = tshark(["-r", str(tmp_path / "garbage.pcap"), "-V"])
    assert r.returncode == 0 and "Lua" not in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# a capture taken in the reference fabric
# ---------------------------------------------------------------------------

HOST_MAC, HOST_IP, HOST_ID = "02:00:00:00:02:10", "192.168.100.210", 21
SERVER_MAC, SERVER_IP = "02:00:00:00:00:21", "192.168.100.21"
NEW_SERVER_MAC, NEW_SERVER_IP = "02:00:00:00:00:23", "192.168.100.23"
AF = ["configure terminal", "router bgp 65101", "address-family l2vpn evpn"]


def spine_session(lab) -> dict | None:
    for s in lab.vtysh_json("spine", "show bgp l2vpn evpn monitor json")["sessions"]:
        if s.get("hostMac") == HOST_MAC and s.get("hostId") == HOST_ID:
            return s
    return None


def test_lab_capture_decodes_what_was_configured(lab, tmp_path):
    spine_if = lab.link_of("spine", "vtep101").iface("spine")
    cap = F.Capture(lab, "spine", spine_if, tmp_path / "bgp.pcap", "tcp port 179")
    try:
        # 1. configure: MAC+IPv4 host, server with an IP
        lab.vtysh("vtep101", AF + [f"monitor server {HOST_ID} mac {SERVER_MAC} ip {SERVER_IP}",
                                   f"monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} "
                                   f"server {HOST_ID}"])
        lab.wait_for(lambda: (spine_session(lab) or {}).get("serverMac") == SERVER_MAC,
                     timeout=20, what="session on the spine")
        (local,) = [s for s in lab.vtysh_json("vtep101", "show bgp l2vpn evpn monitor json")[
            "sessions"] if s.get("hostMac") == HOST_MAC and s.get("hostId") == HOST_ID]
        assert local["origin"] == "local"
        rds = [k for k, v in lab.vtysh_json("vtep101", "show bgp l2vpn evpn route type monitor "
                                            "json").items() if isinstance(v, dict)]
        assert rds == [local["rd"]], rds
        # 2. change the server (MAC and IP): an implicit replace
        lab.vtysh("vtep101", AF + [f"monitor server {HOST_ID} mac {NEW_SERVER_MAC} "
                                   f"ip {NEW_SERVER_IP}"])
        lab.wait_for(lambda: (spine_session(lab) or {}).get("serverIp") == NEW_SERVER_IP,
                     timeout=20, what="changed server on the spine")
        # 3. restart the BGP session: OPENs both ways, the route sent again
        conns = lab.vtysh_json("spine", "show bgp neighbors 10.1.0.1 json")["10.1.0.1"].get(
            "connectionsEstablished", 0)
        lab.vtysh("vtep101", "clear bgp *")
        lab.wait_for(lambda: lab.vtysh_json("spine", "show bgp neighbors 10.1.0.1 json")[
            "10.1.0.1"].get("connectionsEstablished", 0) > conns and lab.bgp_established("vtep101"),
            timeout=60, what="vtep101's session re-established")
        lab.wait_for(lambda: (spine_session(lab) or {}).get("serverIp") == NEW_SERVER_IP,
                     timeout=30, what="session back on the spine after the clear")
        # 4. remove: a withdrawal
        lab.vtysh("vtep101", AF + [f"no monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} "
                                   f"server {HOST_ID}"])
        lab.wait_for(lambda: spine_session(lab) is None, timeout=20,
                     what="session withdrawn from the spine")
    finally:
        cap.stop()

    path = tmp_path / "bgp.pcap"
    pkts = tshark_json(path)
    src = {frame_no(p): layers(p).get("ip", {}).get("ip.src") for p in pkts}
    ours = [n for n in monitor_nlris(pkts)
            if n.get("host_id") == str(HOST_ID) and n.get("host_mac") == HOST_MAC]
    assert ours, f"no monitor-config NLRI of the session decoded in {path}"
    # vtep101 -> spine: the originator's UPDATEs (checked in sequence below);
    # spine -> vtep101 (FRR 8.4 sends them; vtep101 drops them on the AS
    # path): the spine's re-advertisement, same key fields (checked next)
    relayed = [n for n in ours if src[n.frame] == "10.1.0.0"]

    key = dict(route_type="254", rd=local["rd"], eth_tag="0", vni=str(local["vni"]),
               host_id=str(HOST_ID), host_mac_len="48", host_mac=HOST_MAC, host_ip_len="32",
               host_ip=HOST_IP, orig_ip_len="32", orig_ip=local["originatorIp"], status="ok")
    assert local["vni"] == 100 and local["rd"] == "10.0.0.101:100"
    assert local["originatorIp"] == "10.0.0.101"
    for n in ours:
        for k, v in key.items():
            assert n.get(k) == v, f"frame {n.frame}: evpnmon.nlri.{k} = {n.get(k)!r}, want {v!r}"
        assert "host_ipv6" not in n.fields
        assert not [e for e in n.experts if e.startswith("evpnmon.malformed")], n.experts

    ours = [n for n in ours if src[n.frame] == "10.1.0.1"]
    reach = [n for n in ours if n["attribute"] == "14"]
    unreach = [n for n in ours if n["attribute"] == "15"]
    for n in reach + [n for n in relayed if n["attribute"] == "14"]:
        assert (n["withdrawal"], n["action"], n["flags"], n["server_mac_len"],
                n["server_ip_len"], n["length"]) == ("0", "install", "0x00", "48", "32", "49")
    servers = [(n["server_mac"], n["server_ip"]) for n in reach]
    assert servers[0] == (SERVER_MAC, SERVER_IP), servers
    i = servers.index((NEW_SERVER_MAC, NEW_SERVER_IP))
    assert set(servers[:i]) == {(SERVER_MAC, SERVER_IP)}, servers
    assert set(servers[i:]) == {(NEW_SERVER_MAC, NEW_SERVER_IP)}, servers

    # the removal is the one withdrawal (a server change is an implicit
    # replace, not a withdrawal), after every advertisement
    assert len(unreach) == 1, [(n.frame, n["attribute"]) for n in ours]
    (wd,) = unreach
    assert (wd["withdrawal"], wd["action"]) == ("1", "withdraw")
    assert wd.frame > max(n.frame for n in reach)
    # a withdrawal needs only the key: bgpd sends the server fields it still
    # has, or a zero MAC and no IP (docs/wire-format.md, "Path attributes")
    assert (wd["server_mac"], wd.get("server_ip")) in (
        ("00:00:00:00:00:00", None), (NEW_SERVER_MAC, NEW_SERVER_IP)), wd.fields
    assert wd["length"] == ("45" if wd.get("server_ip") is None else "49")

    # capability 239 in the OPENs of both sides, after the clear; the route
    # with the new server was advertised again on the new connection
    caps = capabilities(pkts)
    opens = {}
    for fr, types, ex in caps:
        assert "1" in bgp_types(pkts[fr - 1]), f"frame {fr}: capability outside an OPEN"
        assert types == [254] and not ex, (fr, types, ex)
        opens.setdefault(src[fr], fr)
    assert set(opens) == {"10.1.0.1", "10.1.0.0"}, f"OPENs with capability 239: {caps}"
    assert any(n.frame > max(opens.values()) for n in reach[i:]), \
        "the route was not advertised again after the session restart"

    # -V shows every field (the reference text of an advertisement)
    r = tshark(["-r", str(path), "-V", "-Y", f"evpnmon.nlri.host_id == {HOST_ID}"])
    assert r.returncode == 0, r.stderr
    assert (f"Monitor-config NLRI (MP_REACH_NLRI): HOST ID {HOST_ID}, host {HOST_MAC} {HOST_IP}, "
            f"VNI 100, RD 10.0.0.101:100, server {SERVER_MAC} {SERVER_IP}, originator 10.0.0.101"
            in r.stdout), r.stdout[-4000:]
    for line in ("HOST ID: 21", "Host MAC Length (bits): 48", f"Host IPv4: {HOST_IP}",
                 f"Server IPv4: {NEW_SERVER_IP}", "Originating Router's IP: 10.0.0.101",
                 "Route Distinguisher: 10.0.0.101:100", "VNI: 100"):
        assert line in r.stdout, line
    r = tshark(["-r", str(path), "-V", "-Y", "evpnmon.cap"])
    assert "Capability 239, EVPN extension route types: 254 (monitor-config)" in r.stdout

    # without the plugin: the same frames carry tshark's malformed marking;
    # the BGP tree is the same with and without the plugin
    stock = tshark_json(path, plugin=False)
    assert len(stock) == len(pkts)
    for a, b in zip(pkts, stock):
        assert layers(a).get("bgp") == layers(b).get("bgp"), f"frame {frame_no(a)}: BGP tree changed"
    for n in ours + relayed:
        assert stock_254_marks(stock[n.frame - 1]), f"frame {n.frame}: no stock marking"
        assert "evpnmon" not in layers(stock[n.frame - 1])


COLLECTOR, COLL_IP, NEW_COLL_IP = 7, "10.9.0.1", "10.9.0.2"


def spine_collector_session(lab) -> dict | None:
    for s in lab.vtysh_json("spine", "show bgp l2vpn evpn monitor json")["sessions"]:
        if s.get("hostMac") == HOST_MAC and s.get("collectorId") == COLLECTOR:
            return s
    return None


def test_lab_capture_decodes_a_collector_session(lab, tmp_path):
    """A collector session configured on vtep101, its collector changed (IP,
    ERSPAN type, GRE protocol) and the session removed: the capture on the
    spine's link decodes to the destination kind, collector ID and IP and the
    ERSPAN TLV as configured, the change as an implicit replace, the removal
    as a withdrawal."""
    spine_if = lab.link_of("spine", "vtep101").iface("spine")
    cap = F.Capture(lab, "spine", spine_if, tmp_path / "bgp.pcap", "tcp port 179")
    session = f"monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} collector {COLLECTOR}"
    try:
        lab.vtysh("vtep101", AF + [f"monitor collector {COLLECTOR} ip {COLL_IP} erspan 3 dscp 10",
                                   session])
        lab.wait_for(lambda: (spine_collector_session(lab) or {}).get("collectorIp") == COLL_IP,
                     timeout=20, what="collector session on the spine")
        lab.vtysh("vtep101", AF + [f"monitor collector {COLLECTOR} ip {NEW_COLL_IP} erspan 2 "
                                   f"gre-protocol 0x8949"])
        lab.wait_for(lambda: (spine_collector_session(lab) or {}).get("collectorIp")
                     == NEW_COLL_IP, timeout=20, what="changed collector on the spine")
        lab.vtysh("vtep101", AF + [f"no {session}"])
        lab.wait_for(lambda: spine_collector_session(lab) is None, timeout=20,
                     what="collector session withdrawn from the spine")
    finally:
        cap.stop()
        lab.vtysh("vtep101", AF + [f"no {session}", f"no monitor collector {COLLECTOR}"],
                  check=False)

    pkts = tshark_json(tmp_path / "bgp.pcap")
    src = {frame_no(p): layers(p).get("ip", {}).get("ip.src") for p in pkts}
    ours = [n for n in monitor_nlris(pkts) if n.get("collector_id") == str(COLLECTOR)
            and n.get("host_mac") == HOST_MAC and src[n.frame] == "10.1.0.1"]
    assert ours, "no collector NLRI of the session decoded"
    for n in ours:
        assert (n["dest"], n["host_ip"], n["vni"], n["orig_ip"], n["status"]) == (
            "1", HOST_IP, "100", "10.0.0.101", "ok"), n.fields
        assert "host_id" not in n.fields and "server_ip" not in n.fields
        assert not [e for e in n.experts if e.startswith("evpnmon.malformed")], n.experts
    reach = [n for n in ours if n["attribute"] == "14"]
    unreach = [n for n in ours if n["attribute"] == "15"]
    assert [n["server_mac"] for n in reach] == ["00:00:00:00:00:00"] * len(reach)
    ips = [n["collector_ip"] for n in reach]
    assert ips[0] == COLL_IP and ips[-1] == NEW_COLL_IP, ips
    i = ips.index(NEW_COLL_IP)
    assert set(ips[:i]) == {COLL_IP} and set(ips[i:]) == {NEW_COLL_IP}, ips
    assert len(unreach) == 1 and unreach[0].frame > max(n.frame for n in reach)
    assert unreach[0]["action"] == "withdraw"

    # the ERSPAN TLV of each advertisement, field by field (span id: the
    # collector ID mod 1024; TTL 64; a version's own GRE protocol sent as 0)
    by_frame_opts = {}
    for p in pkts:
        for nl in as_list(layers(p).get("evpnmon", {}).get("evpnmon.nlri")):
            v = flat(nl, "evpnmon.")
            if v.get("evpnmon.nlri.collector_id") == [str(COLLECTOR)] and \
                    v.get("evpnmon.nlri.attribute") == ["14"]:
                by_frame_opts.setdefault(frame_no(p), []).append(
                    {k[len("evpnmon.opt.erspan."):]: x[0] for k, x in v.items()
                     if k.startswith("evpnmon.opt.erspan.")})
    first = by_frame_opts[reach[0].frame][0]
    last = by_frame_opts[reach[-1].frame][-1]
    assert first == dict(version="3", flags="0x00", span_id="7", dscp="10", ttl="64",
                         gre_proto="0x0000"), first
    assert last == dict(version="2", flags="0x00", span_id="7", dscp="0", ttl="64",
                        gre_proto="0x8949"), last
    r = tshark(["-r", str(tmp_path / "bgp.pcap"), "-V", "-Y",
                f"evpnmon.nlri.collector_id == {COLLECTOR}"])
    assert r.returncode == 0, r.stderr
    assert (f"Monitor-config NLRI (MP_REACH_NLRI): collector {COLLECTOR}, host {HOST_MAC} {HOST_IP}, "
            f"VNI 100, RD 10.0.0.101:100, collector IP {COLL_IP}, originator 10.0.0.101, "
            f"erspan 3 span 7 dscp 10 ttl 64 gre 0x22eb profile - filters 0") in r.stdout, \
        r.stdout[-3000:]
