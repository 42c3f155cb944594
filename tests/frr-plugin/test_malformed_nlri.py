"""Issue 2 integration: malformed monitor-config NLRI from a real BGP peer.

ExaBGP (Debian package) runs in a network namespace of this test, linked to
the patched leaf vtep103 by a veth pair (10.99.0.2 -> 10.99.0.1; bgpd does not
peer over loopback), and sends raw MP_REACH_NLRI attributes
(AFI 25 / SAFI 70) carrying type-254 NLRI, valid and malformed. The session
must stay up (no NOTIFICATION, one connection for the whole test), malformed
routes must not be installed, a semantically malformed route must withdraw the
route with the same key (RFC 7606 treat-as-withdraw), and valid NLRI in the
same UPDATE must still be processed. Every malformed NLRI must be counted
under its reason (`counters.rxMalformedByReason`, docs/wire-format.md), and
the reasons must add up to `counters.rxMalformed`.

Options (a session's mirror profile, versioned TLVs after the originator IP):
an unknown optional TLV is skipped (the route is accepted without it); an
unknown version, an unknown mandatory TLV, a TLV with a wrong length, one that
runs past the NLRI, a single-valued TLV given twice and a value out of range
each withdraw the route with that key (RFC 7606), counted under their reason,
and never reset the session. The NLRI are built here, independently of the C
codec; the valid ones are checked against it through the options the leaf
shows (decoded and re-encoded by the codec).

Also here, because this lab runs the patched vtysh: a successful vtysh call
prints nothing on stderr (it used to complain about a missing vtysh.conf).

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_malformed_nlri.py
"""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))

from clabns import Lab  # noqa: E402

LEAF, LEAF_AS = "vtep103", 65103
EXA = "10.99.0.2"
LEAF_ADDR = "10.99.0.1"
RD = bytes([0, 1, 10, 0, 0, 101, 0x03, 0xE7])          # 10.0.0.101:999
NEXT_HOP = bytes([10, 0, 0, 101])                        # a reachable VTEP

# The keys of counters.rxMalformedByReason (evpn_mon_errname(), one per
# enum evpn_mon_error reason; docs/wire-format.md). Every key is always there.
REASONS = ("tooShort", "tooLong", "hostMacLength", "hostIpLength", "serverMacLength",
           "serverIpLength", "originatorIpLength", "truncated", "trailingOctets",
           "hostIdOutOfRange", "noHost", "hostMacNotUnicast", "serverMacNotUnicast",
           "vniZero", "optionsVersion", "optionsTruncated", "optionsLength",
           "optionsDuplicate", "optionsUnknownMandatory", "optionsValue", "destination")

# Options area (docs/wire-format.md, "Options"): version octet, then TLVs
# type/length/value; type bit 0x80 = optional.
OPT_VERSION = 1
TLV_DIRECTION, TLV_FILTER, TLV_SAMPLE, TLV_TRUNCATE, TLV_POLICE, TLV_NAME = 1, 2, 3, 4, 5, 0x81
TLV_ERSPAN = 6
# HOST ID field of a collector session: first octet 1 = collector, the last
# two the collector ID (docs/wire-format.md, "Destination")
DEST_COLLECTOR = 1 << 24


def tlv(t: int, value: bytes, length: int | None = None) -> bytes:
    return bytes([t, len(value) if length is None else length]) + value


def options(*tlvs: bytes, version: int = OPT_VERSION) -> bytes:
    return bytes([version]) + b"".join(tlvs)


def filter_tlv(family=0, proto=0, src=(0, b""), dst=(0, b""), sport=None, dport=None,
               udfs=()) -> bytes:
    """One FILTER TLV: family, protocol, src/dst prefix lengths, the prefixes'
    significant octets, port flags (1 sport, 2 dport) and ranges, UDFs
    (base, offset, value, mask)."""
    v = bytes([family, proto, src[0], dst[0]]) + src[1] + dst[1]
    v += bytes([(1 if sport else 0) | (2 if dport else 0)])
    for rng in (sport, dport):
        if rng:
            v += struct.pack(">HH", *rng)
    v += bytes([len(udfs)]) + b"".join(struct.pack(">BBHH", *u) for u in udfs)
    return tlv(TLV_FILTER, v)


