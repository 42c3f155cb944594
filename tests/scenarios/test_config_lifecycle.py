"""Configuration life cycle in the reference fabric (issue 5): the same
session configured on two leaves (redundant origins: one set of entries, one
copy per frame), removed from one of them (still served by the other), the
server definition removed (every entry withdrawn fabric-wide) and defined
again (entries back), all without touching the hosts.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402

PEERS = ["vm220", "vm230", "vm240"]



@pytest.fixture(scope="module")
def lab():
    with F.ready_fabric([("vm210", h) for h in ("vm220", "vm230", "vm240", "serv21")],
                        ["vm210", *PEERS]) as lab:
        yield lab


def origins(lab, node="vtep102"):
    return sorted(s["originatorIp"] for s in
                  lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")["sessions"])


def test_same_session_on_two_leaves(lab, outdir):
    lab.configure("vtep101", F.monitor_config(65101))
    lab.configure("vtep103", F.monitor_config(65103))
    lab.wait_for(lambda: origins(lab) == ["10.0.0.101", "10.0.0.103"], timeout=20,
                 what="two origins of the session")
    F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "two-origins", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.exactly_once, f"{cmp} {cmp.examples}"
    assert all(F.counters(lab, n)["sessions-conflict"] == 0 for n in F.LEAVES)


def test_removed_on_one_origin_still_served(lab, outdir):
    lab.configure("vtep101", F.unmonitor_config(65101))
    lab.wait_for(lambda: origins(lab) == ["10.0.0.103"], timeout=20, what="one origin left")
    F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "one-origin", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.exactly_once, f"{cmp} {cmp.examples}"


def test_server_undefined_then_defined(lab, outdir):
    lab.configure("vtep103", ["router bgp 65103", "address-family l2vpn evpn",
                              f"no monitor server {F.HOST_ID}"])
    F.wait_entries(lab, {n: set() for n in F.LEAVES})
    assert "server-undefined" in lab.vtysh("vtep103", "show bgp l2vpn evpn monitor")
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "undefined", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.at_server == 0, f"copies without a server: {cmp}"
    lab.configure("vtep103", ["router bgp 65103", "address-family l2vpn evpn",
                              f"monitor server {F.HOST_ID} mac {F.SERV21_MAC} ip {F.SERV21_IP}"])
    F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "redefined", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.exactly_once, f"{cmp} {cmp.examples}"
