"""ERSPAN collectors in the bgpd module (`monitor collector ID ...` and
`monitor host ... collector ID`).

Two patched leaves, back to back, in network namespaces of this test (as in
test_profile_cli.py): leaf1 configures, leaf2 receives. Checked:

* every collector option, its defaults and canonical form in the
  running-config (profiles, servers, collectors, then sessions), `no` forms;
* every bad input refused with FRR's `% ...`, the running-config unchanged;
* a profile and a collector's ERSPAN TLV that would not fit in one route,
  refused when the session is bound and when the profile grows;
* show and JSON (`show bgp l2vpn evpn monitor [collector]`), local and
  received;
* a session naming a missing collector: kept, not advertised,
  `collector-missing`; creating the collector advertises it, deleting it
  withdraws it;
* a collector change: the same route (key) at both speakers with the new
  ERSPAN parameters, and in both leaves' feeds (version 3: collector_id,
  host_id 0, no server MAC, server_ip = the collector); a feed subscriber of
  version 2 never sees collector sessions and no sequence gap;
* frr-reload.py round trip.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_collector_cli.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from feedclient import FeedClient  # noqa: E402
from two_leaves import (SERVER, SERVER_LINE, VNI, Leaf, bgpd_conf, frr_reload,  # noqa: E402
                        two_leaves, wait_for)

PREFIX = f"emc{os.getpid()}"
HOST_MAC = "00:00:00:00:02:41"
COLL_IP = "10.9.0.1"
GRE_II, GRE_III = "0x88be", "0x22eb"
MAX_OPTIONS = 182

# leaf2 starts with a collector session in its configuration file (bgpd -f
# reads it before zebra has reported the VNI), the session line first.
LEAF2_FILE_LINES = ["monitor host vni 100 ip 192.168.100.55 collector 5 profile p5",
                    "monitor profile p5", "monitor profile p5 direction tx",
                    "monitor collector 5 ip 10.9.0.5 erspan 2 ttl 7"]


@pytest.fixture(scope="module")
def leaves():
    with two_leaves(PREFIX, lambda i: bgpd_conf(i, LEAF2_FILE_LINES if i == 2 else ())) as out:
        yield out


@pytest.fixture
def leaf1(leaves):
    """leaf1 with no session, collector or profile (each test starts clean)."""
    leaf = leaves[1]
    yield leaf
    leaf.clear_monitor()
    # back to the fixture's own configuration, withdrawn everywhere
    assert leaf.monitor_lines() == [SERVER_LINE]
    wait_for(lambda: not leaves[2].sessions("remote"), what="leaf2 without leaf1's sessions")


def remote(leaves, mac=HOST_MAC) -> list[dict]:
    return [s for s in leaves[2].sessions("remote") if s.get("hostMac") == mac]


def state_of(leaf: Leaf, mac=HOST_MAC) -> list[str]:
    return [c["state"] for c in leaf.configured() if c.get("hostMac") == mac]


# ---------------------------------------------------------------------------
# the commands, defaults, canonical form, running-config
# ---------------------------------------------------------------------------

def test_running_config_order_defaults_and_canonical_form(leaf1):
    leaf1.ok("monitor profile cnp filter 1 preset rocev2-cnp",
             f"monitor host vni {VNI} mac {HOST_MAC} collector 1030 profile cnp",
             f"monitor host vni {VNI} ip 192.168.100.9 collector 7",
             # every option given at its default: the line reads back bare
             f"monitor collector 7 ip {COLL_IP} erspan 3 session-id 7 dscp 0 ttl 64 gre-protocol {GRE_III}",
             # decimal GRE protocol, another version's default, any order
             "monitor collector 1030 ip 10.9.0.2 erspan 3 ttl 10 gre-protocol 35006 dscp 46 session-id 1",
             "monitor collector 2 ip 10.9.0.3 erspan 2 gre-protocol 0x8949",
             f"monitor collector 3 ip 10.9.0.4 erspan 2 gre-protocol {GRE_II.upper().replace('X', 'x')}")
    assert leaf1.monitor_lines() == [
        "monitor profile cnp", "monitor profile cnp filter 1 preset rocev2-cnp",
        SERVER_LINE,
        "monitor collector 2 ip 10.9.0.3 erspan 2 gre-protocol 0x8949",
        "monitor collector 3 ip 10.9.0.4 erspan 2",
        f"monitor collector 7 ip {COLL_IP} erspan 3",
        "monitor collector 1030 ip 10.9.0.2 erspan 3 session-id 1 dscp 46 ttl 10 gre-protocol 0x88be",
        f"monitor host vni {VNI} mac {HOST_MAC} collector 1030 profile cnp",
        f"monitor host vni {VNI} ip 192.168.100.9 collector 7",
    ]
    c = leaf1.collectors()
    assert list(c) == ["2", "3", "7", "1030"]
    # defaults: span id = ID mod 1024, dscp 0, ttl 64, GRE per type
    assert {k: c["7"][k] for k in ("id", "ip", "erspanVersion", "spanId", "dscp", "ttl", "greProtocol")} \
        == {"id": 7, "ip": COLL_IP, "erspanVersion": 3, "spanId": 7, "dscp": 0, "ttl": 64,
            "greProtocol": GRE_III}
    assert (c["3"]["spanId"], c["3"]["greProtocol"]) == (3, GRE_II)
    assert (c["1030"]["spanId"], c["1030"]["dscp"], c["1030"]["ttl"], c["1030"]["greProtocol"]) \
        == (1, 46, 10, GRE_II)
    # a re-issued line replaces the whole collector: what is not given
    # goes back to its default (span id 1030 mod 1024 = 6)
    leaf1.ok("monitor collector 1030 ip 10.9.0.2 erspan 3")
    assert "monitor collector 1030 ip 10.9.0.2 erspan 3" in leaf1.collector_lines()
    c = leaf1.collectors()["1030"]
    assert (c["spanId"], c["dscp"], c["ttl"], c["greProtocol"]) == (6, 0, 64, GRE_III)


def test_no_forms(leaf1):
    leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 3 dscp 8",
             "monitor collector 8 ip 10.9.0.8 erspan 2",
             f"monitor host vni {VNI} mac {HOST_MAC} collector 7")
    # the full line (as frr-reload.py sends it) and the short form
    leaf1.ok(f"no monitor collector 7 ip {COLL_IP} erspan 3 dscp 8")
    leaf1.ok("no monitor collector 8")
    assert leaf1.collector_lines() == []
    # the session stays, waiting for its collector
    assert f"monitor host vni {VNI} mac {HOST_MAC} collector 7" in leaf1.monitor_lines()
    leaf1.ok(f"no monitor host vni {VNI} mac {HOST_MAC} collector 7")
    assert leaf1.monitor_lines() == [SERVER_LINE]


def test_server_and_collector_of_the_same_id_are_two_sessions(leaves, leaf1):
    leaf1.ok(f"monitor collector {SERVER} ip {COLL_IP} erspan 2",
             f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER}",
             f"monitor host vni {VNI} mac {HOST_MAC} collector {SERVER}")
    r = wait_for(lambda: len(remote(leaves)) == 2 and remote(leaves), what="both sessions on leaf2")
    assert sorted(x["destination"] for x in r) == ["collector", "server"]
    assert sorted(x["sessionId"] for x in r) == [
        f"10.0.0.1/{VNI}/{SERVER}/{HOST_MAC}/-", f"10.0.0.1/{VNI}/c{SERVER}/{HOST_MAC}/-"]
    leaf1.ok(f"no monitor host vni {VNI} mac {HOST_MAC} server {SERVER}")
    wait_for(lambda: [x["destination"] for x in remote(leaves)] == ["collector"],
             what="only the collector session left")


def test_collector_session_from_the_configuration_file(leaves):
    leaf2 = leaves[2]
    assert leaf2.monitor_lines() == [
        "monitor profile p5", "monitor profile p5 direction tx", SERVER_LINE,
        "monitor collector 5 ip 10.9.0.5 erspan 2 ttl 7",
        "monitor host vni 100 ip 192.168.100.55 collector 5 profile p5"]
    wait_for(lambda: [c["state"] for c in leaf2.configured()] == ["advertised"],
             what="leaf2's collector session advertised")
    r = wait_for(lambda: [s for s in leaves[1].sessions("remote") if s.get("collectorId") == 5],
                 what="leaf2's collector session on leaf1")
    assert r[0]["collectorIp"] == "10.9.0.5" and r[0]["profile"] == "p5"
    assert r[0]["options"]["direction"] == "tx"
    assert r[0]["options"]["erspan"] == {"version": 2, "spanId": 5, "dscp": 0, "ttl": 7,
                                         "greProtocol": GRE_II}


# ---------------------------------------------------------------------------
# rejected input: the usual error, nothing changed
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cmd, error", [
    (f"monitor collector 0 ip {COLL_IP} erspan 3", "Unknown command"),
    (f"monitor collector 65536 ip {COLL_IP} erspan 3", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 1", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 4", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP}", "Command incomplete"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 session-id 1024", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 dscp 64", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 ttl 0", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 ttl 256", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 dscp 1 dscp 2", "Unknown command"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol 0", "Malformed gre-protocol 0: 0xHHHH or decimal, 1 to 65535"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol 0x0", "Malformed gre-protocol 0x0"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol 65536", "Malformed gre-protocol 65536"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol 0x10000", "Malformed gre-protocol 0x10000"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol 0xzz", "Malformed gre-protocol 0xzz"),
    (f"monitor collector 7 ip {COLL_IP} erspan 3 gre-protocol erspan", "Malformed gre-protocol erspan"),
    ("monitor collector 7 ip 2001:db8::1 erspan 3", "Unknown command"),
    ("monitor collector 7 ip 10.9.0.300 erspan 3", "Unknown command"),
    ("monitor collector 7 ip 0.0.0.0 erspan 3", "must be a unicast address"),
    ("monitor collector 7 ip 127.0.0.1 erspan 3", "must be a unicast address"),
    ("monitor collector 7 ip 224.0.0.5 erspan 3", "must be a unicast address"),
    ("monitor collector 7 ip 255.255.255.255 erspan 3", "must be a unicast address"),
    ("no monitor collector 99", "No monitor collector 99"),
    (f"monitor host vni {VNI} mac {HOST_MAC} collector 0", "Unknown command"),
    (f"monitor host vni {VNI} mac {HOST_MAC} collector 65536", "Unknown command"),
    (f"monitor host vni {VNI} mac {HOST_MAC} server 7 collector 7", "Unknown command"),
    (f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile bad/name", "Malformed profile name"),
    (f"monitor host vni 4242 mac {HOST_MAC} collector 7", "Unknown VNI 4242"),
    (f"no monitor host vni {VNI} mac {HOST_MAC} collector 8", "No such monitored host"),
])
def test_bad_input_rejected_and_nothing_changed(leaf1, cmd, error):
    leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 3 dscp 10",
             f"monitor host vni {VNI} mac {HOST_MAC} collector 7")
    before = leaf1.monitor_lines()
    before_json = leaf1.collectors()
    cp = leaf1.conf(cmd)
    assert cp.returncode != 0, cp.stdout
    assert error in cp.stdout + cp.stderr
    assert leaf1.monitor_lines() == before
    assert leaf1.collectors() == before_json


# ---------------------------------------------------------------------------
# a profile and the ERSPAN TLV in one route
# ---------------------------------------------------------------------------

# Lines of a large profile, largest shares first; each is kept when it fits.
FILL = [f"filter {n} protocol udp src 2001:db8:{n}::/48 dst 2001:db9:{n}::/48 sport 1 to 2 dport 3 to 4"
        for n in (1, 2, 3, 4)] + \
       [f"filter {n} udf {u} l5 offset {u} value 0x0001 mask 0x0001" for n in (1, 2, 3, 4)
        for u in range(1, 9)] + \
       ["police pps 1000 burst 100", "sample 1-in 1000", "truncate 128", "direction rx"]


def options_len(leaf: Leaf, name: str) -> int:
    return leaf.json(f"show bgp l2vpn evpn monitor profile {name}")["profiles"][name]["optionsLength"]


def fill_profile(leaf: Leaf, name: str, limit: int) -> list[str]:
    """Grow profile `name` with FILL lines while its options stay within
    `limit` octets; returns the lines kept."""
    kept = [f"monitor profile {name}"]
    leaf.ok(kept[0])
    for line in FILL:
        cmd = f"monitor profile {name} {line}"
        cp = leaf.conf(cmd)
        if cp.returncode == 0 and options_len(leaf, name) <= limit:
            kept.append(cmd)
        elif cp.returncode == 0:
            leaf.ok("no " + cmd)
    return kept


def grow_until_refused(leaf: Leaf, profile: str, lines: list[str]) -> None:
    """Adds lines to a profile that collector 7's sessions use until one is
    refused for not fitting with its ERSPAN parameters, which must happen
    and leave the configuration as it was before that line."""
    refused = None
    before = leaf.monitor_lines()
    for line in lines:
        cp = leaf.conf(line)
        if cp.returncode != 0:
            refused = cp.stdout
            break
        before = leaf.monitor_lines()
    assert refused and f"% profile {profile} would not fit in a route with the ERSPAN parameters " \
        f"of collector 7, used with it by a session in VNI {VNI} (" in refused, refused
    assert leaf.monitor_lines() == before


def erspan_tlv_len(leaves, leaf1) -> int:
    """Octets the ERSPAN TLV adds to a route's options area, as a collector
    session without a profile carries it (version octet + the TLV)."""
    leaf1.ok(f"monitor collector 9 ip {COLL_IP} erspan 3",
             f"monitor host vni {VNI} mac 00:00:00:00:02:99 collector 9")
    r = wait_for(lambda: remote(leaves, "00:00:00:00:02:99"), what="probe collector session")
    n = len(r[0]["options"]["wire"]) // 2 - 1
    leaf1.ok(f"no monitor host vni {VNI} mac 00:00:00:00:02:99 collector 9", "no monitor collector 9")
    return n


def test_profile_and_erspan_that_would_not_fit(leaves, leaf1):
    tlv = erspan_tlv_len(leaves, leaf1)
    assert tlv == 10                  # type, length, 8 octets of value
    # a profile that fits a route alone but not with the ERSPAN TLV
    kept = fill_profile(leaf1, "big", MAX_OPTIONS)
    size = options_len(leaf1, "big")
    assert MAX_OPTIONS - tlv < size <= MAX_OPTIONS, f"test profile of {size} octets"
    leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 3")
    before = leaf1.monitor_lines()
    cp = leaf1.conf(f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile big")
    assert cp.returncode != 0
    assert f"% profile big and the ERSPAN parameters of collector 7 would not fit in a route " \
           f"({size + tlv} octets of options, at most {MAX_OPTIONS})" in cp.stdout
    assert leaf1.monitor_lines() == before
    # the same profile with a server is fine
    leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile big")
    wait_for(lambda: state_of(leaf1) == ["advertised"], what="server session with profile big")
    leaf1.ok(f"no monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile big")

    # a profile a collector session uses cannot grow past the limit with it
    small = fill_profile(leaf1, "small", MAX_OPTIONS - tlv)
    leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile small")
    r = wait_for(lambda: remote(leaves), what="collector session with profile small")
    assert len(r[0]["options"]["wire"]) // 2 <= MAX_OPTIONS
    missing = [l for l in kept[1:] if l.replace(" big ", " small ") not in small]
    grow_until_refused(leaf1, "small", [l.replace(" big ", " small ") for l in missing])
    assert options_len(leaf1, "small") <= MAX_OPTIONS - tlv
    # a session naming a profile that does not exist yet is checked when
    # the profile is configured: growing it as "big" grew is refused once
    # it would not fit with the collector's ERSPAN parameters
    leaf1.ok(f"monitor host vni {VNI} ip 192.168.100.9 collector 7 profile later",
             kept[0].replace(" big", " later"))
    grow_until_refused(leaf1, "later", [l.replace(" big ", " later ") for l in kept[1:]])
    assert options_len(leaf1, "later") <= MAX_OPTIONS - tlv


# ---------------------------------------------------------------------------
# show, states, origination
# ---------------------------------------------------------------------------

def test_show_local_and_received(leaves, leaf1):
    leaf1.ok("monitor profile cnp filter 1 preset rocev2-cnp",
             f"monitor collector 7 ip {COLL_IP} erspan 3 session-id 70 dscp 46 ttl 32",
             f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile cnp")
    sid = f"10.0.0.1/{VNI}/c7/{HOST_MAC}/-"
    r = wait_for(lambda: remote(leaves), what="collector session on leaf2")[0]
    assert r["destination"] == "collector" and r["collectorId"] == 7 and "hostId" not in r
    assert r["collectorIp"] == COLL_IP and "serverMac" not in r and "serverIp" not in r
    assert r["sessionId"] == sid and r["profile"] == "cnp"
    assert r["options"]["erspan"] == {"version": 3, "spanId": 70, "dscp": 46, "ttl": 32,
                                      "greProtocol": GRE_III}
    assert r["options"]["filters"][0]["dport"] == "4791-4791"
    assert r["importedInto"] == [VNI]
    (local,) = [s for s in leaf1.sessions("local") if s.get("hostMac") == HOST_MAC]
    assert {k: local[k] for k in ("destination", "collectorId", "collectorIp", "sessionId")} == \
        {"destination": "collector", "collectorId": 7, "collectorIp": COLL_IP, "sessionId": sid}
    assert local["options"]["wire"] == r["options"]["wire"]
    (cfg,) = leaf1.configured()
    assert cfg == {"vni": VNI, "hostMac": HOST_MAC, "destination": "collector", "collectorId": 7,
                   "profile": "cnp", "sessionId": sid, "state": "advertised"}
    # the collector's own show lists its sessions
    c = leaf1.collectors()["7"]
    assert [s["sessionId"] for s in c["sessions"]] == [sid]
    assert leaf1.json("show bgp l2vpn evpn monitor collector 7")["collectors"].keys() == {"7"}
    assert leaf1.json("show bgp l2vpn evpn monitor collector 8")["collectors"] == {}
    text = leaf1.show("show bgp l2vpn evpn monitor collector 7")
    assert text.splitlines() == [
        f"Collector 7: {COLL_IP}, ERSPAN type III, span id 70, dscp 46, ttl 32, "
        f"GRE protocol {GRE_III}; 1 session(s)",
        f"  monitor collector 7 ip {COLL_IP} erspan 3 session-id 70 dscp 46 ttl 32"]
    assert "% No monitor collector 8" in leaf1.show("show bgp l2vpn evpn monitor collector 8")
    # the route table rows and the configured line
    text2 = leaves[2].show("show bgp l2vpn evpn monitor")
    assert any(f" c7 " in l and f"ERSPAN3 {COLL_IP} span 70" in l for l in text2.splitlines()), text2
    assert f"vni {VNI} host {HOST_MAC} - collector 7 profile cnp: advertised" in \
        leaf1.show("show bgp l2vpn evpn monitor")
    # the prefix, as FRR's EVPN shows print it
    assert f"[254]:[c7]:[{HOST_MAC}]:[]" in leaves[2].show("show bgp l2vpn evpn route type monitor")
    # the profile's show lists the collector session
    p = leaf1.json("show bgp l2vpn evpn monitor profile cnp")["profiles"]["cnp"]
    assert [(s["destination"], s["collectorId"]) for s in p["sessions"]] == [("collector", 7)]


def test_missing_collector_then_created_then_deleted(leaves, leaf1):
    leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} collector 7")
    wait_for(lambda: state_of(leaf1) == ["collector-missing"], what="state collector-missing")
    assert f"vni {VNI} host {HOST_MAC} - collector 7: collector-missing" in \
        leaf1.show("show bgp l2vpn evpn monitor")
    assert not leaf1.sessions("local")
    # a session configured after it is the barrier: once leaf2 has it, it
    # would have had the first one too
    barrier = "00:00:00:00:02:99"
    leaf1.ok(f"monitor host vni {VNI} mac {barrier} server {SERVER}")
    wait_for(lambda: remote(leaves, barrier), what="barrier session on leaf2")
    assert not remote(leaves)
    leaf1.ok(f"no monitor host vni {VNI} mac {barrier} server {SERVER}")

    leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 2")
    r = wait_for(lambda: remote(leaves), what="advertised once the collector exists")
    assert r[0]["collectorIp"] == COLL_IP and r[0]["options"]["erspan"]["version"] == 2
    # without a profile: the options area holds the ERSPAN TLV only
    assert r[0]["options"]["filters"] == [] and "profile" not in r[0]
    assert state_of(leaf1) == ["advertised"]

    leaf1.ok("no monitor collector 7")
    wait_for(lambda: not remote(leaves), what="withdrawn with its collector")
    wait_for(lambda: state_of(leaf1) == ["collector-missing"], what="back to collector-missing")
    assert not [s for s in leaf1.sessions("local") if s.get("hostMac") == HOST_MAC]


# ---------------------------------------------------------------------------
# a collector change: same key, new ERSPAN parameters, everywhere
# ---------------------------------------------------------------------------

def feed_rows(client: FeedClient, mac=HOST_MAC) -> list[dict]:
    client.poll(0.05)
    return [s for s in client.sessions.values() if s["hostMac"] == mac]


def everywhere(leaves, feeds, want: dict, what: str) -> None:
    """Both speakers hold exactly one route (one path) for the session with
    these ERSPAN parameters and collector IP; both leaves' version-3 feeds
    one session with the same options octets."""
    sid = f"10.0.0.1/{VNI}/c7/{HOST_MAC}/-"
    last = []

    def ok():
        for i, leaf in leaves.items():
            rows = [s for s in leaf.sessions() if s.get("hostMac") == HOST_MAC]
            last[:] = [i, rows]
            if len(rows) != 1 or rows[0]["collectorIp"] != want["ip"] \
                    or any(rows[0]["options"]["erspan"][k] != v for k, v in want["erspan"].items()):
                return False
            wire = rows[0]["options"]["wire"]
            rib = leaf.json("show bgp l2vpn evpn route type monitor")
            paths = [len(route["paths"]) for rd, t in rib.items() if isinstance(t, dict)
                     for pfx, route in t.items() if isinstance(route, dict) and "paths" in route
                     and f"[c7]:[{HOST_MAC}]" in pfx]
            last[:] = [i, "rib", paths]
            if paths != [1]:
                return False
            fs = feed_rows(feeds[i])
            last[:] = [i, "feed", fs]
            if len(fs) != 1:
                return False
            f = fs[0]
            if (f["collectorId"], f["hostId"], f["serverMac"], f["serverIp"], f["sessionId"],
                    f["options"], f["local"]) != (7, 0, None, want["ip"], sid, wire, i == 1):
                return False
        return True
    try:
        wait_for(ok, timeout=30, what=what)
    except AssertionError as e:
        raise AssertionError(f"{what}: last seen {last}") from e


def test_collector_change_is_an_implicit_replace(leaves, leaf1):
    feeds = {i: leaves[i].feed() for i in (1, 2)}
    old = {i: leaves[i].feed(version=2) for i in (1, 2)}
    try:
        for c in list(feeds.values()) + list(old.values()):
            wait_for(lambda: (c.poll(0.1), c.version)[1] == 4, timeout=10,
                     what="snapshot of feed version 4")
        snapshots = {i: c.snapshots for i, c in old.items()}
        leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 3",
                 f"monitor host vni {VNI} mac {HOST_MAC} collector 7")
        everywhere(leaves, feeds, {"ip": COLL_IP, "erspan": {"version": 3, "spanId": 7, "dscp": 0,
                                                             "ttl": 64, "greProtocol": GRE_III}},
                   "collector 7 advertised")
        steps = [
            ("dscp 46 ttl 9", {"dscp": 46, "ttl": 9, "spanId": 7}),
            ("session-id 1023", {"spanId": 1023, "dscp": 0, "ttl": 64}),
            ("gre-protocol 0x8949", {"greProtocol": "0x8949", "spanId": 7}),
            ("gre-protocol 0x88be", {"greProtocol": GRE_II, "version": 3}),
        ]
        for args, erspan in steps:
            leaf1.ok(f"monitor collector 7 ip {COLL_IP} erspan 3 {args}")
            everywhere(leaves, feeds, {"ip": COLL_IP, "erspan": erspan}, f"after {args}")
        leaf1.ok("monitor collector 7 ip 10.9.0.77 erspan 2")
        everywhere(leaves, feeds, {"ip": "10.9.0.77", "erspan": {"version": 2, "greProtocol": GRE_II}},
                   "new IP and type II")

        # a server session's change reaches the version-2 subscribers
        # without a gap: they never saw the collector session's changes
        leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER}")
        for i, c in old.items():
            wait_for(lambda: [(s["hostId"], s["collectorId"]) for s in feed_rows(c)] == [(SERVER, 0)],
                     what=f"leaf{i}: the version-2 feed has the server session only")
        # two heartbeats each: a gap would show there as well (every client
        # polled in each round: one left alone 3 s subscribes again)
        hb = {i: c.heartbeats for i, c in old.items()}

        def two_heartbeats():
            for c in old.values():
                c.poll(0.05)
            return all(c.heartbeats >= hb[i] + 2 for i, c in old.items())
        wait_for(two_heartbeats, what="two heartbeats on every version-2 feed")
        for i, c in old.items():
            assert c.snapshots == snapshots[i], f"leaf{i}: the version-2 subscriber resynchronised"
            assert c.seq is not None and c.deltas >= 1
        # the version-3 subscribers have both sessions
        for i, c in feeds.items():
            wait_for(lambda: sorted((s["hostId"], s["collectorId"]) for s in feed_rows(c))
                     == [(0, 7), (SERVER, 0)], what=f"leaf{i}: both sessions in the version-3 feed")
        fj = leaf1.json("show bgp l2vpn evpn monitor feed")
        assert fj["version"] == 4 and fj["subscribersServersOnly"] == 1
        assert fj["seq"] > fj["seqServersOnly"]

        # deleting the collector withdraws the route everywhere
        leaf1.ok("no monitor collector 7")
        wait_for(lambda: not [s for s in leaves[2].sessions() if s.get("collectorId") == 7],
                 what="collector session withdrawn at leaf2")
        for i, c in feeds.items():
            wait_for(lambda: [s["collectorId"] for s in feed_rows(c)] == [0],
                     what=f"leaf{i}: collector session gone from the feed")
        assert not [s for s in leaf1.sessions() if s.get("collectorId") == 7]
    finally:
        for c in list(feeds.values()) + list(old.values()):
            c.close()


# ---------------------------------------------------------------------------
# frr-reload.py
# ---------------------------------------------------------------------------

RELOAD_FROM = [
    "monitor profile cnp",
    "monitor profile cnp filter 1 preset rocev2-cnp",
    "monitor collector 7 ip 10.9.0.1 erspan 3",
    "monitor collector 8 ip 10.9.0.8 erspan 2 dscp 8",
    f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile cnp",
    f"monitor host vni {VNI} ip 192.168.100.77 collector 8",
]
RELOAD_TO = [
    "monitor profile cnp",
    "monitor profile cnp filter 1 preset rocev2-cnp",
    "monitor collector 7 ip 10.9.0.1 erspan 3 session-id 100 dscp 46 gre-protocol 0x88be",
    "monitor collector 9 ip 10.9.0.9 erspan 2 ttl 16",
    f"monitor host vni {VNI} mac {HOST_MAC} collector 7 profile cnp",
    f"monitor host vni {VNI} ip 192.168.100.77 collector 9",
    f"monitor host vni {VNI} ip 192.168.100.78 server {SERVER} profile cnp",
]


def test_frr_reload_round_trip(leaves, leaf1, tmp_path):
    leaf1.ok(*RELOAD_FROM)
    assert leaf1.monitor_lines() == RELOAD_FROM[:2] + [SERVER_LINE] + RELOAD_FROM[2:]
    wait_for(lambda: len([s for s in leaves[2].sessions("remote") if s.get("collectorId")]) == 2,
             what="both collector sessions on leaf2")
    running = "".join(l + "\n" for l in leaf1.show("show running-config bgpd no-header").splitlines()
                      if l.strip())
    head, _, tail = running.partition(" address-family l2vpn evpn\n")
    af, _, rest = tail.partition(" exit-address-family\n")
    af_other = [l for l in af.splitlines(keepends=True) if not l.strip().startswith("monitor ")]
    want = RELOAD_TO[:2] + [SERVER_LINE] + RELOAD_TO[2:]
    target = tmp_path / "target.conf"
    target.write_text(head + " address-family l2vpn evpn\n" + "".join(af_other)
                      + "".join(f"  {l}\n" for l in want) + " exit-address-family\n" + rest)
    os.chmod(tmp_path, 0o755)

    cp = frr_reload(leaf1, target, "--test")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "no monitor collector 8" in cp.stdout and "monitor collector 9 ip 10.9.0.9" in cp.stdout

    cp = frr_reload(leaf1, target, "--reload")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert leaf1.monitor_lines() == want
    # what the reload configured is what leaf2 receives
    def received():
        r = {s.get("hostIp"): s for s in leaves[2].sessions("remote")}
        return (r.get("192.168.100.77", {}).get("collectorIp") == "10.9.0.9"
                and r["192.168.100.77"]["options"]["erspan"]["ttl"] == 16
                and [s["options"]["erspan"]["spanId"] for s in remote(leaves)] == [100]
                and r.get("192.168.100.78", {}).get("hostId") == SERVER)
    wait_for(received, what="the reloaded configuration on leaf2")

    # and nothing left to do
    cp = frr_reload(leaf1, target, "--test")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "monitor " not in cp.stdout, cp.stdout