def nlri(host_id=31, host_mac=b"\x00\x00\x00\x00\x03\x10", host_ip=b"\xc0\xa8\x64\x1f",
         server_mac=b"\x00\x00\x00\x00\x00\x31", server_ip=b"\xc0\xa8\x64\x15",
         vni=100, opts: bytes = b"", raw_body: bytes | None = None,
         length: int | None = None) -> bytes:
    """One EVPN NLRI of type 254 (docs/wire-format.md)."""
    if raw_body is None:
        b = RD + struct.pack(">I", 0) + vni.to_bytes(3, "big") + b"\0" + struct.pack(">I", host_id)
        b += bytes([len(host_mac) * 8]) + host_mac
        b += bytes([len(host_ip) * 8]) + host_ip
        b += bytes([len(server_mac) * 8]) + server_mac
        b += bytes([len(server_ip) * 8]) + server_ip
        b += bytes([32, 10, 0, 0, 101]) + opts
    else:
        b = raw_body
    return bytes([254, len(b) if length is None else length]) + b


def mp_reach(*nlris: bytes) -> str:
    body = struct.pack(">HBB", 25, 70, 4) + NEXT_HOP + b"\0" + b"".join(nlris)
    return "0x" + body.hex()


def valid_body(**kw) -> bytes:
    return nlri(**kw)[2:]


# Structurally malformed (key unreadable -> ignored) and semantically malformed
# (key readable -> treat-as-withdraw of a key that was never installed), each
# with the reason it must be counted under.
def malformed_batch() -> list[tuple[bytes, str]]:
    good = valid_body(host_id=40)                          # 49 octets
    cases = []
    for off, val, reason in ((20, 47, "hostMacLength"), (27, 24, "hostIpLength"),
                             (32, 0, "serverMacLength"), (39, 33, "serverIpLength"),
                             (44, 128, "originatorIpLength")):   # length fields
        b = bytearray(good)
        b[off] = val
        cases.append((nlri(raw_body=bytes(b)), reason))
    cases.append((nlri(raw_body=good[:30]), "tooShort"))   # under 35 octets
    cases.append((nlri(raw_body=good[:40]), "truncated"))  # server IP runs past the body
    # octets after the originator are an options area: version 0 is unknown
    cases.append((nlri(raw_body=good + b"\0"), "optionsVersion"))
    cases.append((nlri(raw_body=good + bytes(25)), "optionsVersion"))
    cases.append((nlri(raw_body=b""), "tooShort"))         # empty body
    cases.append((nlri(host_id=0), "hostIdOutOfRange"))
    cases.append((nlri(host_id=65536), "hostIdOutOfRange"))   # over 16 bits
    cases.append((nlri(host_id=41, host_mac=b"\x01\x00\x5e\x00\x00\x01"),
                  "hostMacNotUnicast"))                    # multicast host MAC
    cases.append((nlri(host_id=42, host_mac=b"", host_ip=b""), "noHost"))
    cases.append((nlri(host_id=43, vni=0), "vniZero"))
    return cases


class Exa:
    """ExaBGP in the leaf's namespace, fed through a command file."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.netns = f"{lab.prefix}-exa"
        self.proc = None
        d = lab.node_dir(LEAF)
        self.cmds = d / "exabgp.cmds"
        self.cmds.write_text("")
        injector = d / "exabgp-injector.py"
        injector.write_text(
            "import sys, time\n"
            "f = open(sys.argv[1])\n"
            "buf = ''\n"
            "while True:\n"
            "    buf += f.readline()\n"
            "    if buf.endswith('\\n'):\n"
            "        sys.stdout.write(buf); sys.stdout.flush(); buf = ''\n"
            "    else:\n"
            "        time.sleep(0.05)\n")
        conf = d / "exabgp.conf"
        conf.write_text(f"""
