"""Mirror profiles end to end in the reference fabric: real FRR daemons, the
fpm-consumers and the eBPF dataplane, real packets counted by capture.

One session, VM210 (MAC only, VNI 100) watched by SERV21 (HOST ID 21),
configured on vtep103 (which holds neither host nor server) with a profile
per test; the frames enter the fabric at vtep101 (from VM210) and vtep102
(from VM220), SERV21 sits behind vtep104. Frames are built with scapy and
sent from the hosts' namespaces with a paced AF_PACKET sender; each carries a
marker (run, sequence number), so every check counts copies per packet:
missing, unexpected and duplicated copies are all failures, an empty capture
never passes, and every original must reach its destination unchanged.

Each test first waits until bgpd on every patched leaf shows the session
with its profile and every consumer has entries 1 and 2 (and the decap entry
on SERV21's leaf) installed with the profile's options; afterwards the
session and the profile are removed and the test waits until every consumer
has dropped the entries.

  direction rx / tx / both       copies only of frames to / from VM210
  5-tuple filter                 two ORed lines (UDP dport range + dst
                                 prefix; TCP + src prefix): only matching
                                 frames, never ARP
  IPv6 filter                    dst 2001:db8:77::/48 + dport range
  RoCEv2 presets                 rocev2-cnp + rocev2-nak: CNPs (0x81) and
                                 NAKs (0x11 + AETH 0x60..0x7F) only, not
                                 0x80, ACK syndrome 0x00, RNR NAK, other
                                 opcodes, other ports, TCP, plain UDP
  custom UDFs                    one line per base (l4 past IPv4 options,
                                 l5 past TCP options, l3 = IP protocol)
  sample 1-in-100                20,000 frames: copies within n p +- 5 sigma
  truncate 64 / 128 / 1500       each copy = the original's first
                                 min(len, LEN) octets; originals unchanged
  police pps 200 burst 20,       10x the rate for 3 s: copies within +-10 %
  police bps 800000 burst 10000  of rate * time + burst (in copies)
  in-place change                truncate 128 -> 256 under traffic: no
                                 duplicate, no gap longer than one reconcile
  two profiles, one server       two sessions of VM210 to SERV21: one copy
                                 per frame, cut at the larger truncation
  profile missing                a session naming a profile not yet defined
                                 is not advertised (profile-missing) until
                                 the profile is created

Run as root:
  EVPNMON_FRR_PREFIX=build/frr EVPNMON_BUILD_DIR=build EVPNMON_NO_SKIP=1 \\
    /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/scenarios/test_profiles.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

HOST, PEER = P.HOST, P.PEER


@pytest.fixture(scope="module")
def lab():
    with F.ready_fabric([(HOST, PEER), (HOST, P.SERVER), (PEER, P.SERVER)], []) as lab:
        P.configure(lab, P.server_lines())
        yield lab


@pytest.fixture
def fresh(lab):
    """No session of VM210 anywhere, and VM210 / VM220 known on every leaf."""
    P.wait_session(lab, None, what="no session left from an earlier test")
    P.refresh_macs(lab)
    return lab


def evidence(lab, res: P.Result) -> str:
    un = res.unmarked_at_server
    return (f"\n  SERV21 capture: {res.server_pcap}; {len(un)} frames without a marker there "
            f"{un[:4]}\n  entries right after the run (kind, profile, counters): {res.counters}"
            f"\n  {res.losses()}")


# ---------------------------------------------------------------------------
# direction
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("direction", ["rx", "tx", "both"])
def test_direction(fresh, outdir, direction):
    """rx = frames to VM210 (entry 2), tx = frames from VM210 (entry 1); both
    (the default) = all: the control that the frames of the other direction
    are mirrorable at all in this setup."""
    lab, run = fresh, P.new_run()
    to_host = [P.udp_frame(PEER, HOST, run, i, sip="10.77.1.2", dip="10.77.1.1")
               for i in range(50)]
    from_host = [P.udp_frame(HOST, PEER, run, 100 + i, sip="10.77.1.1", dip="10.77.1.2")
                 for i in range(50)]
    settings = [] if direction == "both" else [f"direction {direction}"]
    with P.profile_session(lab, f"dir-{direction}", settings,
                           {"direction": direction, "filters": 0}):
        res = P.traffic(lab, outdir, f"dir-{direction}",
                        [(PEER, to_host, 500), (HOST, from_host, 500)])
    want = {"rx": set(range(50)), "tx": set(range(100, 150)),
            "both": set(range(50)) | set(range(100, 150))}[direction]
    acc = P.accounting(res, {(run, s) for s in want})
    label = lambda k: f"{'to' if k[1] < 100 else 'from'} VM210 #{k[1]}"  # noqa: E731
    assert P.accounting_ok(acc), (f"direction {direction}: " +
                                  P.accounting_str(acc, label) + evidence(lab, res))


# ---------------------------------------------------------------------------
# 5-tuple filter
# ---------------------------------------------------------------------------

def test_five_tuple_filter(fresh, outdir):
    """filter 1: UDP, dst 10.77.0.0/16, dport 5000..5009; filter 2: TCP, src
    10.88.0.0/16 (ORed). Only frames matching one whole line are copied."""
    lab, run = fresh, P.new_run()
    cases = [   # (name, copied, builder(src, dst, seq))
        ("udp dst in prefix, dport 5000", True,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.3.4", dport=5000)),
        ("udp dst in prefix, dport 5009", True,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.200.1", dport=5009)),
        ("udp dport 4999", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.3.4", dport=4999)),
        ("udp dport 5010", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.3.4", dport=5010)),
        ("udp dst outside the prefix", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.78.0.1", dport=5005)),
        ("udp sport 5005 (not dport)", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.3.4", sport=5005, dport=80)),
        ("tcp dst in prefix, dport 5005 (line 1 wants udp)", False,
         lambda s, d, q: P.tcp_frame(s, d, run, q, sip="10.99.0.2", dip="10.77.3.4", dport=5005)),
        ("tcp src 10.88.0.0/16", True,
         lambda s, d, q: P.tcp_frame(s, d, run, q, sip="10.88.1.1", dip="10.99.0.1", dport=80)),
        ("udp src 10.88.0.0/16 (line 2 wants tcp)", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, sip="10.88.1.1", dip="10.99.0.1", dport=80)),
        ("ARP (non-IP)", False, lambda s, d, q: P.arp_frame(s, d, run, q)),
    ]
    to_host, from_host, want, names = [], [], set(), {}
    seq = 0
    for name, copied, build in cases:
        for src, dst, lst in ((PEER, HOST, to_host), (HOST, PEER, from_host)):
            for _ in range(4):
                lst.append(build(src, dst, seq))
                names[(run, seq)] = f"{name} ({'to' if dst == HOST else 'from'} VM210)"
                if copied:
                    want.add((run, seq))
                seq += 1
    settings = ["filter 1 protocol udp dst 10.77.0.0/16 dport 5000 to 5009",
                "filter 2 protocol tcp src 10.88.0.0/16"]
    with P.profile_session(lab, "five-tuple", settings, {"filters": 2, "direction": "both"}):
        res = P.traffic(lab, outdir, "filter", [(PEER, to_host, 500), (HOST, from_host, 500)])
    acc = P.accounting(res, want)
    assert P.accounting_ok(acc), ("5-tuple filter: " +
                                  P.accounting_str(acc, lambda k: names.get(k, str(k))) +
                                  evidence(lab, res))


def test_ipv6_prefix_filter(fresh, outdir):
    """filter 1 protocol udp dst 2001:db8:77::/48 dport 7000 to 7001: only
    IPv6 UDP frames to that prefix and port range, either direction; an IPv4
    frame with the same ports is not copied."""
    lab, run = fresh, P.new_run()
    cases = [   # (name, copied, builder(src, dst, seq))
        ("v6 udp dst in prefix, dport 7000", True,
         lambda s, d, q: P.ip6_frame(s, d, run, q, dip="2001:db8:77:1::5", dport=7000)),
        ("v6 udp dst in prefix, dport 7001", True,
         lambda s, d, q: P.ip6_frame(s, d, run, q, dip="2001:db8:77:ffff::1", dport=7001)),
        ("v6 udp dport 7002", False,
         lambda s, d, q: P.ip6_frame(s, d, run, q, dip="2001:db8:77::5", dport=7002)),
        ("v6 udp dst 2001:db8:78::5", False,
         lambda s, d, q: P.ip6_frame(s, d, run, q, dip="2001:db8:78::5", dport=7000)),
        ("v6 udp src in prefix, dst outside", False,
         lambda s, d, q: P.ip6_frame(s, d, run, q, sip="2001:db8:77::9", dip="2001:db8:99::1",
                                     dport=7000)),
        ("v6 tcp dst in prefix, dport 7000", False,
         lambda s, d, q: P.ip6_frame(s, d, run, q, dip="2001:db8:77::5", proto="tcp",
                                     dport=7000)),
        ("v4 udp dport 7000", False,
         lambda s, d, q: P.udp_frame(s, d, run, q, dip="10.77.1.1", dport=7000)),
    ]
    to_host, from_host, want, names, seq = [], [], set(), {}, 0
    for name, copied, build in cases:
        for src, dst, lst in ((PEER, HOST, to_host), (HOST, PEER, from_host)):
            for _ in range(3):
                lst.append(build(src, dst, seq))
                names[(run, seq)] = f"{name} ({'to' if dst == HOST else 'from'} VM210)"
                if copied:
                    want.add((run, seq))
                seq += 1
    with P.profile_session(lab, "v6", ["filter 1 protocol udp dst 2001:db8:77::/48 "
                                       "dport 7000 to 7001"], {"filters": 1}):
        res = P.traffic(lab, outdir, "v6", [(PEER, to_host, 500), (HOST, from_host, 500)])
    acc = P.accounting(res, want)
    assert P.accounting_ok(acc), ("IPv6 filter: " +
                                  P.accounting_str(acc, lambda k: names.get(k, str(k))) +
                                  evidence(lab, res))


# ---------------------------------------------------------------------------
# user-defined fields: the RoCEv2 presets
# ---------------------------------------------------------------------------

def test_rocev2_presets_copy_only_cnp_and_nak(fresh, outdir):
    """filter 1 preset rocev2-cnp, filter 2 preset rocev2-nak. The oracle is
    the frame as built (opcode and syndrome octets), not a dissector's label
    (tshark 4.0 calls 0x80 "CNP")."""
    lab, run = fresh, P.new_run()
    R = P.roce_frame
    cases = [   # (name, copied, kwargs of roce_frame)
        ("CNP 0x81", True, dict(opcode=0x81)),
        ("CNP 0x81, other flags octet", True, dict(opcode=0x81, flags=0xC0)),
        ("opcode 0x80 (not CNP)", False, dict(opcode=0x80)),
        ("NAK 0x11 syndrome 0x60 (PSN sequence error)", True, dict(opcode=0x11, syndrome=0x60)),
        ("NAK 0x11 syndrome 0x61", True, dict(opcode=0x11, syndrome=0x61)),
        ("NAK 0x11 syndrome 0x64", True, dict(opcode=0x11, syndrome=0x64)),
        ("NAK 0x11 syndrome 0x7F", True, dict(opcode=0x11, syndrome=0x7F)),
        ("RC ACK 0x11 syndrome 0x00", False, dict(opcode=0x11, syndrome=0x00)),
        ("RNR NAK 0x11 syndrome 0x20", False, dict(opcode=0x11, syndrome=0x20)),
        ("0x11 syndrome 0x1F", False, dict(opcode=0x11, syndrome=0x1F)),
        ("0x11 syndrome 0x9F (reserved)", False, dict(opcode=0x11, syndrome=0x9F)),
        ("0x11 syndrome 0xE0", False, dict(opcode=0x11, syndrome=0xE0)),
        ("atomic ACK 0x12, 0x60 at AETH offset", False, dict(opcode=0x12, syndrome=0x60)),
        ("SEND only 0x04", False, dict(opcode=0x04)),
        ("RDMA write only 0x0A", False, dict(opcode=0x0A)),
        ("RDMA read request 0x0C", False, dict(opcode=0x0C)),
        ("CNP to UDP 4792", False, dict(opcode=0x81, dport=4792)),
        ("NAK 0x60 to UDP 4792", False, dict(opcode=0x11, syndrome=0x60, dport=4792)),
        ("CNP octets over TCP 4791", False, dict(opcode=0x81, proto="tcp")),
    ]
    frames, want, names, seq = [], set(), {}, 0
    for name, copied, kw in cases:
        for _ in range(3):
            frames.append(R(PEER, HOST, run, seq, **kw))
            names[(run, seq)] = name
            if copied:
                want.add((run, seq))
            seq += 1
    for i in range(6):              # plain UDP to 4791 and 0x81 on another port
        head = bytes([0x00, 0x00]) if i % 2 == 0 else bytes([0x81, 0x00])
        dport = 4791 if i % 2 == 0 else 53
        frames.append(P.udp_frame(PEER, HOST, run, seq, dip="10.77.2.1", dport=dport, head=head))
        names[(run, seq)] = f"plain UDP dport {dport} payload {head.hex()}"
        seq += 1
    from_host = []
    for kw in (dict(opcode=0x81), dict(opcode=0x11, syndrome=0x62), dict(opcode=0x11, syndrome=0)):
        from_host.append(R(HOST, PEER, run, seq, sip="10.77.2.1", dip="10.77.2.2", **kw))
        names[(run, seq)] = f"{kw} from VM210"
        if kw.get("syndrome", 0x60) != 0:
            want.add((run, seq))
        seq += 1
    settings = ["filter 1 preset rocev2-cnp", "filter 2 preset rocev2-nak"]
    with P.profile_session(lab, "roce", settings, {"filters": 2}):
        res = P.traffic(lab, outdir, "roce", [(PEER, frames, 500), (HOST, from_host, 100)])
    acc = P.accounting(res, want)
    assert P.accounting_ok(acc), ("RoCEv2 presets: " +
                                  P.accounting_str(acc, lambda k: names.get(k, str(k))) +
                                  evidence(lab, res))


def test_custom_udfs_at_l3_l4_l5(fresh, outdir):
    """User-defined fields at each base, one line each (ORed):
    1: l4 offset 8 = 0x81xx (any IP protocol; for UDP the first payload
       octet, counted past IPv4 options);
    2: protocol tcp and l5 offset 0 = 0xabcd (after the TCP header,
       options included);
    3: l3 offset 9 = 0x01xx (the IPv4 protocol octet: ICMP)."""
    lab, run = fresh, P.new_run()
    cases = [   # (name, copied, builder(seq))
        ("UDP dport 53, payload 0x81..", True,
         lambda q: P.udp_frame(PEER, HOST, run, q, dport=53, head=b"\x81\x00")),
        ("UDP dport 53, payload 0x80..", False,
         lambda q: P.udp_frame(PEER, HOST, run, q, dport=53, head=b"\x80\x00")),
        ("UDP with IPv4 options, payload 0x81..", True,
         lambda q: P.udp_frame_ipopts(PEER, HOST, run, q, dport=53, head=b"\x81\x00")),
        ("UDP with IPv4 options, payload 0x80..", False,
         lambda q: P.udp_frame_ipopts(PEER, HOST, run, q, dport=53, head=b"\x80\x00")),
        ("TCP, payload 0xabcd", True,
         lambda q: P.tcp_frame(PEER, HOST, run, q, head=b"\xab\xcd")),
        ("TCP with 12 octets of options, payload 0xabcd", True,
         lambda q: P.tcp_frame(PEER, HOST, run, q, head=b"\xab\xcd", tcp_options=[
             ("NOP", None), ("NOP", None), ("Timestamp", (1, 2))])),
        ("TCP, payload 0xabce", False,
         lambda q: P.tcp_frame(PEER, HOST, run, q, head=b"\xab\xce")),
        ("TCP with options, payload 0xabce", False,
         lambda q: P.tcp_frame(PEER, HOST, run, q, head=b"\xab\xce", tcp_options=[
             ("NOP", None), ("NOP", None), ("Timestamp", (1, 2))])),
        ("UDP, payload 0xabcd (line 2 wants TCP)", False,
         lambda q: P.udp_frame(PEER, HOST, run, q, head=b"\xab\xcd")),
        ("ICMP echo request", True, lambda q: P.icmp_frame(PEER, HOST, run, q)),
        ("ARP (non-IP)", False, lambda q: P.arp_frame(PEER, HOST, run, q)),
    ]
    frames, want, names, seq = [], set(), {}, 0
    for name, copied, build in cases:
        for _ in range(4):
            frames.append(build(seq))
            names[(run, seq)] = name
            if copied:
                want.add((run, seq))
            seq += 1
    settings = ["filter 1 udf 1 l4 offset 8 value 0x8100 mask 0xff00",
                "filter 2 protocol tcp",
                "filter 2 udf 1 l5 offset 0 value 0xabcd mask 0xffff",
                "filter 3 udf 1 l3 offset 9 value 256 mask 0xff00"]
    with P.profile_session(lab, "udfs", settings, {"filters": 3}):
        res = P.traffic(lab, outdir, "udfs", [(PEER, frames, 500)])
    acc = P.accounting(res, want)
    assert P.accounting_ok(acc), ("custom UDFs: " +
                                  P.accounting_str(acc, lambda k: names.get(k, str(k))) +
                                  evidence(lab, res))


# ---------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------

# 2,500 frames/s: well below what the fabric carries on a busy 2-core
# machine, so that "every original delivered" checks the mirror, not the CPU
SAMPLE_N, SAMPLE_FRAMES, SAMPLE_RATE = 100, 20000, 2500


def test_sample_one_in_100(fresh, outdir):
    lab, run = fresh, P.new_run()
    frames = P.udp_frames(PEER, HOST, run, SAMPLE_FRAMES, size=128)
    with P.profile_session(lab, "sample100", [f"sample 1-in {SAMPLE_N}"],
                           {"sample": SAMPLE_N}):
        res = P.traffic(lab, outdir, "sample", [(PEER, frames, SAMPLE_RATE)])
    lo, hi = P.binomial_bounds(SAMPLE_FRAMES, 1 / SAMPLE_N)
    n = res.total_copies()
    print(f"sample 1-in {SAMPLE_N}: {n} copies of {SAMPLE_FRAMES} frames "
          f"(bound {lo:.0f}..{hi:.0f}), {len(res.at_dst)} originals delivered")
    bad = {k: v for k, v in res.copies.items() if any(c != res.frames[k] for c in v)}
    assert not res.not_delivered() and not res.altered(), (
        f"originals: {len(res.not_delivered())} of {SAMPLE_FRAMES} not delivered "
        f"{res.not_delivered()[:8]} ({res.losses()}), "
        f"{len(res.altered())} altered")
    assert not res.duplicated() and not bad and not res.foreign, (
        f"copies: duplicated {res.duplicated()}, not equal to their original {list(bad)[:5]}, "
        f"of other runs {res.foreign[:5]}")
    assert lo <= n <= hi, (f"sample 1-in {SAMPLE_N}: {n} copies of {SAMPLE_FRAMES} frames, "
                           f"want {lo:.0f}..{hi:.0f} (n p +- 5 sigma)" + evidence(lab, res))


# ---------------------------------------------------------------------------
# truncation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [64, 128, 1500])
def test_truncate(fresh, outdir, cut):
    lab, run = fresh, P.new_run()
    sizes = sorted({max(60, cut - 4), max(60, cut - 1), cut, cut + 1, 1514})
    frames, back, seq = [], [], 0
    for size in sizes:
        for _ in range(3):
            frames.append(P.udp_frame(PEER, HOST, run, seq, size=size))
            seq += 1
        back.append(P.udp_frame(HOST, PEER, run, seq, size=size, sip="10.77.1.1",
                                dip="10.77.1.2"))
        seq += 1
    with P.profile_session(lab, f"trunc{cut}", [f"truncate {cut}"], {"truncate": cut}):
        res = P.traffic(lab, outdir, f"truncate-{cut}", [(PEER, frames, 500), (HOST, back, 100)])
    acc = P.accounting(res, set(res.frames))
    wrong = []
    for k, copies in sorted(res.copies.items()):
        orig = res.frames[k]
        for c in copies:
            if c != orig[:min(len(orig), cut)]:
                wrong.append(f"#{k[1]}: frame {len(orig)} octets, copy {len(c)} octets"
                             f"{'' if len(c) != min(len(orig), cut) else ' (other octets)'}")
    assert P.accounting_ok(acc) and not wrong, (
        f"truncate {cut}: {P.accounting_str(acc)}; copies not equal to the original's first "
        f"min(len, {cut}) octets: {len(wrong)} {wrong[:8]}" + evidence(lab, res))


# ---------------------------------------------------------------------------
# policer
# ---------------------------------------------------------------------------

POLICE_OFFER, POLICE_SECONDS = 2000, 3.0
# (unit, rate, burst, frame octets): both offered at 10x their rate; bps
# counts the octets of each copy (the frame here: no truncation)
POLICERS = [("pps", 200, 20, 200), ("bps", 800000, 10000, 500)]


@pytest.mark.parametrize("unit,rate,burst,size", POLICERS, ids=[p[0] for p in POLICERS])
def test_police(fresh, outdir, unit, rate, burst, size):
    lab, run = fresh, P.new_run()
    frames = P.udp_frames(PEER, HOST, run, int(POLICE_OFFER * POLICE_SECONDS), size=size)
    with P.profile_session(lab, f"police-{unit}", [f"police {unit} {rate} burst {burst}"],
                           {"police": f"{rate}{unit}/{burst}"}):
        res = P.traffic(lab, outdir, f"police-{unit}", [(PEER, frames, POLICE_OFFER)])
    t = res.sent[0].duration
    want = rate * t + burst if unit == "pps" else (rate / 8 * t + burst) / size
    n = res.total_copies()
    print(f"police {unit} {rate} burst {burst}: {n} copies of {len(frames)} frames of {size} "
          f"octets in {t:.3f} s, want {want:.0f} +- 10 %, {len(res.at_dst)} originals delivered")
    assert not res.not_delivered() and not res.altered(), (
        f"originals: {len(res.not_delivered())} of {len(frames)} not delivered "
        f"{res.not_delivered()[:8]} ({res.losses()}), {len(res.altered())} altered")
    assert not res.duplicated() and not res.foreign, \
        f"copies: duplicated {res.duplicated()}, of other runs {res.foreign[:5]}"
    assert abs(n - want) <= 0.10 * want, (
        f"police {unit} {rate} burst {burst}: {n} copies of {len(frames)} frames of {size} "
        f"octets offered in {t:.3f} s ({len(frames) / t:.0f} frames/s, 10x the rate), "
        f"want {want:.0f} +- 10 %" + evidence(lab, res))


# ---------------------------------------------------------------------------
# a profile changed in place under traffic
# ---------------------------------------------------------------------------

CHANGE_RATE, CHANGE_FRAMES, CHANGE_SIZE = 1000, 5000, 300


def test_profile_changed_in_place_under_traffic(fresh, outdir):
    """truncate 128 -> 256 while VM220 sends 1000 frames/s to VM210: every
    frame is copied at most once, copies are cut at 128 before and at 256
    after, and the longest run of frames without a copy lasts no longer than
    one reconcile of the consumer (its 250 ms tick)."""
    lab, run = fresh, P.new_run()
    frames = P.udp_frames(PEER, HOST, run, CHANGE_FRAMES, size=CHANGE_SIZE)
    changed = {}

    def change():
        time.sleep(1.5)             # one and a half seconds of traffic at 128 first
        changed["t0"] = time.time()
        P.configure(lab, ["monitor profile change truncate 256"])
        P.wait_session(lab, {"name": "change", "truncate": 256},
                       what="truncate 256 installed everywhere")
        changed["t1"] = time.time()

    with P.profile_session(lab, "change", ["truncate 128"], {"truncate": 128}):
        res = P.traffic(lab, outdir, "change", [(PEER, frames, CHANGE_RATE)], during=change)
    sent = res.sent[0]
    assert "t1" in changed and changed["t1"] < sent.t_last - 0.5, (
        f"test invalid: the change was not installed well before the traffic ended "
        f"({changed}, traffic {sent.t_first:.3f}..{sent.t_last:.3f})")
    cut_of = {}
    wrong = []
    for k, copies in res.copies.items():
        orig = res.frames[k]
        for c in copies:
            if c == orig[:128]:
                cut_of[k[1]] = 128
            elif c == orig[:256]:
                cut_of[k[1]] = 256
            else:
                wrong.append((k[1], len(c)))
    seqs = sorted(cut_of)
    # gaps: runs of consecutive frames without a copy
    longest, cur, start, gap_at = 0, 0, None, None
    for i in range(CHANGE_FRAMES):
        if i in cut_of:
            cur = 0
        else:
            cur += 1
            if cur == 1:
                start = i
            if cur > longest:
                longest, gap_at = cur, start
    gap_s = longest / CHANGE_RATE
    n128 = sum(1 for v in cut_of.values() if v == 128)
    n256 = sum(1 for v in cut_of.values() if v == 256)
    last128 = max((s for s, v in cut_of.items() if v == 128), default=-1)
    first256 = min((s for s, v in cut_of.items() if v == 256), default=CHANGE_FRAMES)
    detail = (f"{len(seqs)} of {CHANGE_FRAMES} frames copied ({n128} cut at 128, {n256} at 256, "
              f"last 128 #{last128}, first 256 #{first256}); longest run without a copy "
              f"{longest} frames = {1000 * gap_s:.0f} ms (from #{gap_at}); change entered "
              f"{changed.get('t0', 0) - sent.t_first:.3f} s into the traffic, everywhere "
              f"{changed.get('t1', 0) - sent.t_first:.3f} s")
    print(detail)
    assert not res.not_delivered() and not res.altered(), (
        f"originals: {len(res.not_delivered())} not delivered {res.not_delivered()[:8]} "
        f"({res.losses()}), {len(res.altered())} altered")
    assert not res.duplicated() and not wrong and not res.foreign, (
        f"duplicated copies {list(res.duplicated().items())[:8]}, copies of neither cut "
        f"{wrong[:8]}, copies of other runs {res.foreign[:5]}; {detail}")
    assert n128 > 0 and n256 > 0, f"the change is not visible in the copies: {detail}"
    assert gap_s <= P.RECONCILE_S, f"gap longer than one reconcile: {detail}" + \
        evidence(lab, res)


# ---------------------------------------------------------------------------
# two sessions, one server: one copy per packet, the largest truncation
# ---------------------------------------------------------------------------

def two_sessions_state(lab, names: set[str]) -> dict[str, str]:
    """Per leaf, what is not yet: bgpd shows both sessions of VM210 with
    their profiles, the consumer has entries 1 and 2 of each (4) carrying
    the two profiles, and the decap entry on SERV21's leaf."""
    bad = {}
    for n in F.LEAVES:
        problems = []
        rows = P.show_sessions(lab, n)
        if sorted(r.get("profile") for r in rows) != sorted(names):
            problems.append(f"bgpd sessions {[(r.get('hostIp'), r.get('profile')) for r in rows]}")
        ents = P.session_entries(P.consumer_doc(lab, n))
        mine = [e for e in ents if e["kind"] != "decap"]
        kinds = sorted(e["kind"] for e in mine)
        profs = {(P._options_of(e) or "").split()[1:2][0] if P._options_of(e) else None
                 for e in mine}
        if kinds != ["mirror-dest"] * 2 + ["mirror-source"] * 2 or profs != names:
            problems.append(f"consumer entries {kinds} profiles {profs}")
        if (n == P.SERVER_LEAF) != any(e["kind"] == "decap" for e in ents):
            problems.append("decap entry")
        if problems:
            bad[n] = "; ".join(problems)
    return bad


