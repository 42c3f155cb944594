"""The patent's example, end to end, in the reference fabric (issue 5).

VM210 (vtep101) is monitored by SERV21 (vtep104), configured once with vtysh
on vtep101. Then VM210 moves to vtep102, then SERV21 moves to vtep103 (links
moved, gratuitous ARP, no operator action); one more step moves VM210 onto
the server's leaf (copies become local-port copies) and back.

After each step:
  * every VTEP's entries (evpnmon-ctl --json) are exactly the expected ones
    (docs/exactly-once.md: entry 2 everywhere, entry 1 at VM210's leaf,
    entry 3 at SERV21's leaf, action = SERV21's port or VXLAN-GBP to its VTEP);
  * ping + TCP echo flow both ways between VM210 and hosts on every other
    patched leaf (same leaf as VM210 / as SERV21 included once they are):
    every unicast frame to or from VM210 seen at VM210's port reaches SERV21
    exactly once, byte for byte, and SERV21 gets nothing else of VM210's;
  * every mirror copy crossing the spine is VXLAN-GBP, VNI 100, Group
    Policy ID 21, to SERV21's current VTEP (no stale copies to an old VTEP).

Run as root: /usr/bin/python3 -m pytest -v tests/scenarios/test_patent_example.py
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
    with F.ready_fabric([("vm210", h) for h in ("vm220", "vm230", "vm240", "serv21", "vm250")],
                        ["vm210", *PEERS, "vm250"]) as lab:
        yield lab


def check_step(lab, outdir, tag, server_leaf):
    want = F.expected_entries(lab, server_leaf)
    F.wait_entries(lab, want, timeout=20)
    cmp, res, _, copies = F.mirrored_exchange(lab, PEERS, tag, outdir, underlay=True)
    assert all(res.values()), f"traffic failed: {[k for k, v in res.items() if not v]}"
    assert cmp.at_host > 0
    assert cmp.exactly_once, f"{cmp}; examples {cmp.examples}"
    # entries still exact after the traffic (nothing re-derived wrongly)
    got = F.all_entries(lab)
    assert got == want, F.diff_entries(want, got)
    assert copies, "mirror copies crossed the spine"
    stray = [c for c in copies if c != (F.VTEP_IP[server_leaf], F.VNI, F.HOST_ID)]
    assert not stray, f"copies not VXLAN-GBP to {server_leaf}/VNI 100/GPID 21: {stray[:5]}"
    return cmp


def test_initial(lab, outdir):
    assert all(F.entries(lab, n) == set() for n in F.LEAVES), "no entries before configuration"
    lab.configure("vtep101", F.monitor_config())
    check_step(lab, outdir, "initial", "vtep104")


def test_vm210_moves_to_vtep102(lab, outdir):
    F.move_host(lab, "vm210", "vtep101", "vtep102")
    check_step(lab, outdir, "vm210-moved", "vtep104")


def test_serv21_moves_to_vtep103(lab, outdir):
    F.move_host(lab, "serv21", "vtep104", "vtep103")
    check_step(lab, outdir, "serv21-moved", "vtep103")


def test_vm210_onto_servers_leaf_and_back(lab, outdir):
    """Host and server on one leaf: entry 1 and 2 there copy to the local port."""
    F.move_host(lab, "vm210", "vtep102", "vtep103")
    check_step(lab, outdir, "vm210-on-server-leaf", "vtep103")
    F.move_host(lab, "vm210", "vtep103", "vtep101")
    check_step(lab, outdir, "vm210-back", "vtep103")


def test_unconfigure_removes_everything(lab, outdir):
    lab.configure("vtep101", F.unmonitor_config())
    F.wait_entries(lab, {n: set() for n in F.LEAVES}, timeout=20)
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "unconfigured", outdir)
    assert all(res.values()) and cmp.at_host > 0
    assert cmp.at_server == 0, f"copies after the session was removed: {cmp}"
