"""Focused checks for bugs found in the fabric scenarios (issue 5). Each test
name says what is wrong; each FAILS while the bug is there (they are not
marked xfail on purpose: ctest `scenarios.known-bugs` stays red until fixed).

BUG 1 - a silent monitoring server stops receiving copies.
  A monitoring server usually only receives (tcpdump). Its MAC ages out of
  its leaf's bridge FDB (ageing_time, 300 s by default; 10 s here to keep the
  test short), zebra withdraws its type-2 route, and every consumer turns the
  session to `server-unknown` and removes all its entries (rule R5): nothing
  is mirrored any more until the server happens to send a frame. Copies
  decapsulated onto its port never refresh the FDB (bpf_redirect to egress).

BUG 2 - SERV21 gets the flooded original *and* the copy.
  docs/exactly-once.md promises "at most once, no duplicates" while a move
  converges. But when the monitored host's MAC is unknown at a VTEP (the host
  moved and its old leaf withdrew the MAC, or it aged out), that VTEP floods
  frames to the host as unknown unicast to every VTEP (ingress replication);
  the server's leaf floods them onto the server's port, and the same VTEP's
  entry 2 also sends a copy: two of the same frame at the server. Measured:
  about 20 duplicates in one VM210 move under a 5 ms ping.

BUG 3 - a consumer restart after a host move drops the host's entry 1.
  When VM210 moves to vtep102 (ordinary move, consumers running), FRR 8.4.4's
  zebra on vtep102 leaves the old remote entry in the VXLAN device's FDB
  (`02:00:00:00:02:10 dev vxlan100 dst 10.0.0.101 self extern_learn`), while
  the bridge entry moves to the local port and zebra itself holds the MAC as
  local (the FPM stream does not list it as remote). The running consumer is
  right (the local learning event is the newest record). A restarted consumer
  reads both the kernel FDB dump and the local MAC dump at once, takes the
  stale kernel-fdb record as the location (host-location remote 10.0.0.101),
  and removes entry 1: VM210's own packets are no longer mirrored, for good
  (until VM210 moves again). Also hit when the consumer is down during a move.
  Worse for the server: after SERV21 moved to vtep103 and vtep103's consumer
  restarted, vtep103 drops entry 3 and points its entry 2 at 10.0.0.104:
  SERV21 receives no copy at all (0 of 32 in the test).
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
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


def test_BUG_flooded_original_and_copy_both_reach_the_server_during_a_move(lab, outdir):
    sif = lab.link_of("serv21", "vtep104").iface("serv21")
    with F.Pinger(lab, "vm230", "vm210", interval=0.005, name="ping-move"):
        time.sleep(0.3)
        with F.Capture(lab, "serv21", sif, outdir / "move-serv21.pcap",
                       f"icmp and host {F.VM210_IP}") as cs, \
             F.Capture(lab, "vtep104", "vxlan100", outdir / "move-vtep104-vxlan100.pcap",
                       f"icmp and host {F.VM210_IP}") as cf:
            time.sleep(0.3)
            lab.move_link("vm210", "vtep101", "vtep102")
            time.sleep(1.0)
            spk, fpk = cs.stop(), cf.stop()
    per_frame = Counter(p.frame for p in spk)
    dups = {f: n for f, n in per_frame.items() if n > 1}
    flooded = [p for p in fpk if p.eth_dst == F.VM210_MAC]
    assert len(dups) == 0, (f"{sum(n - 1 for n in dups.values())} duplicate frames at SERV21 during "
                      f"VM210's move ({len(flooded)} frames to VM210 arrived flooded on vtep104's "
                      f"fabric VXLAN device meanwhile: unknown unicast reaching the server's "
                      f"port next to the mirror copy)")


def test_BUG_consumer_restart_after_a_host_move_drops_entry_1(lab, outdir):
    lab.move_link("vm210", "vtep101", "vtep102")
    want = F.expected_entries(lab, "vtep102", "vtep104")
    F.wait_entries(lab, want)                       # right while the consumer runs
    stale = lab.exec("vtep102", f"bridge fdb show dev vxlan100 | grep {F.VM210_MAC}",
                     check=False).stdout.strip()
    lab.restart_daemon("vtep102", "fpm-consumer")
    time.sleep(8)                                   # > --fpm-resync-time, gates open
    F.wait_gates(lab)
    loc = [s["host-location"] for s in
           F.ctl_json(lab, "vtep102", "sessions")["sessions"]["session"]]
    got = F.all_entries(lab)
    assert got == want, (f"after a restart of vtep102's consumer, VM210 (local on vtep102) is "
                         f"seen at {loc}; kernel VXLAN FDB on vtep102: {stale!r}\n"
                         f"{F.diff_entries(want, got)}")


def test_BUG_consumer_restart_after_a_server_move_drops_entry_3(lab, outdir):
    """Same stale VXLAN FDB entry, for the server: after SERV21 moved to
    vtep103 and vtep103's consumer restarted, is entry 3 still there?"""
    lab.move_link("serv21", "vtep104", "vtep103")
    want = F.expected_entries(lab, "vtep101", "vtep103")
    F.wait_entries(lab, want)
    lab.restart_daemon("vtep103", "fpm-consumer")
    time.sleep(8)
    F.wait_gates(lab)
    got = F.all_entries(lab)
    cmp, res, _ = F.mirrored_exchange(lab, ["vm220", "vm240"], "srv-restart", outdir)
    assert got == want and cmp.exactly_once, (
        f"after a restart of vtep103's consumer (SERV21 local there): {cmp}\n"
        f"{F.diff_entries(want, got)}")