def test_two_profiles_one_server_one_copy_largest_truncation(fresh, outdir):
    """VM210 watched by SERV21 twice: session A (MAC only) with profile
    `rx, UDP dport 6000-6001, truncate 128`, session B (MAC + IP) with
    `rx, UDP dport 6001-6002, truncate 256`. A frame selected by both gets
    ONE copy, cut at the larger length; by one of them, that one's cut; by
    none, no copy. rx only, so VM210's ICMP errors (the frames are addressed
    to its own IP) are not mirrored."""
    lab, run = fresh, P.new_run()
    ip_line = P.session_line("two-b").replace(f"mac {P.HOST_MAC}",
                                              f"mac {P.HOST_MAC} ip {F.VM210_IP}")
    cfg = (P.profile_lines("two-a", ["direction rx", "filter 1 protocol udp dport 6000 to 6001",
                                     "truncate 128"]) +
           P.profile_lines("two-b", ["direction rx", "filter 1 protocol udp dport 6001 to 6002",
                                     "truncate 256"]) +
           [P.session_line("two-a"), ip_line])
    want_cut = {6000: 128, 6001: 256, 6002: 256, 6003: None}
    frames, cut_of, seq = [], {}, 0
    for dport, cut in want_cut.items():
        for _ in range(10):
            frames.append(P.udp_frame(PEER, HOST, run, seq, size=400, sip=F.HOSTS[PEER][1],
                                      dip=F.VM210_IP, sport=40000 + seq, dport=dport))
            cut_of[(run, seq)] = cut
            seq += 1
    P.configure(lab, cfg)
    try:
        last = {}

        def ok():
            nonlocal last
            last = two_sessions_state(lab, {"two-a", "two-b"})
            return not last
        try:
            lab.wait_for(ok, timeout=30, interval=0.1, what="both sessions installed")
        except Exception as e:
            raise AssertionError("two sessions never installed everywhere:\n" + "\n".join(
                f"  {n}: {v}" for n, v in last.items())) from e
        res = P.traffic(lab, outdir, "two", [(PEER, frames, 500)])
    finally:
        P.configure(lab, [f"no {ip_line}", f"no {P.session_line('two-a')}",
                          "no monitor profile two-a", "no monitor profile two-b"])
        P.wait_session(lab, None, what="both sessions removed everywhere")
    acc = P.accounting(res, {k for k, c in cut_of.items() if c})
    wrong = []
    for k, copies in sorted(res.copies.items()):
        cut = cut_of.get(k)
        for c in copies:
            if cut and c != res.frames[k][:cut]:
                wrong.append(f"#{k[1]} dport {6000 + k[1] // 10}: copy {len(c)} octets, want {cut}")
    assert P.accounting_ok(acc) and not wrong, (
        "two profiles, one server: " + P.accounting_str(
            acc, lambda k: f"#{k[1]} dport {6000 + k[1] // 10}") +
        f"; copies cut wrong: {len(wrong)} {wrong[:8]}" + evidence(lab, res))


