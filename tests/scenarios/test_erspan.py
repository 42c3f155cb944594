"""ERSPAN collectors end to end in the reference fabric: real FRR daemons,
the fpm-consumers and the eBPF dataplane, copies captured at a collector on
the underlay and decoded by tshark, field by field.

The collector node has 10.9.0.1 on its lo, reached from every leaf through
the spine (eth1; the spine advertises the address over BGP), and has a
second link straight to vtep101 (eth2 <-> vtep101 eth4) that carries
nothing until a test routes vtep101's copies there. Every collector and
session is configured on vtep103, which holds none of the hosts: the
configuration crosses BGP to the leaves where the frames enter. VM210 is
the monitored host (vtep101), VM220 its peer (vtep102); frames are built
with scapy and carry a marker (run, sequence number), so every check counts
copies per packet; an empty capture never passes. The consumers run with
--erspan-hw-id 1..4 (vtep101..vtep104, topology file), so the HW ID of a
copy also names the VTEP that made it.

Each copy is compared with what was configured and with the original it
copies (tests/scenarios/erspan.py): outer source = the VTEP where the
original entered, destination, DSCP, TTL (one less behind the spine), DF
clear, header checksum; GRE flags 0x1000, protocol, sequence numbers
contiguous per (VTEP, session); ERSPAN version, VLAN, COS, En / BSO, T,
session ID, Index / port index (ifindex of the original's ingress port),
SGT, P, FT, HW ID, D (0 = from VM210, 1 = to it), Gra, O, platform ID 3;
the timestamp rebuilt from the base field and the platform subheader's upper
32 bits (100 ns units since the UNIX epoch) within 1 ms of the capture time
of the same original where it entered the fabric: VM210's own port for
frames from VM210; for frames to it the sender's port (the copy is made at
the ingress VTEP, before the original crosses the fabric to VM210's port, a
trip that can take more than 1 ms on a loaded machine). A copy delayed by
the machine (more than 1 ms between the original's capture and the copy's
arrival at the collector) passes if its timestamp lies between the two. The
inner frame byte for byte.

  test_every_field[...]           types II and III, defaults and explicit
                                  session-id / dscp / ttl / gre-protocol
                                  (0x88BE on III, vendor 0x8949); inner ARP,
                                  IPv4 (60..1514 octets), IPv6, ICMP,
                                  802.1Q-tagged (up to 1518 octets)
  test_truncation_and_filter      profile rocev2-cnp + truncate 128: only
                                  CNPs, cut at 128 with T set
  test_sessions_have_their_own_sequence_spaces
                                  two collector sessions whose copies
                                  interleave on the same VTEPs
  test_host_move                  copies then come from the new VTEP, its
                                  sequence numbers its own (from 0)
  test_collector_route_change     vtep101's route moves to the direct link
                                  and back: copies follow, none lost
  test_unreachable_collector      no route: nothing leaves any VTEP, the
                                  consumers count every copy as no-route and
                                  log it (rate-limited); copies resume when
                                  the route is back
  test_mix_server_and_collector   VM210 watched by SERV21 (VXLAN-GBP) and by
                                  an ERSPAN III collector: each gets every
                                  packet it selects exactly once
  test_gso_super_packets_cut_to_the_mtu
                                  TCP from VM210's stack (64 KB GSO
                                  super-packets on the veth): copies cut to
                                  the underlay MTU, T set

Run as root:
  EVPNMON_FRR_PREFIX=build/frr EVPNMON_BUILD_DIR=build EVPNMON_NO_SKIP=1 \\
    /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/scenarios/test_erspan.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import erspan as E  # noqa: E402
import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

HOST, PEER = P.HOST, P.PEER


@pytest.fixture(scope="module")
def lab():
    with F.ready_fabric([(HOST, PEER), (HOST, P.SERVER), (PEER, P.SERVER)], []) as lab:
        E.start_gre_sink(lab)
        P.configure(lab, P.server_lines())
        for n in ("vtep101", "vtep102", "vtep103"):
            lab.wait_for(lambda: E.route_dev(lab, n) == "eth1", timeout=20,
                         what=f"{n}'s route to the collector")
        yield lab


@pytest.fixture
def fresh(lab):
    """VM210 on vtep101, VM210 and VM220 known on every leaf, no collector
    session left from an earlier test."""
    assert F.where_is(lab, HOST) == "vtep101", "an earlier test left VM210 elsewhere"
    lab.wait_for(lambda: not any("collector-id" in e for n in F.LEAVES for e in
                                 F.ctl_json(lab, n, "entries").get("entries", {}).get("entry", [])),
                 timeout=30, what="no collector entry left from an earlier test")
    P.refresh_macs(lab)
    return lab


def hw(lab):
    return E.hw_ids(lab)


def check(lab, copies, expect, colls, runs, cc: E.CollectorCapture) -> E.Verdict:
    v = E.verdict(copies, expect, colls, hw(lab), E.ifindexes(lab), runs, capture=cc)
    print(f"\n  {v}\n  sequence ranges {E.seq_ranges(copies)}")
    return v


def field_frames(run: int) -> tuple[list[bytes], list[bytes]]:
    """Both directions: IPv4/UDP of 60, 61, 500 and 1514 octets, IPv6/UDP,
    ICMP, a unicast ARP reply (52 octets: short), 802.1Q-tagged IPv4 of
    100 and of 1518 octets (the largest tagged frame that is not
    oversized)."""
    kinds = [
        lambda s, d, q: P.udp_frame(s, d, run, q, size=60),
        lambda s, d, q: P.udp_frame(s, d, run, q, size=61),
        lambda s, d, q: P.udp_frame(s, d, run, q, size=500),
        lambda s, d, q: P.udp_frame(s, d, run, q, size=1514),
        lambda s, d, q: P.ip6_frame(s, d, run, q),
        lambda s, d, q: P.icmp_frame(s, d, run, q),
        lambda s, d, q: P.arp_frame(s, d, run, q),
        lambda s, d, q: E.tagged_frame(s, d, run, q, vid=10, pcp=5, size=100),
        lambda s, d, q: E.tagged_frame(s, d, run, q, vid=4094, pcp=7, size=1518),
    ]
    to_host, from_host, seq = [], [], 0
    for build in kinds:
        for src, dst, lst in ((PEER, HOST, to_host), (HOST, PEER, from_host)):
            for _ in range(3):
                lst.append(build(src, dst, seq))
                seq += 1
    return to_host, from_host


CASES = {
    "ii": E.Collector(2, 2, session_id=513, dscp=10, ttl=40),
    "iii-defaults": E.Collector(1029, 3),           # span 1029 mod 1024 = 5, dscp 0, ttl 64
    "iii-gre-0x88be": E.Collector(3, 3, session_id=1023, dscp=46, ttl=33, gre_proto=0x88BE),
    "iii-gre-0x8949": E.Collector(4, 3, session_id=0, dscp=63, ttl=255, gre_proto=0x8949),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_field(fresh, outdir, case):
    lab, coll, run = fresh, CASES[case], P.new_run()
    to_host, from_host = field_frames(run)
    with E.collector_session(lab, coll):
        with E.CollectorCapture(lab, outdir, f"fields-{case}") as cc:
            r = E.traffic(lab, outdir, f"fields-{case}",
                          [(PEER, to_host, 500), (HOST, from_host, 500)])
            cc.wait_quiet()
    v = check(lab, cc.stop(), E.expect_for(lab, r, coll.span), [coll], [r], cc)
    assert v.ok, f"{case} ({coll.line()}): {v}"


def test_truncation_and_filter(fresh, outdir):
    """Profile `filter 1 preset rocev2-cnp` + `truncate 128` on an ERSPAN III
    session: CNPs (BTH opcode 0x81) are copied, cut at 128 octets with T set
    (a CNP shorter than that whole, T clear); opcode 0x80, 0x0A and plain UDP
    are not copied."""
    lab, run = fresh, P.new_run()
    coll = E.Collector(81, 3, dscp=26)
    to_host, from_host, want, seq = [], [], set(), 0
    for name, copied, build in [
            ("cnp 600", True, lambda s, d, q: E.cnp_frame(s, d, run, q, size=600)),
            ("cnp 100", True, lambda s, d, q: E.cnp_frame(s, d, run, q, size=100)),
            ("cnp 129", True, lambda s, d, q: E.cnp_frame(s, d, run, q, size=129)),
            ("opcode 0x80", False, lambda s, d, q: E.cnp_frame(s, d, run, q, opcode=0x80,
                                                               size=600)),
            ("opcode 0x0a", False, lambda s, d, q: E.cnp_frame(s, d, run, q, opcode=0x0A,
                                                               size=600)),
            ("plain udp", False, lambda s, d, q: P.udp_frame(s, d, run, q, size=600))]:
        for src, dst, lst in ((PEER, HOST, to_host), (HOST, PEER, from_host)):
            for _ in range(4):
                lst.append(build(src, dst, seq))
                if copied:
                    want.add((run, seq))
                seq += 1
    with E.collector_session(lab, coll, profile="er-cnp",
                             profile_settings=["filter 1 preset rocev2-cnp", "truncate 128"]):
        with E.CollectorCapture(lab, outdir, "trunc-filter") as cc:
            r = E.traffic(lab, outdir, "trunc-filter",
                          [(PEER, to_host, 500), (HOST, from_host, 500)])
            cc.wait_quiet()
    expect = E.expect_for(lab, r, coll.span, trunc=128, select=lambda k, f: k in want)
    v = check(lab, cc.stop(), expect, [coll], [r], cc)
    assert v.ok, f"rocev2-cnp + truncate 128: {v}"


def test_sessions_have_their_own_sequence_spaces(fresh, outdir):
    """VM210 watched by collector 71 and VM220 by collector 72 (same
    collector IP, spans 71 and 72): every frame between them is selected by
    both sessions on the same VTEP (entry 1 of one, entry 2 of the other),
    so each VTEP interleaves copies of two sessions; each (VTEP, session)
    must still number its copies without a gap (one counter per VTEP, or
    per packet, fails)."""
    lab, run = fresh, P.new_run()
    c71, c72 = E.Collector(71, 3), E.Collector(72, 3)
    to_host = [P.udp_frame(PEER, HOST, run, i, size=200) for i in range(40)]
    from_host = [P.udp_frame(HOST, PEER, run, 100 + i, size=200) for i in range(40)]
    with E.collector_session(lab, c71, hosts=(HOST,)), \
            E.collector_session(lab, c72, hosts=(PEER,)):
        with E.CollectorCapture(lab, outdir, "two-sessions") as cc:
            # alternate the two directions so both VTEPs interleave both spans
            plan = []
            for i in range(0, 40, 10):
                plan += [(PEER, to_host[i:i + 10], 500), (HOST, from_host[i:i + 10], 500)]
            r = E.traffic(lab, outdir, "two-sessions", plan)
            cc.wait_quiet()
    copies = cc.stop()
    expect = E.expect_for(lab, r, c71.span, host=HOST)
    expect.update(E.expect_for(lab, r, c72.span, host=PEER))
    v = check(lab, copies, expect, [c71, c72], [r], cc)
    ranges = E.seq_ranges([c for c in copies if c.span in (71, 72)])
    assert v.ok, f"two sessions: {v}\n    sequence ranges: {ranges}"
    both = {(F.VTEP_IP[n], s) for n in ("vtep101", "vtep102") for s in (71, 72)}
    assert both <= set(ranges), f"want (vtep101, vtep102) x (71, 72) sequence spaces, got {ranges}"


def test_host_move(fresh, outdir):
    """VM210 sends from vtep101 (copies from 10.0.0.101), moves to vtep102
    (link moved, gratuitous ARP), sends again: the copies come from
    10.0.0.102 with vtep102's own sequence numbers (starting at 0, not
    continuing vtep101's), frames to VM210 from VM230 are copied at vtep103;
    nothing comes from the old VTEP any more.

    The capture starts before the session exists: the hosts' kernels may
    probe each other (unicast ARP) at any moment, and the first copy a VTEP
    makes, sequence 0, may be of such a probe, so only a capture that covers
    the session's whole life can tell where a VTEP's numbers start."""
    lab, run = fresh, P.new_run()
    coll = E.Collector(31, 3, ttl=50)
    before = [P.udp_frame(HOST, PEER, run, i, size=300) for i in range(30)]
    after = [P.udp_frame(HOST, PEER, run, 100 + i, size=300) for i in range(30)]
    to_host = [P.udp_frame("vm230", HOST, run, 200 + i, size=300) for i in range(30)]
    moved = False
    try:
        with E.CollectorCapture(lab, outdir, "move") as cc:
            with E.collector_session(lab, coll):
                r1 = E.traffic(lab, outdir, "move-1", [(HOST, before, 500)])
                exp = E.expect_for(lab, r1, coll.span)
                ifx = E.ifindexes(lab)          # vtep101's port goes away with the move
                F.move_host(lab, HOST, "vtep101", "vtep102")
                moved = True
                F.wait_reachable(lab, "vm230", HOST)
                F.wait_reachable(lab, HOST, PEER)
                r2 = E.traffic(lab, outdir, "move-2", [(HOST, after, 500),
                                                       ("vm230", to_host, 500)])
                exp.update(E.expect_for(lab, r2, coll.span))
                cc.wait_quiet()
                copies = cc.stop()
                ifx.update(E.ifindexes(lab))
    finally:
        if moved:
            F.move_host(lab, HOST, "vtep102", "vtep101")
    v = E.verdict(copies, exp, [coll], hw(lab), ifx, [r1, r2], capture=cc)
    ranges = E.seq_ranges([c for c in copies if c.span == coll.span])
    assert v.ok, f"host move: {v}\n    sequence ranges: {ranges}"
    assert {e.vtep for k, e in exp.items() if k[1][1] >= 100} == {"vtep102", "vtep103"}
    for vtep in ("vtep102", "vtep103"):
        first = ranges.get((F.VTEP_IP[vtep], coll.span), (None,))[0]
        assert first == 0, (f"{vtep}'s copies start at sequence {first}, want 0 (its own "
                            f"sequence space); ranges {ranges}")


def test_collector_route_change(fresh, outdir):
    """A static route on vtep101 sends 10.9.0.1 over the direct link (eth4):
    vtep101's copies then reach the collector on its eth2 (TTL not
    decremented: no router on the way) while vtep102's still come through
    the spine; removing it brings vtep101's back to the spine. No copy is
    lost or repeated across the changes (sequence numbers contiguous)."""
    lab = fresh
    coll = E.Collector(41, 3, ttl=20)
    static = f"ip route {E.COLLECTOR_IP}/32 {E.DIRECT_NEXTHOP}"
    exp, runs = {}, []
    with E.collector_session(lab, coll):
        with E.CollectorCapture(lab, outdir, "route") as cc:
            try:
                for phase, direct in (("a", False), ("b", True), ("c", False)):
                    if phase == "b":
                        lab.configure(E.DIRECT_LEAF, [static])
                    elif phase == "c":
                        lab.configure(E.DIRECT_LEAF, [f"no {static}"])
                    want_dev = E.DIRECT_LEAF_IF if direct else "eth1"
                    lab.wait_for(lambda: E.route_dev(lab, E.DIRECT_LEAF) == want_dev,
                                 timeout=20, what=f"vtep101 routes the collector via {want_dev}")
                    run = P.new_run()
                    r = E.traffic(lab, outdir, f"route-{phase}", [
                        (HOST, [P.udp_frame(HOST, PEER, run, i, size=400) for i in range(25)],
                         500),
                        (PEER, [P.udp_frame(PEER, HOST, run, 100 + i, size=400)
                                for i in range(25)], 500)])
                    runs.append(r)
                    exp.update(E.expect_for(
                        lab, r, coll.span,
                        iface_of=lambda vtep, d=direct: E.VIA_DIRECT
                        if d and vtep == E.DIRECT_LEAF else E.VIA_SPINE))
            finally:
                if E.route_dev(lab, E.DIRECT_LEAF) == E.DIRECT_LEAF_IF:
                    lab.configure(E.DIRECT_LEAF, [f"no {static}"])
            cc.wait_quiet()
    v = check(lab, cc.stop(), exp, [coll], runs, cc)
    assert v.ok, f"route change: {v}"
    assert any(e.iface == E.VIA_DIRECT for e in exp.values())


def test_unreachable_collector(fresh, outdir):
    """The spine stops advertising 10.9.0.1: no leaf has a route to it.
    Nothing leaves any VTEP (no GRE on any underlay link, nothing at the
    collector); the originals are delivered; each consumer counts every copy
    it could not send as no-route (vtep101: the frames from VM210, vtep102:
    those to it) and logs it at most once per 10 s. With the route back,
    copies reach the collector again."""
    lab = fresh
    coll = E.Collector(51, 2)
    spine = [f"router bgp {E.SPINE_ASN}", "address-family ipv4 unicast"]
    wins = {}
    with E.collector_session(lab, coll):
        try:
            lab.configure("spine", spine + [f"no network {E.COLLECTOR_IP}/32"])
            for n in F.LEAVES:
                lab.wait_for(lambda: E.route_dev(lab, n) is None, timeout=20,
                             what=f"{n} without a route to the collector")
            # every frame VM210 sends enters at vtep101 (entry 1), every
            # frame to VM210 from VM220 at vtep102 (entry 2): captured at
            # their ports over the whole window of the counters, so that
            # the hosts' own ARP probes are counted too
            wins = {h: F.Capture(lab, h, P.host_if(lab, h), outdir / f"unreach-window-{h}.pcap")
                    for h in (HOST, PEER)}
            before = {n: E.collector_counters(lab, n, coll).get("no-route", 0)
                      for n in ("vtep101", "vtep102")}
            run = P.new_run()
            n_tx, n_rx = 40, 30
            t0 = time.monotonic()
            with E.CollectorCapture(lab, outdir, "unreach") as cc, \
                    F.Capture(lab, "vtep101", "eth1", outdir / "unreach-vtep101-eth1.pcap",
                              "ip proto 47") as u1, \
                    F.Capture(lab, "vtep101", "eth4", outdir / "unreach-vtep101-eth4.pcap",
                              "ip proto 47") as u4, \
                    F.Capture(lab, "vtep102", "eth1", outdir / "unreach-vtep102-eth1.pcap",
                              "ip proto 47") as u2:
                r = E.traffic(lab, outdir, "unreach", [
                    (HOST, [P.udp_frame(HOST, PEER, run, i, size=200) for i in range(n_tx)], 500),
                    (PEER, [P.udp_frame(PEER, HOST, run, 100 + i, size=200)
                            for i in range(n_rx)], 500)])
                time.sleep(0.5)
                leaked = {"vtep101/eth1": len(u1.stop()), "vtep101/eth4": len(u4.stop()),
                          "vtep102/eth1": len(u2.stop())}
            copies = cc.stop()
            vm210, vm220 = F.HOSTS[HOST][0], F.HOSTS[PEER][0]
            want, got = {}, {}

            def counted():
                sent_by = F.read_pcap(wins[HOST].path)
                to_host = F.read_pcap(wins[PEER].path)
                want["vtep101"] = before["vtep101"] + sum(p.eth_src == vm210 for p in sent_by)
                want["vtep102"] = before["vtep102"] + sum(
                    p.eth_src == vm220 and p.eth_dst == vm210 for p in to_host)
                got.update({n: E.collector_counters(lab, n, coll).get("no-route", 0)
                            for n in want})
                return got == want
            try:        # the counters are read from the maps; asserted below
                lab.wait_for(counted, timeout=5, interval=0.2, what="no-route counters")
            except Exception:
                pass
            for w in wins.values():
                w.stop()
            counted()
            logs = {n: [l for l in (lab.node_dir(n) / "fpm-consumer.out").read_text(
                errors="replace").splitlines() if E.COLLECTOR_IP in l and "no route" in l]
                for n in want}
            elapsed = time.monotonic() - t0
        finally:
            for w in wins.values():
                w.stop()
            lab.configure("spine", spine + [f"network {E.COLLECTOR_IP}/32"])
            for n in F.LEAVES:
                lab.wait_for(lambda: E.route_dev(lab, n) == "eth1", timeout=30,
                             what=f"{n}'s route to the collector back")
        assert not copies and not any(leaked.values()), \
            (f"copies left a VTEP without a route to the collector: {len(copies)} at the "
             f"collector, GRE on the underlay {leaked}")
        assert not r.not_delivered() and not r.altered(), \
            (f"originals: {len(r.not_delivered())} not delivered {r.not_delivered()[:8]} "
             f"({r.losses()}), {len(r.altered())} altered")
        assert got == want and want["vtep101"] - before["vtep101"] >= n_tx and \
            want["vtep102"] - before["vtep102"] >= n_rx, \
            (f"no-route counters {got}, want {want} (before: {before}; {n_tx} + {n_rx} marked "
             f"frames sent)")
        for n, lines in logs.items():
            assert lines, f"{n}'s consumer logged nothing about the unreachable collector"
            assert len(lines) <= 1 + int(elapsed // 10), \
                f"{n}: {len(lines)} no-route log lines in {elapsed:.0f} s: {lines}"
        # reachable again: the copies follow the route back
        run = P.new_run()
        with E.CollectorCapture(lab, outdir, "unreach-back") as cc:
            r2 = E.traffic(lab, outdir, "unreach-back", [
                (HOST, [P.udp_frame(HOST, PEER, run, i, size=200) for i in range(20)], 500)])
            cc.wait_quiet()
        v = check(lab, cc.stop(), E.expect_for(lab, r2, coll.span), [coll], [r2], cc)
        assert v.ok, f"after the route came back: {v}"


def test_mix_server_and_collector(fresh, outdir):
    """VM210 watched at once by SERV21 (VXLAN-GBP, profile `filter 1
    protocol udp`) and by an ERSPAN III collector (no profile): SERV21 gets
    every UDP frame once and nothing else of the run; the collector gets
    every frame (UDP, ICMP, ARP) once, field by field."""
    lab, run = fresh, P.new_run()
    coll = E.Collector(61, 3, session_id=600, dscp=8)
    to_host, from_host, udp, seq = [], [], set(), 0
    for kind in ("udp", "icmp", "arp"):
        for src, dst, lst in ((PEER, HOST, to_host), (HOST, PEER, from_host)):
            for _ in range(10):
                if kind == "udp":
                    lst.append(P.udp_frame(src, dst, run, seq, size=256))
                    udp.add((run, seq))
                elif kind == "icmp":
                    lst.append(P.icmp_frame(src, dst, run, seq))
                else:
                    lst.append(P.arp_frame(src, dst, run, seq))
                seq += 1
    with P.profile_session(lab, "mix-udp", ["filter 1 protocol udp"], {"filters": 1}):
        with E.collector_session(lab, coll):
            with E.CollectorCapture(lab, outdir, "mix") as cc:
                r = E.traffic(lab, outdir, "mix", [(PEER, to_host, 500), (HOST, from_host, 500)],
                              server=True)
                cc.wait_quiet()
    v = check(lab, cc.stop(), E.expect_for(lab, r, coll.span), [coll], [r], cc)
    srv = {k: v_ for k, v_ in r.server.items() if k[0] == run}
    frames = r.frames
    s_missing = sorted(udp - set(srv))
    s_unexp = sorted(set(srv) - udp)
    s_dup = {k: len(x) for k, x in srv.items() if len(x) > 1}
    s_wrong = sorted(k for k, x in srv.items() if k in frames and x[0] != frames[k])
    assert v.ok, f"collector: {v}"
    assert srv and not (s_missing or s_unexp or s_dup or s_wrong), \
        (f"SERV21: {sum(len(x) for x in srv.values())} copies for {len(udp)} UDP frames: "
         f"missing {s_missing[:8]}, unexpected {s_unexp[:8]}, duplicated {s_dup}, "
         f"altered {s_wrong[:8]} ({r.server_pcap}; {r.losses()})")


SINK = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5002)); s.listen(4)
while True:
    c, _ = s.accept()
    while c.recv(1 << 20):
        pass
    c.close()
"""

