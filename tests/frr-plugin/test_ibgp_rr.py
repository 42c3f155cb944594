"""The monitor-config route through an iBGP route reflector.

A second fabric (docker/clab/evpn-monitor-ibgp.clab.yml) next to the eBGP
reference fabric: one AS 65000, a patched route reflector `rr` without VNIs,
patched leaves vtep101..vtep103 as its clients, `advertise-all-vni` with
automatic RD and route targets (no `vni 100` block).  A session configured
with vtysh on vtep101 must reach the other leaves through the RR (vtysh JSON
and bgpd's session feed); a change of the server's MAC and of its IP on
vtep101 must reach the RR and every leaf as an implicit replace of the one
route (before the fix in patch 0002, bgpd's duplicate-UPDATE suppression
kept the change on vtep101); removal must withdraw it everywhere.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_ibgp_rr.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

from clabns import TEST_HEAP, Lab  # noqa: E402
from conftest import FRR_PREFIX  # noqa: E402
from feedclient import FeedClient  # noqa: E402
from monitor_checks import (monitor_routes, monitor_sessions,  # noqa: E402
                            wait_server_everywhere)

TOPOLOGY = HERE.parents[1] / "docker" / "clab" / "evpn-monitor-ibgp.clab.yml"
AS = 65000
RR = "rr"
LEAVES = ["vtep101", "vtep102", "vtep103"]
ORIGIN = "vtep101"
# the leaves' sessions to the RR: leaf -> RR's address on that link
RR_ADDR = {"vtep101": "10.1.0.0", "vtep102": "10.1.0.2", "vtep103": "10.1.0.4"}
HOST_MAC, HOST_IP = "00:00:00:00:02:10", "192.168.100.210"
SERVER_MAC, SERVER_IP, HOST_ID = "00:00:00:00:00:21", "192.168.100.21", 21
KEY = dict(host_mac=HOST_MAC, host_id=HOST_ID)
EVPN = ["configure terminal", f"router bgp {AS}", "address-family l2vpn evpn"]
HOST_LINE = f"monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} server {HOST_ID}"


@pytest.fixture(scope="module")
def lab():
    """The iBGP route-reflector fabric with the patched FRR, every BGP session
    up and every leaf's IMET route on the RR (EVPN is running)."""
    with Lab(TOPOLOGY, stock_ok=False, frr_prefix=FRR_PREFIX, **TEST_HEAP) as lab:
        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=90, what="all BGP sessions established")

        def imets_on_rr():
            table = lab.vtysh(RR, "show bgp l2vpn evpn route type multicast")
            return all(f"[3]:[0]:[32]:[10.0.0.{n[-3:]}]" in table for n in LEAVES)
        lab.wait_for(imets_on_rr, timeout=30, what="every leaf's type-3 route on the RR")
        yield lab


@pytest.fixture(scope="module")
def feeds(lab):
    clients = {n: FeedClient(f"ipc://{lab.node_dir(n)}/evpnmon-feed.sock", n) for n in LEAVES}
    for n, c in clients.items():
        lab.wait_for(lambda: (c.poll(0.1), c.snapshots >= 1)[1], timeout=10,
                     what=f"{n}: the feed answers the subscription with a snapshot")
    yield clients
    for c in clients.values():
        c.close()


def vni_info(lab: Lab, node: str) -> dict:
    return lab.vtysh_json(node, "show bgp l2vpn evpn vni 100 json")


def set_server(lab: Lab, mac: str, ip: str | None) -> None:
    lab.vtysh(ORIGIN, EVPN + [f"monitor server {HOST_ID} mac {mac}" + (f" ip {ip}" if ip else "")])


def test_fabric_is_ibgp_with_automatic_rd_rt(lab):
    for n in LEAVES:
        nb = lab.vtysh_json(n, "show bgp neighbors json")
        (peer,) = nb.values()
        assert peer["remoteAs"] == peer["localAs"] == AS, f"{n}: iBGP"
        v = vni_info(lab, n)
        # automatic: RD <router-id>:<index>, RT <AS>:<VNI>, the same on every leaf
        assert v["rd"].startswith(f"10.0.0.{n[-3:]}:"), v
        assert v["importRts"] == [f"{AS}:100"] and v["exportRts"] == [f"{AS}:100"], v
    conf = lab.vtysh(ORIGIN, "show running-config")
    assert "route-target" not in conf and "vni 100" not in conf
    rr = lab.vtysh_json(RR, "show bgp neighbors json")
    assert len(rr) == len(LEAVES)
    for peer in rr.values():
        assert peer["remoteAs"] == AS
        assert peer["addressFamilyInfo"]["l2VpnEvpn"].get("routeReflectorClient") is True


