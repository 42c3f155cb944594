"""Mirror profiles on the wire: a session's options ride in its monitor route.

Reference fabric (docker/clab/evpn-monitor.clab.yml): patched spine and leaves
vtep101..104, one L2 VNI 100. A session with a profile configured on vtep101
must reach the spine and every other patched leaf with its options (vtysh
JSON and the feed, version 2: options octets and session id); a change of the
profile must reach every speaker as an implicit replace of the one route.

The route's non-key part (server and options) is an interned payload of the
core patch (struct bgp_evpn_ext_payload, memory type "BGP EVPN extension
payload"): sessions with the same server and options share one, and after
originating, changing and withdrawing many sessions every speaker is back to
the count it started with (no leak, no early free: bgpd would crash).

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_profile_route.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

from clabns import Lab  # noqa: E402
from feedclient import FeedClient  # noqa: E402
from monitor_checks import feed_sessions, monitor_routes, monitor_sessions  # noqa: E402

PATCHED_LEAVES = ["vtep101", "vtep102", "vtep103", "vtep104"]
NODES = ["spine"] + PATCHED_LEAVES
HOST_MAC, HOST_ID = "00:00:00:00:02:10", 21
SESSION_ID = f"10.0.0.101/100/{HOST_ID}/{HOST_MAC}/-"
PAYLOAD_MTYPE = "BGP EVPN extension payload"

AF = ["configure terminal", "router bgp 65101", "address-family l2vpn evpn"]


def payloads(lab: Lab, node: str) -> int:
    """Current count of interned payloads in the node's bgpd (show memory)."""
    out = lab.vtysh(node, "show memory", daemon="bgpd")
    m = re.search(rf"^{re.escape(PAYLOAD_MTYPE)}\s*:\s*(\d+)", out, re.M)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def feeds(lab):
    clients = {n: FeedClient(f"ipc://{lab.node_dir(n)}/evpnmon-feed.sock", n)
               for n in PATCHED_LEAVES}
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture(scope="module")
def baseline(lab):
    """Payload counts before this module configured anything."""
    return {n: payloads(lab, n) for n in NODES}


def spread_sessions(lab: Lab, node: str) -> list[dict]:
    """Rows of the 200 sessions of test_payloads_are_shared_and_freed."""
    return [s for s in lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")["sessions"]
            if s.get("hostIp", "").startswith("192.168.101.")]


def options_everywhere(lab: Lab, feeds: dict, want: dict | None, what: str) -> None:
    """Every speaker holds exactly one route for the session, whose options
    match `want` (None: no profile); every leaf's feed the same options
    octets and the session id."""
    last = []

    def ok():
        last[:] = []
        for n in NODES:
            rows = monitor_sessions(lab, n, HOST_MAC, HOST_ID)
            last[:] = [n, rows]
            if len(rows) != 1:
                return False
            opts = rows[0].get("options")
            if want is None:
                if opts is not None:
                    return False
            elif opts is None or any(opts.get(k) != v for k, v in want.items()):
                return False
            routes = monitor_routes(lab, n, HOST_MAC, HOST_ID)
            last[:] = [n, routes]
            if [r[2] for r in routes] != [1]:
                return False                    # one route, one path
        for n, c in feeds.items():
            fs = feed_sessions(c, HOST_MAC, HOST_ID)
            last[:] = [n, "feed", fs]
            if len(fs) != 1 or fs[0]["sessionId"] != SESSION_ID:
                return False
            wire = ""
            if want is not None:
                wire = monitor_sessions(lab, n, HOST_MAC, HOST_ID)[0]["options"]["wire"]
            if fs[0]["options"] != wire:
                return False
        return True
    try:
        lab.wait_for(ok, timeout=30, what=what)
    except Exception as e:
        raise AssertionError(f"{what}: last seen {last}") from e


def test_feed_speaks_version_4(lab, feeds, baseline):
    for n, c in feeds.items():
        lab.wait_for(lambda: (c.poll(0.1), c.version)[1] == 4, timeout=10,
                     what=f"{n}: snapshot/heartbeat of feed version 4")


def test_profile_reaches_every_speaker(lab, feeds):
    lab.vtysh("vtep101", AF + [
        "monitor server 21 mac 00:00:00:00:00:21 ip 192.168.100.21",
        "monitor profile P1",
        "monitor profile P1 direction rx",
        "monitor profile P1 sample 1-in 10",
        "monitor profile P1 filter 1 preset rocev2-cnp",
        f"monitor host vni 100 mac {HOST_MAC} server {HOST_ID} profile P1",
    ])
    options_everywhere(lab, feeds, {"direction": "rx", "sample": 10}, "profile P1 everywhere")
    row = monitor_sessions(lab, "vtep103", HOST_MAC, HOST_ID)[0]
    assert row["profile"] == "P1"
    assert row["sessionId"] == SESSION_ID
    (f,) = row["options"]["filters"]
    assert f["protocol"] == 17 and f["dport"] == "4791-4791"
    assert f["udfs"] == [{"base": "l5", "offset": 0, "value": "0x8100", "mask": "0xff00"}]


