"""ERSPAN collector sessions on the wire, across the reference fabric.

Reference fabric (docker/clab/evpn-monitor.clab.yml): patched spine and
leaves vtep101..104, one L2 VNI 100. A collector session configured on
vtep101 must reach the spine and every other patched leaf (vtysh JSON, the
route table, and the feed of version 3: collector_id, host_id 0, no server
MAC, server_ip = the collector, the options with the ERSPAN TLV); every
change of the collector must reach them as an implicit replace of the one
route; deleting the collector withdraws it everywhere. A feed subscriber of
version 2 never sees the session.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_collector_route.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

from feedclient import FeedClient  # noqa: E402
from monitor_checks import collector_sessions, wait_collector_everywhere  # noqa: E402

PATCHED_LEAVES = ["vtep101", "vtep102", "vtep103", "vtep104"]
NODES = ["spine"] + PATCHED_LEAVES
HOST_MAC, COLLECTOR, COLL_IP = "00:00:00:00:02:10", 7, "10.9.0.1"
SESSION_ID = f"10.0.0.101/100/c{COLLECTOR}/{HOST_MAC}/-"
AF = ["configure terminal", "router bgp 65101", "address-family l2vpn evpn"]


@pytest.fixture(scope="module")
def feeds(lab):
    clients = {n: FeedClient(f"ipc://{lab.node_dir(n)}/evpnmon-feed.sock", n)
               for n in PATCHED_LEAVES}
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture(scope="module")
def old_feed(lab):
    """A subscriber of feed version 2 on vtep103."""
    c = FeedClient(f"ipc://{lab.node_dir('vtep103')}/evpnmon-feed.sock", "v2", version=2)
    yield c
    c.close()


def everywhere(lab, feeds, ip, erspan=None, what=""):
    wait_collector_everywhere(lab, feeds, NODES, host_mac=HOST_MAC, collector_id=COLLECTOR,
                              collector_ip=ip, erspan=erspan, what=what)


def test_collector_session_reaches_every_speaker(lab, feeds, old_feed):
    lab.vtysh("vtep101", AF + [
        "monitor profile CNP",
        "monitor profile CNP filter 1 preset rocev2-cnp",
        f"monitor collector {COLLECTOR} ip {COLL_IP} erspan 3",
        f"monitor host vni 100 mac {HOST_MAC} collector {COLLECTOR} profile CNP",
    ])
    everywhere(lab, feeds, COLL_IP, {"version": 3, "spanId": 7, "dscp": 0, "ttl": 64,
                                     "greProtocol": "0x22eb"})
    row = collector_sessions(lab, "vtep103", HOST_MAC, COLLECTOR)[0]
    assert row["sessionId"] == SESSION_ID and row["profile"] == "CNP"
    assert row["destination"] == "collector" and "hostId" not in row
    assert row["importedInto"] == [100]
    assert collector_sessions(lab, "spine", HOST_MAC, COLLECTOR)[0]["importedInto"] == []
    (f,) = [s for s in feeds["vtep103"].sessions.values() if s["collectorId"] == COLLECTOR]
    assert f["sessionId"] == SESSION_ID and f["hostId"] == 0 and f["local"] is False


def test_collector_change_is_an_implicit_replace(lab, feeds):
    steps = [
        ("erspan 3 session-id 100 dscp 40 gre-protocol 0x88be",
         {"version": 3, "spanId": 100, "dscp": 40, "greProtocol": "0x88be"}),
        ("erspan 3 ttl 5", {"spanId": 7, "dscp": 0, "ttl": 5, "greProtocol": "0x22eb"}),
        ("erspan 2", {"version": 2, "ttl": 64, "greProtocol": "0x88be"}),
    ]
    for args, erspan in steps:
        lab.vtysh("vtep101", AF + [f"monitor collector {COLLECTOR} ip {COLL_IP} {args}"])
        everywhere(lab, feeds, COLL_IP, erspan, f"after {args}")
    lab.vtysh("vtep101", AF + [f"monitor collector {COLLECTOR} ip 10.9.0.2 erspan 2"])
    everywhere(lab, feeds, "10.9.0.2", {"version": 2}, "new collector IP")


def test_version_2_subscriber_never_sees_it(lab, old_feed):
    """(test_collector_cli.py checks that it sees no sequence gap either)"""
    old_feed.poll(0.5)
    lab.wait_for(lambda: (old_feed.poll(0.1), old_feed.seq)[1] is not None, timeout=10,
                 what="the version-2 subscriber in sync")
    assert old_feed.version == 4   # what bgpd speaks, whatever was asked
    assert collector_sessions(lab, "vtep103", HOST_MAC, COLLECTOR), "the session is still there"
    assert not [s for s in old_feed.sessions.values() if s["collectorId"] or s["hostId"] == 0]


def test_collector_deleted_withdraws_everywhere(lab, feeds):
    lab.vtysh("vtep101", AF + [f"no monitor collector {COLLECTOR}"])
    everywhere(lab, feeds, None)
    state = [c["state"] for c in lab.vtysh_json("vtep101", "show bgp l2vpn evpn monitor json")[
        "configured"] if c.get("collectorId") == COLLECTOR]
    assert state == ["collector-missing"]
    lab.vtysh("vtep101", AF + [f"no monitor host vni 100 mac {HOST_MAC} collector {COLLECTOR} profile CNP",
                               "no monitor profile CNP"])