process injector {{
    run /usr/bin/python3 {injector} {self.cmds};
    encoder text;
}}
neighbor {LEAF_ADDR} {{
    router-id 10.99.0.1;
    local-address {EXA};
    local-as 65099;
    peer-as {LEAF_AS};
    hold-time 9;
    family {{ ipv4 unicast; l2vpn evpn; }}
    api {{ processes [ injector ]; }}
}}
""")
        self.n = 0
        lab.configure(LEAF, [
            f"router bgp {LEAF_AS}",
            f" neighbor {EXA} remote-as 65099",
            f" neighbor {EXA} timers 3 9",
            f" neighbor {EXA} timers connect 2",
            " address-family ipv4 unicast", f"  neighbor {EXA} activate", " exit-address-family",
            " address-family l2vpn evpn", f"  neighbor {EXA} activate", " exit-address-family",
        ])
        sh = lambda c: subprocess.run(c, shell=True, check=True, timeout=10)
        sh(f"ip netns add {self.netns}")
        sh(f"ip link add exa0 netns {lab.netns(LEAF)} type veth peer name exa1 netns {self.netns}")
        sh(f"ip -n {lab.netns(LEAF)} addr add {LEAF_ADDR}/30 dev exa0; ip -n {lab.netns(LEAF)} link set exa0 up")
        sh(f"ip -n {self.netns} addr add {EXA}/30 dev exa1; ip -n {self.netns} link set exa1 up; "
           f"ip -n {self.netns} link set lo up")
        out = open(d / "exabgp.out", "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "exabgp", str(conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            env={**os.environ, "exabgp_daemon_user": "root",
                 "exabgp_daemon_daemonize": "false", "exabgp_tcp_bind": "",
                 "exabgp_api_cli": "false", "exabgp_log_destination": "stdout"})

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=10)

    def announce(self, *nlris: bytes) -> None:
        """One UPDATE: a dummy IPv4 route carrying the raw MP_REACH."""
        self.n += 1
        line = (f"announce route 10.99.{self.n}.0/24 next-hop {EXA} origin igp "
                f"extended-community [ target:65000:100 ] "
                f"attribute [ 0x0e 0x80 {mp_reach(*nlris)} ]\n")
        with open(self.cmds, "a") as f:
            f.write(line)

    def peer(self) -> dict:
        return self.lab.vtysh_json(LEAF, f"show bgp neighbors {EXA} json")[EXA]


def installed(lab: Lab) -> dict[int, dict]:
    """The injected server sessions, by HOST ID."""
    return {s["hostId"]: s for s in
            lab.vtysh_json(LEAF, "show bgp l2vpn evpn monitor json")["sessions"]
            if s["rd"] == "10.0.0.101:999" and s.get("destination") != "collector"}


def installed_collectors(lab: Lab) -> dict[int, dict]:
    """The injected collector sessions, by collector ID."""
    return {s["collectorId"]: s for s in
            lab.vtysh_json(LEAF, "show bgp l2vpn evpn monitor json")["sessions"]
            if s["rd"] == "10.0.0.101:999" and s.get("destination") == "collector"}


def counters(lab: Lab) -> dict:
    """counters of the show command, checked for consistency on every read."""
    c = lab.vtysh_json(LEAF, "show bgp l2vpn evpn monitor json")["counters"]
    by = c["rxMalformedByReason"]
    assert set(by) == set(REASONS), "every reason, zero or not, under its stable name"
    assert sum(by.values()) == c["rxMalformed"], by
    return c


def malformed_since(before: dict, after: dict) -> Counter:
    """Malformed NLRI counted per reason between two counters() reads."""
    b, a = before["rxMalformedByReason"], after["rxMalformedByReason"]
    return Counter({k: a[k] - b[k] for k in REASONS if a[k] != b[k]})


@pytest.fixture(scope="module")
def exa(lab):
    e = Exa.__new__(Exa)
    e.netns, e.proc = f"{lab.prefix}-exa", None
    try:
        e.__init__(lab)
        lab.wait_for(lambda: e.peer().get("bgpState") == "Established", timeout=60,
                     what="ExaBGP session established")
        yield e
    finally:
        e.close()


def test_valid_route_is_installed(lab, exa):
    """Positive control: the injection path delivers a real monitor route."""
    exa.announce(nlri(host_id=31))
    lab.wait_for(lambda: 31 in installed(lab), timeout=20, what="valid route installed")
    s = installed(lab)[31]
    assert s["importedInto"] == [100]
    assert s["serverMac"] == "00:00:00:00:00:31"


def test_semantic_error_is_treat_as_withdraw(lab, exa):
    before = counters(lab)
    exa.announce(nlri(host_id=31, server_mac=b"\x01\x00\x00\x00\x00\x31"))
    lab.wait_for(lambda: 31 not in installed(lab), timeout=20,
                 what="route with multicast server MAC withdrawn")
    after = counters(lab)
    assert after["rxMalformed"] == before["rxMalformed"] + 1
    assert malformed_since(before, after) == Counter({"serverMacNotUnicast": 1})
    assert exa.peer()["bgpState"] == "Established"


def test_malformed_batch_ignored_valid_neighbour_processed(lab, exa):
    before = counters(lab)
    batch = malformed_batch()
    exa.announce(*(n for n, _ in batch), nlri(host_id=32))
    lab.wait_for(lambda: 32 in installed(lab), timeout=20,
                 what="valid NLRI after the malformed ones installed")
    after = counters(lab)
    assert after["rxMalformed"] == before["rxMalformed"] + len(batch)
    assert malformed_since(before, after) == Counter(r for _, r in batch)
    assert set(installed(lab)) == {32}, "nothing malformed installed"


def test_malformed_reasons_in_text_form(lab, exa):
    """The text form lists the reasons seen so far, with their counts."""
    by = counters(lab)["rxMalformedByReason"]
    text = lab.vtysh(LEAF, "show bgp l2vpn evpn monitor")
    assert f"{sum(by.values())} malformed NLRI received" in text, text
    if not any(by.values()):
        assert "Malformed NLRI by reason:" not in text, text
        return
    assert "Malformed NLRI by reason:" in text, text
    lines = {l.split()[0]: int(l.split()[1]) for l in
             text.split("Malformed NLRI by reason:", 1)[1].splitlines() if l.strip()}
    assert lines == {k: v for k, v in by.items() if v}, text


def test_overrunning_last_nlri_does_not_reset(lab, exa):
    before = counters(lab)
    exa.announce(nlri(host_id=33), nlri(raw_body=valid_body(host_id=34)[:20], length=60))
    lab.wait_for(lambda: 33 in installed(lab), timeout=20, what="NLRI before the overrun installed")
    assert 34 not in installed(lab)
    after = counters(lab)
    assert after["rxMalformed"] == before["rxMalformed"] + 1
    # the core tells the module the NLRI ran past its attribute
    assert malformed_since(before, after) == Counter({"truncated": 1})


def test_overrunning_nlri_is_ignored_even_if_its_octets_make_a_route(lab, exa):
    """The octets that are there form a whole valid route (49 of the 60
    announced): still ignored, nothing of a cut NLRI is trusted."""
    before = counters(lab)
    exa.announce(nlri(host_id=35), nlri(raw_body=valid_body(host_id=36), length=60))
    lab.wait_for(lambda: 35 in installed(lab), timeout=20, what="NLRI before the overrun installed")
    assert 36 not in installed(lab)
    after = counters(lab)
    assert malformed_since(before, after) == Counter({"truncated": 1})


def test_session_never_reset(lab, exa):
    p = exa.peer()
    assert p["bgpState"] == "Established"
    assert p.get("connectionsEstablished") == 1
    assert p.get("connectionsDropped", 0) == 0
    log = (lab.node_dir(LEAF) / "bgpd.log").read_text(errors="replace")
    # both sides connect at bring-up: the losing connection of a collision
    # gets a NOTIFICATION 6/7 or 5/1 (unexpected message in OpenSent or
    # OpenConfirm) and the session is not affected (connection counts above);
    # any other NOTIFICATION, e.g. 3/x UPDATE Message Error, is a reset
    bad = [l for l in log.splitlines() if "NOTIFICATION" in l and not any(
           k in l for k in ("Connection Collision", "in OpenSent", "in OpenConfirm"))]
    assert not bad, bad
    assert "malformed EVPN monitor NLRI" in log


def test_patched_vtysh_writes_nothing_on_stderr(lab):
    """Regression: the patched vtysh printed "% Can't open configuration file
    <prefix>/etc/vtysh.conf" on every call; frr-plugin/build-frr.sh now installs
    an empty one. Run like Lab.vtysh() runs it (same binary, socket dir, env),
    which drops stderr on success, so it is checked here."""
    bins = lab.binaries[LEAF]
    assert bins.name == "patched"
    cp = subprocess.run([str(bins.vtysh), "--vty_socket", str(lab.node_dir(LEAF)),
                         "-c", "show bgp l2vpn evpn monitor json"],
                        capture_output=True, text=True, timeout=30,
                        env={**os.environ, **bins.env})
    assert cp.returncode == 0, cp
    assert "Can't open configuration file" not in cp.stderr
    assert cp.stderr == ""


# --- options -----------------------------------------------------------------

PROFILE = options(tlv(TLV_DIRECTION, b"\x01"),
                  filter_tlv(family=4, proto=17, dst=(24, bytes([192, 168, 100])),
                             dport=(4791, 4791), udfs=[(2, 0, 0x8100, 0xff00)]),
                  tlv(TLV_SAMPLE, struct.pack(">I", 100)),
                  tlv(TLV_TRUNCATE, struct.pack(">H", 128)),
                  tlv(TLV_POLICE, bytes([1]) + struct.pack(">QI", 1000, 50)),
                  tlv(TLV_NAME, b"cnp"))


def test_route_with_options_is_installed_as_sent(lab, exa):
    """Every option decoded by the leaf's codec as built here, and its
    re-encoding equal to the octets sent (they are canonical)."""
    before = counters(lab)
    exa.announce(nlri(host_id=50, opts=PROFILE))
    lab.wait_for(lambda: "options" in installed(lab).get(50, {}), timeout=20,
                 what="route with options installed")
    s = installed(lab)[50]
    o = s["options"]
    assert s["profile"] == "cnp"
    assert o["wire"] == PROFILE.hex()
    assert o["direction"] == "rx" and o["sample"] == 100 and o["truncate"] == 128
    assert o["police"] == {"unit": "pps", "rate": 1000, "burst": 50}
    assert o["filters"] == [{"family": 4, "protocol": 17, "dst": "192.168.100.0/24",
                             "dport": "4791-4791",
                             "udfs": [{"base": "l5", "offset": 0, "value": "0x8100",
                                       "mask": "0xff00"}]}]
    assert s["sessionId"] == "10.0.0.101/100/50/00:00:00:00:03:10/192.168.100.31"
    assert counters(lab)["rxMalformed"] == before["rxMalformed"]


def test_unknown_optional_tlv_is_skipped(lab, exa):
    before = counters(lab)
    exa.announce(nlri(host_id=51, opts=options(tlv(0x9f, b"future"), tlv(TLV_DIRECTION, b"\x02"),
                                               tlv(0xc3, b""))))
    lab.wait_for(lambda: "options" in installed(lab).get(51, {}), timeout=20,
                 what="route with an unknown optional TLV installed")
    o = installed(lab)[51]["options"]
    assert o["direction"] == "tx"
    assert o["wire"] == options(tlv(TLV_DIRECTION, b"\x02")).hex(), "unknown TLVs dropped"
    assert counters(lab)["rxMalformed"] == before["rxMalformed"]


# (options area, reason): each withdraws the route with its key
BAD_OPTIONS = [
    (options(tlv(TLV_DIRECTION, b"\x01"), version=2), "optionsVersion"),
    (options(tlv(0x1f, b"\x00")), "optionsUnknownMandatory"),
    (options(tlv(TLV_DIRECTION, b"\x01\x01")), "optionsLength"),
    (options(tlv(TLV_SAMPLE, b"\x00\x00\x01")), "optionsLength"),
    (options(tlv(TLV_POLICE, bytes(12))), "optionsLength"),
    (options(tlv(TLV_NAME, b"a" * 17)), "optionsLength"),
    (options(tlv(TLV_SAMPLE, b"\x00", length=4)), "optionsTruncated"),
    (options(tlv(TLV_DIRECTION, b"\x01"))[:-1], "optionsTruncated"),
    (options(b"\x01"), "optionsTruncated"),                 # type without length
    (options(tlv(TLV_DIRECTION, b"\x01"), tlv(TLV_DIRECTION, b"\x02")), "optionsDuplicate"),
    (options(tlv(TLV_NAME, b"a"), tlv(TLV_NAME, b"b")), "optionsDuplicate"),
    (options(tlv(TLV_DIRECTION, b"\x03")), "optionsValue"),
    (options(tlv(TLV_SAMPLE, struct.pack(">I", 8388609))), "optionsValue"),
    (options(tlv(TLV_TRUNCATE, struct.pack(">H", 63))), "optionsValue"),
    (options(tlv(TLV_POLICE, bytes([3]) + struct.pack(">QI", 1, 1))), "optionsValue"),
    (options(filter_tlv(udfs=[(3, 0, 0, 0)])), "optionsValue"),            # base unknown
    (options(filter_tlv(udfs=[(0, 127, 0, 0)])), "optionsValue"),          # offset > 126
    (options(filter_tlv(proto=1, dport=(1, 2))), "optionsValue"),          # ports w/o TCP/UDP
    (options(*[filter_tlv()] * 5), "optionsValue"),                       # 5 lines
]


@pytest.mark.parametrize("area,reason", BAD_OPTIONS, ids=[
    f"{r}-{i}" for i, (_, r) in enumerate(BAD_OPTIONS)])
def test_malformed_options_treat_as_withdraw(lab, exa, area, reason):
    """Installed with valid options first; the same key with malformed
    options withdraws it, counted under its reason; the session stays up."""
    host = 60 + BAD_OPTIONS.index((area, reason))
    good = options(tlv(TLV_DIRECTION, b"\x01"))
    exa.announce(nlri(host_id=host, opts=good))
    lab.wait_for(lambda: host in installed(lab), timeout=20, what=f"host {host} installed")
    before = counters(lab)
    exa.announce(nlri(host_id=host, opts=area))
    lab.wait_for(lambda: host not in installed(lab), timeout=20,
                 what=f"host {host} withdrawn by malformed options ({reason})")
    after = counters(lab)
    assert malformed_since(before, after) == Counter({reason: 1})
    p = exa.peer()
    assert p["bgpState"] == "Established"
    assert p.get("connectionsEstablished") == 1


def test_options_change_replaces_the_route(lab, exa):
    """New options under the same key: the route is replaced (one route,
    the new options), not added next to the old one."""
    exa.announce(nlri(host_id=80, opts=options(tlv(TLV_SAMPLE, struct.pack(">I", 10)))))
    lab.wait_for(lambda: installed(lab).get(80, {}).get("options", {}).get("sample") == 10,
                 timeout=20, what="first options")
    exa.announce(nlri(host_id=80, opts=options(tlv(TLV_SAMPLE, struct.pack(">I", 20)))))
    lab.wait_for(lambda: installed(lab).get(80, {}).get("options", {}).get("sample") == 20,
                 timeout=20, what="changed options")
    exa.announce(nlri(host_id=80))
    lab.wait_for(lambda: 80 in installed(lab) and "options" not in installed(lab)[80],
                 timeout=20, what="options removed")
    rows = [s for s in lab.vtysh_json(LEAF, "show bgp l2vpn evpn monitor json")["sessions"]
            if s["rd"] == "10.0.0.101:999" and s["hostId"] == 80]
    assert len(rows) == 1, rows


# ---------------------------------------------------------------------------
# collector sessions (destination kind 1: ERSPAN)
# ---------------------------------------------------------------------------

def erspan_tlv(version=3, span=7, dscp=0, ttl=64, gre=0, length=None) -> bytes:
    """ERSPAN TLV: version, flags 0, span id, dscp, ttl, GRE protocol."""
    return tlv(TLV_ERSPAN, struct.pack(">BBHBBH", version, 0, span, dscp, ttl, gre), length)


def collector_nlri(cid: int, opts: bytes | None = None, server_mac: bytes = bytes(6),
                   collector_ip: bytes = bytes([10, 9, 0, 1]), **kw) -> bytes:
    return nlri(host_id=DEST_COLLECTOR | cid, server_mac=server_mac, server_ip=collector_ip,
                opts=options(erspan_tlv()) if opts is None else opts, **kw)


def test_collector_route_is_installed_as_sent(lab, exa):
    """A collector session with a profile (ERSPAN after POLICE, before NAME)
    and one with the ERSPAN TLV alone: imported, shown with the collector,
    re-encoded to the octets sent."""
    before = counters(lab)
    with_profile = options(tlv(TLV_DIRECTION, b"\x01"),
                           filter_tlv(proto=17, dport=(4791, 4791), udfs=[(2, 0, 0x8100, 0xff00)]),
                           erspan_tlv(version=3, span=100, dscp=40, ttl=9, gre=0x88be),
                           tlv(TLV_NAME, b"cnp"))
    alone = options(erspan_tlv(version=2, span=5))
    exa.announce(collector_nlri(7, opts=with_profile), collector_nlri(8, opts=alone))
    lab.wait_for(lambda: {7, 8} <= installed_collectors(lab).keys(), timeout=20,
                 what="collector routes installed")
    c = installed_collectors(lab)
    s = c[7]
    assert s["collectorIp"] == "10.9.0.1" and "serverMac" not in s and "hostId" not in s
    assert s["importedInto"] == [100] and s["profile"] == "cnp"
    assert s["sessionId"] == "10.0.0.101/100/c7/00:00:00:00:03:10/192.168.100.31"
    assert s["options"]["erspan"] == {"version": 3, "spanId": 100, "dscp": 40, "ttl": 9,
                                      "greProtocol": "0x88be"}
    assert s["options"]["wire"] == with_profile.hex()
    assert c[8]["options"]["wire"] == alone.hex() and "profile" not in c[8]
    assert c[8]["options"]["erspan"]["greProtocol"] == "0x88be"   # type II's own
    # the prefix as FRR prints it
    assert "[254]:[c7]:[00:00:00:00:03:10]:[192.168.100.31]" in \
        lab.vtysh(LEAF, "show bgp l2vpn evpn route type monitor")
    assert counters(lab)["rxMalformed"] == before["rxMalformed"]


# (route, reason): each withdraws the collector session installed first
BAD_COLLECTOR = [
    (dict(opts=b""), "destination"),                                       # no options area
    (dict(opts=options(tlv(TLV_DIRECTION, b"\x01"))), "destination"),      # no ERSPAN TLV
    (dict(server_mac=b"\x00\x00\x00\x00\x00\x31"), "destination"),          # a server MAC
    (dict(collector_ip=b""), "destination"),                               # no collector IP
    (dict(opts=options(erspan_tlv(version=4))), "optionsValue"),
    (dict(opts=options(erspan_tlv(span=1024))), "optionsValue"),
    (dict(opts=options(erspan_tlv(dscp=64))), "optionsValue"),
    (dict(opts=options(erspan_tlv(ttl=0))), "optionsValue"),
    (dict(opts=options(tlv(TLV_ERSPAN, bytes([3, 0, 0, 7, 0, 64, 0])))), "optionsLength"),
    (dict(opts=options(erspan_tlv(), erspan_tlv())), "optionsDuplicate"),
]


@pytest.mark.parametrize("case,reason", BAD_COLLECTOR, ids=[
    f"{r}-{i}" for i, (_, r) in enumerate(BAD_COLLECTOR)])
def test_malformed_collector_route_treat_as_withdraw(lab, exa, case, reason):
    cid = 100 + BAD_COLLECTOR.index((case, reason))
    exa.announce(collector_nlri(cid))
    lab.wait_for(lambda: cid in installed_collectors(lab), timeout=20,
                 what=f"collector {cid} installed")
    before = counters(lab)
    exa.announce(collector_nlri(cid, **case))
    lab.wait_for(lambda: cid not in installed_collectors(lab), timeout=20,
                 what=f"collector {cid} withdrawn ({reason})")
    assert malformed_since(before, counters(lab)) == Counter({reason: 1})
    p = exa.peer()
    assert p["bgpState"] == "Established" and p.get("connectionsEstablished") == 1


def test_server_route_with_erspan_or_unknown_destination(lab, exa):
    """A server session carrying the ERSPAN TLV withdraws its key; a
    destination kind this speaker does not know is counted, never
    installed."""
    exa.announce(nlri(host_id=90))
    lab.wait_for(lambda: 90 in installed(lab), timeout=20, what="server route 90 installed")
    before = counters(lab)
    exa.announce(nlri(host_id=90, opts=options(erspan_tlv())),
                 nlri(host_id=(2 << 24) | 7, server_mac=bytes(6), opts=options(erspan_tlv())))
    lab.wait_for(lambda: 90 not in installed(lab), timeout=20,
                 what="server route with an ERSPAN TLV withdrawn")
    lab.wait_for(lambda: malformed_since(before, counters(lab)) == Counter({"destination": 2}),
                 timeout=20, what="both counted under destination")
    assert exa.peer()["bgpState"] == "Established"