BULK = r"""
import socket, sys
s = socket.socket()
# a bounded window: GSO super-packets still, but not so many in flight that
# the per-CPU backlog (1000 packets) overflows on the way
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)
s.settimeout(10)
s.connect((sys.argv[1], 5002))
buf = bytes(range(256)) * 256
for _ in range(int(sys.argv[2])):
    s.sendall(buf)
s.close()
print("ok")
"""


def rx_packets(lab, node: str, ifname: str) -> int:
    return int(lab.exec(node, ["cat", f"/sys/class/net/{ifname}/statistics/rx_packets"]).stdout)


def softnet_dropped() -> int:
    """Packets the kernel dropped at a full per-CPU backlog (all namespaces)."""
    return sum(int(l.split()[1], 16) for l in Path("/proc/net/softnet_stat").read_text()
               .splitlines())


def test_gso_super_packets_cut_to_the_mtu(fresh, outdir):
    """A TCP transfer from VM210's own stack: the veth hands vtep101's
    program GSO super-packets of up to 64 KB. Their copies cannot exceed
    the underlay MTU (9500): each is cut to fit (to the octet), T set, the
    inner octets the super-packet's first ones; BSO 0 (each segment of a
    super-packet is a frame of valid size); the consumer counts them as
    mtu-truncated."""
    lab = fresh
    coll = E.Collector(91, 3)
    mtu = int(lab.exec("vtep101", "cat /sys/class/net/eth1/mtu").stdout)
    lab.spawn(PEER, ["/usr/bin/python3", "-c", SINK], name="bulk-sink")
    try:
        lab.wait_for(lambda: ":5002" in lab.exec(PEER, "ss -ltn").stdout, timeout=10,
                     what="sink on VM220")
        with E.collector_session(lab, coll):
            before = E.collector_counters(lab, "vtep101", coll).get("mtu-truncated", 0)
            drops0 = softnet_dropped()
            sent0 = sum(E.collector_counters(lab, n, coll).get("packets", 0) for n in F.LEAVES)
            rx0 = rx_packets(lab, E.COLLECTOR, E.VIA_SPINE)
            hp = outdir / "gso-vm210.pcap"
            with E.CollectorCapture(lab, outdir, "gso") as cc, \
                    F.Capture(lab, HOST, P.host_if(lab, HOST), hp, "tcp port 5002",
                              nano=True) as ch:
                cp = lab.exec(HOST, ["/usr/bin/python3", "-c", BULK, F.HOSTS[PEER][1], "64"],
                              timeout=60)
                assert cp.stdout.strip() == "ok"
                cc.wait_quiet()
                ch.stop()
            drops1 = softnet_dropped()
            sent1 = sum(E.collector_counters(lab, n, coll).get("packets", 0) for n in F.LEAVES)
            rx1 = rx_packets(lab, E.COLLECTOR, E.VIA_SPINE)
            after = E.collector_counters(lab, "vtep101", coll).get("mtu-truncated", 0)
    finally:
        lab.kill_process(PEER, "bulk-sink")
    host = [(t, f) for t, f in E.read_pcap_ns(hp) if F._mac(f[6:12]) == F.HOSTS[HOST][0]]
    big = [f for _t, f in host if len(f) > 1514]
    assert big, "no GSO super-packet seen at VM210's port (offloads off?): nothing to test"
    by_head = {f[:64]: (t, f) for t, f in host}
    copies = [c for c in cc.stop() if c.span == coll.span and c.src == F.VTEP_IP["vtep101"]]
    problems, cut, unmatched = [], 0, []
    for c in copies:
        o = by_head.get(c.inner[:64])
        if o is None:
            # tcpdump at VM210's port may drop a 64 KB packet on a busy machine
            unmatched.append(c.short())
            continue
        t, orig = o
        outer_len = 20 + 8 + 12 + 8 + len(c.inner)
        if outer_len > mtu:
            problems.append(f"{c.short()}: outer IPv4 packet {outer_len} > MTU {mtu}")
        if c.inner != orig[:len(c.inner)]:
            problems.append(f"{c.short()}: inner octets are not the original's first ones")
        if len(c.inner) < len(orig):
            cut += 1
            if c.f["erspan.truncated"] != 1:
                problems.append(f"{c.short()}: cut from {len(orig)} octets, T not set")
            if mtu - outer_len > 4:
                problems.append(f"{c.short()}: cut to {len(c.inner)}, {mtu - outer_len} "
                                f"octets below the MTU")
        elif c.f["erspan.truncated"] != 0:
            problems.append(f"{c.short()}: whole, but T set")
        # every segment of a super-packet is a frame of valid size: BSO 0
        bso = 0 if len(orig) > 1514 else E.bso_of(orig)
        if c.f["erspan.bso"] != bso:
            problems.append(f"{c.short()}: BSO {c.f['erspan.bso']}, want {bso} (original "
                            f"{len(orig)} octets)")
        ts = c.timestamp_ns()
        if ts is None or (abs(ts - t) > E.TS_TOLERANCE_NS and not t - 100 <= ts <= c.ts_ns):
            problems.append(f"{c.short()}: timestamp {ts} vs {t} at VM210's port")
    print(f"\n  {len(copies)} copies from vtep101, {cut} cut to the MTU, {len(big)} "
          f"super-packets at VM210's port (largest {max(map(len, big))} octets); "
          f"mtu-truncated {before} -> {after}; {len(unmatched)} without their original in "
          f"the capture at VM210's port (tcpdump dropped {ch.dropped}); "
          f"{len(problems)} problems: {problems[:3]}")
    assert copies and cut, (f"{len(copies)} copies from vtep101, {cut} cut, for {len(big)} "
                            f"super-packets at VM210's port")
    # the capture's own losses (tcpdump's count) excuse as many unmatched
    # copies; beyond that, 1 in 20
    assert len(unmatched) <= max(len(copies) // 20, ch.dropped or 0), \
        (f"{len(unmatched)} of {len(copies)} copies match no original "
         f"(tcpdump dropped {ch.dropped}): {unmatched[:5]}")
    assert not problems, f"{len(problems)} of {len(copies)} copies wrong:\n    " + \
        "\n    ".join(problems[:10])
    # contiguous, unless packets were lost on the way (a bulk transfer can
    # overflow a backlog: softnet_stat counts it) or by the capture (the
    # collector's interface received every copy the VTEPs counted as sent)
    seqs = sorted(c.seq for c in copies)
    missing = sum(b - a - 1 for a, b in zip(seqs, seqs[1:]))
    assert len(set(seqs)) == len(seqs), f"repeated sequence numbers: {E.sequence_problems(copies)}"
    assert missing <= drops1 - drops0 or (missing and rx1 - rx0 >= sent1 - sent0), \
        (f"sequence: {E.sequence_problems(copies)}: {missing} missing; the kernel dropped "
         f"{drops1 - drops0} packets (softnet_stat) meanwhile; the collector's eth1 received "
         f"{rx1 - rx0} packets, the VTEPs sent {sent1 - sent0} copies")
    assert after - before >= cut, f"mtu-truncated counter {before} -> {after}, {cut} copies cut"
