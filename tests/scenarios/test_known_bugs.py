"""Focused checks for bugs found in the fabric scenarios (issue 5) that are
still open. Each test name says what is wrong; each FAILS while the bug is
there (not marked xfail on purpose: ctest `scenarios.known-bugs` stays red
until fixed). Bugs found here and fixed since are kept as regression tests in
test_regressions.py.

BUG 1 - a silent monitoring server stops receiving copies.
  A monitoring server usually only receives (tcpdump). Its MAC ages out of
  its leaf's bridge FDB (ageing_time, 300 s by default; 10 s here to keep the
  test short), zebra withdraws its type-2 route, and every consumer turns the
  session to `server-unknown` and removes all its entries (rule R5): nothing
  is mirrored any more until the server happens to send a frame. Copies
  decapsulated onto its port never refresh the FDB (bpf_redirect to egress).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402
from clabns import Lab  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (Path(F.FRR_PREFIX) / "bin").exists() or not F.CTL.exists(),
    reason="needs the patched FRR build (build/frr) and build/fpm-consumer")


@pytest.fixture
def lab():
    with Lab(F.TOPOLOGY, frr_prefix=F.FRR_PREFIX, stock_ok=False, require_extras=True) as lab:
        F.bring_up_wait(lab)
        F.quiet_hosts(lab)
        for h in ("vm220", "vm230", "vm240", "serv21"):
            assert F.ping(lab, "vm210", h, count=1)
        F.wait_gates(lab)
        lab.configure("vtep101", F.monitor_config())
        F.wait_entries(lab, F.expected_entries(lab, "vtep101", "vtep104"))
        yield lab


@pytest.fixture
def outdir():
    with tempfile.TemporaryDirectory(prefix="evpnmon-bugs-") as d:
        yield Path(d)


def test_BUG_silent_server_mac_ages_out_and_mirroring_stops(lab, outdir):
    lab.exec("vtep104", "ip link set br100 type bridge ageing_time 1000")   # 10 s
    lab.exec("serv21", "ip neigh flush all")          # nothing makes SERV21 talk
    sif = lab.link_of("serv21", "vtep104").iface("serv21")
    with F.Pinger(lab, "vm220", "vm210", interval=0.05, name="ping-age"):
        time.sleep(16)                                 # > ageing time, SERV21 silent
        with F.Capture(lab, "serv21", sif, outdir / "aged-serv21.pcap",
                       f"icmp and host {F.VM210_IP}") as cs:
            time.sleep(2)
            copies = cs.stop()
    status = [s["status"] for s in F.ctl_json(lab, "vtep102", "sessions")["sessions"]["session"]]
    entries = F.all_entries(lab)
    assert copies, (f"SERV21 received no copy of VM210's traffic once its MAC aged out of "
                    f"vtep104's FDB (session status on vtep102: {status}; entries left: "
                    f"{ {n: len(e) for n, e in entries.items()} })")
    assert entries == F.expected_entries(lab, "vtep101", "vtep104")