def test_profile_change_is_an_implicit_replace(lab, feeds):
    """Every change of the profile: one route everywhere, with the new
    options (the attribute compares the interned payload; bgpd's
    duplicate-UPDATE suppression hashes it)."""
    steps = [
        (["monitor profile P1 sample 1-in 20"], {"sample": 20}),
        (["monitor profile P1 truncate 128"], {"sample": 20, "truncate": 128}),
        (["no monitor profile P1 filter 1"], {"filters": [], "truncate": 128}),
        (["monitor profile P1 direction both"], {"direction": "both"}),
        (["monitor profile P1 police pps 1000 burst 10"],
         {"police": {"unit": "pps", "rate": 1000, "burst": 10}}),
    ]
    for cmds, want in steps:
        lab.vtysh("vtep101", AF + cmds)
        options_everywhere(lab, feeds, want, f"after {cmds}")


def test_session_without_profile_has_no_options(lab, feeds):
    lab.vtysh("vtep101", AF + [f"monitor host vni 100 mac {HOST_MAC} server {HOST_ID}"])
    options_everywhere(lab, feeds, None, "profile removed from the session")


def test_payloads_are_shared_and_freed(lab, feeds, baseline):
    """200 sessions over 4 servers and 3 profiles (12 distinct payloads),
    changed and withdrawn: interned once per distinct payload on every
    speaker, and back to the baseline when all are gone."""
    servers = range(31, 35)
    profiles = ["Q0", "Q1", "Q2"]
    cfg = [f"monitor server {s} mac 00:00:00:00:00:{s:02x}" for s in servers]
    for i, p in enumerate(profiles):
        cfg += [f"monitor profile {p}", f"monitor profile {p} sample 1-in {i + 2}"]
    hosts = [f"monitor host vni 100 ip 192.168.101.{i + 1} server {31 + i % 4}"
             for i in range(200)]
    # the session configured earlier in this module is one more payload
    extra = 1
    lab.vtysh("vtep101", AF + cfg + [f"{h} profile {profiles[i % 3]}"
                                     for i, h in enumerate(hosts)], timeout=120)

    def counts_are(delta):
        return lambda: all(payloads(lab, n) == baseline[n] + delta for n in NODES)
    lab.wait_for(counts_are(12 + extra), timeout=60,
                 what="one payload per distinct (server, options) on every speaker")
    # a profile change replaces 67 routes' payloads by 4 new ones
    lab.vtysh("vtep101", AF + ["monitor profile Q0 sample 1-in 100"])
    lab.wait_for(counts_are(12 + extra), timeout=60, what="old payloads of Q0 freed")
    lab.wait_for(lambda: all(
        any(s.get("options", {}).get("sample") == 100 for s in
            lab.vtysh_json(n, "show bgp l2vpn evpn monitor json")["sessions"]) for n in NODES),
        timeout=30, what="Q0's change everywhere")
    # Receiver paths that copy the attribute: a peer flap (routes cleared
    # and received again), and soft reconfiguration inbound with the
    # routes filtered and then let in again from the Adj-RIB-In (no path
    # left: the payload comes from the Adj-RIB-In's attribute).
    lab.configure("vtep103", ["route-map EVPNMON-DENY deny 10", "exit", "router bgp 65103",
                              "address-family l2vpn evpn",
                              "neighbor 10.1.0.4 soft-reconfiguration inbound"])
    lab.vtysh("vtep103", "clear bgp 10.1.0.4")   # every route into the Adj-RIB-In
    lab.wait_for(lambda: lab.bgp_established("vtep103")
                 and len(spread_sessions(lab, "vtep103")) == 200, timeout=60,
                 what="vtep103 back with its 200 sessions")
    lab.wait_for(counts_are(12 + extra), timeout=60, what="same payloads after a peer flap")
    lab.configure("vtep103", ["router bgp 65103", "address-family l2vpn evpn",
                              "neighbor 10.1.0.4 route-map EVPNMON-DENY in"])
    lab.wait_for(lambda: not spread_sessions(lab, "vtep103"), timeout=60,
                 what="sessions filtered by the inbound route-map")
    assert payloads(lab, "vtep103") == baseline["vtep103"] + 12 + extra, \
        "the Adj-RIB-In keeps the payloads of the filtered routes"
    lab.configure("vtep103", ["router bgp 65103", "address-family l2vpn evpn",
                              "no neighbor 10.1.0.4 route-map EVPNMON-DENY in"])
    lab.wait_for(lambda: len(spread_sessions(lab, "vtep103")) == 200
                 and all(s.get("options", {}).get("sample") in (100, 3, 4)
                         for s in spread_sessions(lab, "vtep103")),
                 timeout=60, what="sessions let in again with their server and options")
    assert counts_are(12 + extra)()
    lab.vtysh("vtep101", AF + ["no " + h for h in hosts], timeout=120)
    lab.wait_for(counts_are(extra), timeout=60, what="payloads of withdrawn sessions freed")
    lab.vtysh("vtep101", AF + [f"no monitor host vni 100 mac {HOST_MAC} server {HOST_ID}"])
    lab.wait_for(counts_are(0), timeout=60, what="back to the baseline everywhere")
    assert all(lab.bgp_established(n) for n in NODES)
    lab.configure("vtep103", ["router bgp 65103", "address-family l2vpn evpn",
                              "no neighbor 10.1.0.4 soft-reconfiguration inbound"])
