"""Regression tests for bugs the fabric scenarios found (issue 5), fixed since.

A silent monitoring server stopped receiving copies (was BUG 1; fixed in the
  fpm-consumer by 2ad6652: a server's MAC keeps its last location when it is
  no longer seen). A capture server that only receives never refreshes its
  MAC in its leaf's bridge FDB (copies are redirected to the port's egress).
  After ageing_time (300 s by default; 10 s here) zebra withdrew its type-2
  route, every consumer turned the session `server-unknown` and removed all
  its entries: nothing was mirrored until the server sent a frame.

Flooded original and copy both reached the server (was BUG 2; fixed in the
  dataplane by 6df7fdf/754815d: flooded originals are dropped at a server
  port's egress when the mirror already copies them). While the monitored
  host's MAC is unknown at a VTEP (after a move, until the new type-2
  arrives), frames to it are flooded as unknown unicast to every VTEP, and
  the server's leaf flooded them onto the server's port next to the copy:
  22 duplicates in one VM210 move under a 5 ms ping.

A consumer restart after a move trusted a stale kernel FDB entry (was BUG 3;
  fixed in the fpm-consumer by c8e3b75: the bridge's master FDB entry decides
  local vs remote). When a MAC moves onto a leaf, FRR 8.4.4's zebra leaves
  the old remote entry in that leaf's VXLAN device FDB
  (`... dev vxlan100 dst 10.0.0.101 self extern_learn`). A restarted consumer
  took it as the location: entry 1 of a moved host dropped; for a moved
  server entry 3 dropped and SERV21 received no copy at all.
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
from clabns import TEST_HEAP, Lab  # noqa: E402



@pytest.fixture
def lab():
    with Lab(F.TOPOLOGY, frr_prefix=F.FRR_PREFIX, stock_ok=False, require_extras=True,
             **TEST_HEAP) as lab:
        F.bring_up_wait(lab)
        F.quiet_hosts(lab)
        for h in ("vm220", "vm230", "vm240", "serv21"):
            F.wait_reachable(lab, "vm210", h)
        F.start_echo_servers(lab, ["vm210", "vm220", "vm230", "vm240"])
        F.wait_gates(lab)
        lab.configure("vtep101", F.monitor_config())
        F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
        yield lab


@pytest.fixture
def outdir():
    with tempfile.TemporaryDirectory(prefix="evpnmon-regr-") as d:
        yield Path(d)


def test_no_duplicate_from_flooded_originals_during_a_move(lab, outdir):
    sif = lab.link_of("serv21", "vtep104").iface("serv21")
    with F.Pinger(lab, "vm230", "vm210", interval=0.005, name="ping-move"):
        with F.Capture(lab, "serv21", sif, outdir / "move-serv21.pcap",
                       f"icmp and host {F.VM210_IP}") as cs, \
             F.Capture(lab, "vtep104", "vxlan100", outdir / "move-vtep104-vxlan100.pcap",
                       f"icmp and host {F.VM210_IP}") as cf:
            # copies before the move, and for a second after it
            lab.wait_for(lambda: F.read_pcap(cs.path), 10, "copies at SERV21 before the move")
            t_move = time.time()
            lab.move_link("vm210", "vtep101", "vtep102")
            lab.wait_for(lambda: any(p.ts > t_move + 1.0 for p in F.read_pcap(cs.path)), 15,
                         "copies at SERV21 a second after the move")
            spk, fpk = cs.stop(), cf.stop()
    assert any(p.ts < t_move for p in spk) and any(p.ts > t_move + 1.0 for p in spk)
    per_frame = Counter(p.frame for p in spk)
    dups = {f: n for f, n in per_frame.items() if n > 1}
    flooded = [p for p in fpk if p.eth_dst == F.VM210_MAC]
    assert len(dups) == 0, (f"{sum(n - 1 for n in dups.values())} duplicate frames at SERV21 during "
                      f"VM210's move ({len(flooded)} frames to VM210 arrived flooded on vtep104's "
                      f"fabric VXLAN device meanwhile: unknown unicast reaching the server's "
                      f"port next to the mirror copy)")


def test_consumer_restart_after_a_host_move_keeps_the_host_local(lab, outdir):
    """Entries 1 and 2 do not depend on VM210's location any more, so the
    location itself is checked: the stale VXLAN FDB entry of before the move
    must not make a restarted consumer place VM210 behind its old VTEP."""
    F.move_host(lab, "vm210", "vtep101", "vtep102")
    want = F.expected_entries(lab, "vtep104")
    F.wait_entries(lab, want)                       # right while the consumer runs
    stale = lab.exec("vtep102", f"bridge fdb show dev vxlan100 | grep {F.VM210_MAC}",
                     check=False).stdout.strip()
    lab.restart_daemon("vtep102", "fpm-consumer")
    F.wait_restarted(lab, "vtep102")
    loc = [s["host-location"] for s in
           F.ctl_json(lab, "vtep102", "sessions")["sessions"]["session"]]
    got = F.all_entries(lab)
    assert loc and all(x.get("kind") == "local" for x in loc) and got == want, (
                         f"after a restart of vtep102's consumer, VM210 (local on vtep102) is "
                         f"seen at {loc}; kernel VXLAN FDB on vtep102: {stale!r}\n"
                         f"{F.diff_entries(want, got)}")


def test_consumer_restart_after_a_server_move_keeps_entry_3(lab, outdir):
    """Same stale VXLAN FDB entry, for the server: after SERV21 moved to
    vtep103 and vtep103's consumer restarted, is entry 3 still there?"""
    F.move_host(lab, "serv21", "vtep104", "vtep103")
    want = F.expected_entries(lab, "vtep103")
    F.wait_entries(lab, want)
    lab.restart_daemon("vtep103", "fpm-consumer")
    F.wait_restarted(lab, "vtep103")
    got = F.all_entries(lab)
    cmp, res, _ = F.mirrored_exchange(lab, ["vm220", "vm240"], "srv-restart", outdir)
    assert all(res.values()), f"traffic failed: {[k for k, v in res.items() if not v]}"
    assert got == want and cmp.at_host > 0 and cmp.exactly_once, (
        f"after a restart of vtep103's consumer (SERV21 local there): {cmp}\n"
        f"{F.diff_entries(want, got)}")