# ---------------------------------------------------------------------------
# a session naming a profile that does not exist yet
# ---------------------------------------------------------------------------

def test_session_with_missing_profile_is_advertised_once_the_profile_exists(fresh, outdir):
    """`monitor host ... profile late` before `monitor profile late` exists:
    kept in vtep103's configuration, shown as profile-missing there, advertised
    nowhere, nothing of VM210 mirrored. A fence session configured after it
    (VM230, no profile) shows that the fabric did take the later change in,
    and its copies show that SERV21's capture works. Creating the profile
    advertises the session: VM210's frames are mirrored."""
    lab = fresh
    F.wait_reachable(lab, PEER, "vm230")
    fence = f"monitor host vni {F.VNI} mac {F.HOSTS['vm230'][0]} server {F.HOST_ID}"
    P.configure(lab, [P.session_line("late"), fence])
    try:
        def fence_everywhere():
            return all(
                {e["kind"] for e in P.consumer_doc(lab, n).get("entries", {}).get("entry", [])
                 if e.get("host-mac") == F.HOSTS["vm230"][0]} == {"mirror-source", "mirror-dest"}
                for n in F.LEAVES)
        lab.wait_for(fence_everywhere, timeout=30, interval=0.1,
                     what="the fence session (VM230) installed on every leaf")
        mine = P.configured_sessions(lab, P.CONFIG_LEAF)
        assert [(r.get("profile"), r.get("state")) for r in mine] == \
            [("late", "profile-missing")], \
            f"{P.CONFIG_LEAF}: show bgp l2vpn evpn monitor json, configured: {mine}"
        leaked = {n: v for n, v in P.session_state(lab, None).items()}
        assert not leaked, f"a session without its profile was advertised/installed: {leaked}"
        run = P.new_run()
        to_host = [P.udp_frame(PEER, HOST, run, i) for i in range(20)]
        to_fence = [P.udp_frame(PEER, "vm230", run, 100 + i) for i in range(20)]
        res = P.traffic(lab, outdir, "missing", [(PEER, to_host, 500), (PEER, to_fence, 500)])
        acc = P.accounting(res, {(run, 100 + i) for i in range(20)})
        assert P.accounting_ok(acc), ("profile missing: only the fence's frames may be "
                                      "copied: " + P.accounting_str(acc) + evidence(lab, res))

        P.configure(lab, P.profile_lines("late", ["direction rx"]))
        P.wait_session(lab, {"name": "late", "direction": "rx"},
                       what="the session advertised once its profile exists")
        mine = P.configured_sessions(lab, P.CONFIG_LEAF)
        assert [r.get("state") for r in mine] == ["advertised"] and mine[0].get("sessionId"), \
            f"{P.CONFIG_LEAF}: configured: {mine}"
        run = P.new_run()
        to_host = [P.udp_frame(PEER, HOST, run, i) for i in range(20)]
        res = P.traffic(lab, outdir, "created", [(PEER, to_host, 500)])
        acc = P.accounting(res, set(res.frames))
        assert P.accounting_ok(acc), ("profile created: " + P.accounting_str(acc) +
                                      evidence(lab, res))
    finally:
        P.configure(lab, [f"no {P.session_line('late')}", f"no {fence}"])
        if "monitor profile late" in lab.vtysh(P.CONFIG_LEAF, "show running-config"):
            P.configure(lab, ["no monitor profile late"])
        P.wait_session(lab, None, what="session removed everywhere")
        lab.wait_for(lambda: not any(
            e.get("host-mac") == F.HOSTS["vm230"][0] for n in F.LEAVES
            for e in P.consumer_doc(lab, n).get("entries", {}).get("entry", [])),
            timeout=30, interval=0.1, what="fence session removed everywhere")