def test_session_reaches_every_leaf_via_rr(lab, feeds):
    lab.vtysh(ORIGIN, EVPN + [f"monitor server {HOST_ID} mac {SERVER_MAC} ip {SERVER_IP}",
                              HOST_LINE])
    rd = vni_info(lab, ORIGIN)["rd"]
    wait_server_everywhere(lab, feeds, [RR] + LEAVES, server_mac=SERVER_MAC,
                           server_ip=SERVER_IP, what="session on the RR and every leaf", **KEY)
    for n in [RR] + LEAVES:
        (s,) = monitor_sessions(lab, n, **KEY)
        assert s["vni"] == 100 and s["hostIp"] == HOST_IP
        assert s["originatorIp"] == "10.0.0.101"
        assert s["rd"] == rd, f"{n}: the originator's automatic RD"
        assert s["origin"] == ("local" if n == ORIGIN else "remote")
        assert s["importedInto"] == ([] if n == RR else [100]), n
    # the other leaves got it from the RR, next hop unchanged (the VTEP)
    for n in LEAVES[1:]:
        j = lab.vtysh_json(n, "show bgp l2vpn evpn route type monitor json")
        ((pfx, route),) = [(k, v) for k, v in j[rd].items() if isinstance(v, dict)]
        (path,) = [p[0] for p in route["paths"]]
        assert path["peerId"] == RR_ADDR[n], f"{n}: learnt from the RR"
        assert path["nexthops"][0]["ip"] == "10.0.0.101"
        assert path["pathFrom"] == "internal"
    for n, c in feeds.items():
        (s,) = [s for s in c.sessions.values() if s["hostMac"] == HOST_MAC]
        assert s["local"] == (n == ORIGIN)
        assert s["originator"] == "10.0.0.101" and s["vni"] == 100 and s["rd"] == rd


def test_server_mac_change_reaches_rr_and_every_leaf(lab, feeds):
    new_mac = "00:00:00:00:00:23"
    try:
        set_server(lab, new_mac, SERVER_IP)
        wait_server_everywhere(lab, feeds, [RR] + LEAVES, server_mac=new_mac,
                               server_ip=SERVER_IP, old_server_mac=SERVER_MAC,
                               what=f"server MAC {SERVER_MAC} -> {new_mac}", **KEY)
    finally:
        # back to the original also on failure, so that the next test starts
        # from one state everywhere (without the fix the RR and the leaves
        # never left it)
        set_server(lab, SERVER_MAC, SERVER_IP)
    wait_server_everywhere(lab, feeds, [RR] + LEAVES, server_mac=SERVER_MAC,
                           server_ip=SERVER_IP, old_server_mac=new_mac,
                           what=f"server MAC {new_mac} -> {SERVER_MAC} (back)", **KEY)


def test_server_ip_change_reaches_rr_and_every_leaf(lab, feeds):
    wait_server_everywhere(lab, feeds, [RR] + LEAVES, server_mac=SERVER_MAC,
                           server_ip=SERVER_IP, what="the original server everywhere", **KEY)
    try:
        # IPv4 -> IPv4, -> none (the server line again without ip), -> back
        for ip in ("192.168.100.23", None, SERVER_IP):
            set_server(lab, SERVER_MAC, ip)
            wait_server_everywhere(lab, feeds, [RR] + LEAVES, server_mac=SERVER_MAC,
                                   server_ip=ip, what=f"server IP -> {ip or 'none'}", **KEY)
    finally:
        set_server(lab, SERVER_MAC, SERVER_IP)


def test_removal_withdraws_everywhere(lab, feeds):
    lab.vtysh(ORIGIN, EVPN + [f"no {HOST_LINE}"])

    def gone():
        for c in feeds.values():
            c.poll(0.05)
        return (not any(monitor_sessions(lab, n, **KEY) or monitor_routes(lab, n, **KEY)
                        for n in [RR] + LEAVES)
                and not any(s["hostMac"] == HOST_MAC for c in feeds.values()
                            for s in c.sessions.values()))
    lab.wait_for(gone, timeout=20, what="session withdrawn from the RR, every leaf and feed")
    lab.vtysh(ORIGIN, EVPN + [f"no monitor server {HOST_ID}"])
    assert "monitor" not in lab.vtysh(ORIGIN, "show running-config")
    assert all(lab.bgp_established(n) for n in lab.frr_nodes)