def test_consumer_down_during_a_move(lab, outdir):
    """VM210 moves to vtep102 while vtep102's consumer is stopped, and back
    while vtep101's is: each restarted consumer derives the right entries
    from its dumps (first found this way, when entry 1 followed the host:
    it never came back)."""
    lab.stop_daemon("vtep102", "fpm-consumer")
    F.move_host(lab, "vm210", "vtep101", "vtep102")   # in every leaf's FDB
    lab.restart_daemon("vtep102", "fpm-consumer")
    F.wait_restarted(lab, "vtep102")
    F.wait_entries(lab, F.expected_entries(lab, "vtep104"), timeout=30)
    cmp, res, _ = F.mirrored_exchange(lab, ["vm220", "vm230", "vm240"], "down-move", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.exactly_once, f"{cmp} {cmp.examples}"
    lab.stop_daemon("vtep101", "fpm-consumer")
    F.move_host(lab, "vm210", "vtep102", "vtep101")
    lab.restart_daemon("vtep101", "fpm-consumer")
    F.wait_restarted(lab, "vtep101")
    F.wait_entries(lab, F.expected_entries(lab, "vtep104"), timeout=30)
    cmp, res, _ = F.mirrored_exchange(lab, ["vm220", "vm230", "vm240"], "down-move-back", outdir)
    assert all(res.values()) and cmp.at_host > 0 and cmp.exactly_once, f"{cmp} {cmp.examples}"


def test_silent_server_keeps_receiving_copies_after_its_mac_aged_out(lab, outdir):
    lab.exec("vtep104", "ip link set br100 type bridge ageing_time 1000")   # 10 s
    lab.exec("serv21", "ip neigh flush all")          # nothing makes SERV21 talk
    sif = lab.link_of("serv21", "vtep104").iface("serv21")

    def server_location(leaf):
        for s in F.ctl_json(lab, leaf, "sessions")["sessions"]["session"]:
            if s.get("host-mac") == F.VM210_MAC and int(s.get("host-id", 0)) == F.HOST_ID:
                return s.get("server-location", {})
        return {}

    def aged_everywhere():
        return all(F.mac_location(lab, n, F.SERV21_MAC) is None for n in F.LEAVES + [F.STOCK_LEAF])

    with F.Pinger(lab, "vm220", "vm210", interval=0.05, name="ping-age"):
        # SERV21 silent: its MAC ages out of vtep104 (10 s), its type-2
        # route is withdrawn, and every consumer keeps its last location
        lab.wait_for(aged_everywhere, timeout=60, interval=0.2,
                     what="SERV21's MAC aged out of vtep104 and withdrawn from every leaf")
        def kept(leaf):              # vtep104: no longer the live local port
            loc = server_location(leaf)
            if leaf == "vtep104":
                return loc and (loc.get("kind") != "local" or "kept-since" in loc)
            return "kept-since" in loc
        lab.wait_for(lambda: all(kept(n) for n in F.LEAVES), timeout=30, interval=0.2,
                     what="every consumer took SERV21's ageing in (its last location kept)")
        with F.Capture(lab, "serv21", sif, outdir / "aged-serv21.pcap",
                       f"icmp and host {F.VM210_IP}") as cs:
            # BUG 1: nothing more arrived here once the MAC aged out
            lab.wait_for(lambda: len(F.read_pcap(cs.path)) >= 4, timeout=10, interval=0.2,
                         what="copies of VM210's traffic at SERV21 after its MAC aged out")
            copies = cs.stop()
    assert aged_everywhere(), "test invalid: SERV21's MAC was learnt again during the measurement"
    status = [s["status"] for s in F.ctl_json(lab, "vtep102", "sessions")["sessions"]["session"]]
    entries = F.all_entries(lab)
    assert copies, (f"SERV21 received no copy of VM210's traffic once its MAC aged out of "
                    f"vtep104's FDB (session status on vtep102: {status}; entries left: "
                    f"{ {n: len(e) for n, e in entries.items()} })")
    assert entries == F.expected_entries(lab, "vtep104")
