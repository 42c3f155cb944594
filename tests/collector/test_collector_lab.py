"""evpnmon-collector end to end in the reference fabric: real FRR daemons,
the fpm-consumers and the eBPF dataplane produce the copies, the collector
writes them and publishes records, and independent oracles check every
copy, every file and every record.

  test_erspan_several_vteps_and_host_move[raw|ring]
      The collector runs in the `collector` node (10.9.0.1, behind the
      spine) with `--erspan` (raw GRE socket) or `--erspan-ring eth1`
      (TPACKET_V3, when the build has it) and one named session (span 77). VM210 is
      watched with an ERSPAN III collector session (configured on vtep103).
      Marked UDP frames and TCP connections to and from VM210 enter the
      fabric at vtep101, vtep102 and vtep103; VM210 moves to vtep102; more
      traffic enters at vtep102, vtep103 and vtep104. tcpdump on the
      collector's interfaces is the oracle: every GRE copy it saw (checked
      field by field against the originals by tests/scenarios/erspan.py)
      must be in the collector's pcapng files exactly once, byte for byte,
      on the interface named after its source VTEP (one IDB per source in
      each file), stamped with its ERSPAN III time to the nanosecond, with
      the direction from the D bit; no drop count anywhere, ISBs with 0
      drops; files rotated by size, each opened by capinfos and tshark.
      The published SessionStats say the same (copies, no loss, the last
      sequence number per source) as do the Prometheus counters, and every
      TCP connection has a HANDSHAKE record (ESTABLISHED, the session's
      name, handshake time within 10 us of tshark's tcp.analysis.initial_rtt
      on the collector's files and of the ERSPAN timestamps in the oracle)
      and a CLOSE record (FIN). RoCEv2 frames with known counts both ways
      (CNPs, NAKs 0x60-0x63, RNR NAKs, and plain ACKs / opcode 0x80 / WRITE
      that count nothing): the last RoceRecord of each (src, dst, QP) is the
      final one, with exactly those counts and the last NAK's PSN.
      SIGTERM: exit 0.
  test_erspan_type_ii_receive_times
      ERSPAN II (no timestamp, no direction), unnamed session span-78:
      every copy once on its source's interface, receive time within 1 ms
      of tcpdump's on the collector's eth1, no direction flag, no loss.
  test_handshake_outcomes
      crafted handshakes through the fabric: a retransmitted SYN
      (ESTABLISHED, 1 retransmission, options, handshake within 10 us of
      tshark's initial_rtt), a refused one (RST), a silent one (TIMED_OUT).
  test_port_capture_on_serv21
      Input 3: VM210 watched by SERV21 (VXLAN-GBP, decapsulated by vtep104
      onto SERV21's port); the collector captures SERV21's eth1
      (`--port-capture eth1`). Every frame
      that port received to or from VM210 (tcpdump -Q in there is the
      oracle) is in the file once, on interface eth1, inbound when VM210
      sent it, outbound when it was sent to VM210, with the receive time;
      frames of others (a ping SERV21 -> VM220) and SERV21's own frames
      (a ping SERV21 -> VM210: its request's copy and VM210's replies,
      original and copy, are in the file) are not; TCP handshakes recorded
      as above.
      Two variants: [config] `--session vm210=host:MAC,IP`; [ctl-json]
      `--sessions-json` with what `evpnmon-ctl --json sessions` prints on
      SERV21's leaf (one file set named after the session id, VNI 100 in
      the records).

Run as root (one fabric at a time):
  flock /tmp/evpnmon-lab.lock env EVPNMON_FRR_PREFIX=build/frr \\
    EVPNMON_BUILD_DIR=build EVPNMON_NO_SKIP=1 /usr/bin/python3 -m pytest -v \\
    -p no:cacheprovider tests/collector/test_collector_lab.py
"""
from __future__ import annotations

import contextlib
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scenarios"))
sys.path.insert(0, str(HERE.parent / "lab"))

import collector_lab as C  # noqa: E402
import erspan as E  # noqa: E402
import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

HOST, PEER = P.HOST, P.PEER
SPAN, SESSION = 77, "lab"
HANDSHAKE_TOLERANCE_NS = 10_000
PUB, METRICS = "tcp://127.0.0.1:9530", "127.0.0.1:9531"


@pytest.fixture(scope="module")
def lab():
    assert C.COLLECTOR_BIN.exists(), f"no collector binary at {C.COLLECTOR_BIN}"
    with F.ready_fabric([(HOST, PEER), (HOST, P.SERVER), (PEER, P.SERVER), ("vm230", HOST),
                         ("vm240", HOST)], ["vm210", "vm220", "vm230"]) as lab:
        for n in ("vtep101", "vtep102", "vtep103", "vtep104"):
            lab.wait_for(lambda: E.route_dev(lab, n) == "eth1", timeout=20,
                         what=f"{n}'s route to the collector")
        yield lab


@pytest.fixture
def fresh(lab):
    assert F.where_is(lab, HOST) == "vtep101", "an earlier test left VM210 elsewhere"
    P.refresh_macs(lab)
    return lab


def ns(lab, node: str) -> list[str]:
    return ["ip", "netns", "exec", lab.netns(node)]


@contextlib.contextmanager
def collector(lab, node: str, outdir: Path, args: list[str], tag: str):
    c = C.CollectorProc(ns(lab, node), ["--publish", PUB, "--report-interval", "200", *args],
                        outdir / f"{tag}-collector.log", metrics=METRICS)
    w = None
    try:
        line = c.wait_ready()
        print(f"\n  collector started: {line.strip()}")
        want = "erspan" if any(a.startswith("--erspan") for a in args) else "port"
        assert want in line.split("inputs", 1)[1], f"start-up line names no {want} input: {line}"
        w = C.Watch(ns(lab, node), PUB, outdir / f"{tag}-watch.jsonl")
        w.wait_connected()
        yield c, w
    finally:
        c.stop()
        if w:
            # what the collector published while stopping (final RoCE
            # records, SHUTDOWN closes) reaches the subscriber
            with contextlib.suppress(AssertionError):
                F.wait_quiet(w.out, 0.5, 5)
            w.stop()


def tcp_flows(lab, pairs) -> list[tuple]:
    """One echo connection per (client, server); returns the connection keys
    (orig ip, resp ip, resp port)."""
    keys = []
    for a, b in pairs:
        assert F.tcp_flow(lab, a, b, n=3, size=200), f"TCP echo flow {a} -> {b} failed"
        keys.append((F.HOSTS[a][1], F.HOSTS[b][1], F.ECHO_PORT))
    return keys


def handshake_problems(recs: list[dict], keys: list[tuple], session: str, rtts: dict,
                       oracle: dict | None = None) -> list[str]:
    """Each connection: exactly one HANDSHAKE record (ESTABLISHED, named
    after the session, times consistent, within 10 us of tshark's
    initial_rtt and of the oracle's SYN -> ACK) and one CLOSE record."""
    probs = []
    hs = C.tcp_records(recs, "HANDSHAKE")
    cl = C.tcp_records(recs, "CLOSE")
    for k in keys:
        mine = [r for r in hs if (r.get("id_orig_h"), r.get("id_resp_h"),
                                  C.u(r.get("id_resp_p"))) == k]
        if len(mine) != 1:
            probs.append(f"{k}: {len(mine)} HANDSHAKE records")
            continue
        r = mine[0]
        ck = C.conn_key(r)
        if r.get("outcome") != "ESTABLISHED":
            probs.append(f"{k}: outcome {r.get('outcome')}")
        if r.get("session", {}).get("name") != session:
            probs.append(f"{k}: session {r.get('session')}")
        a, b, t = C.u(r.get("syn_to_synack_ns")), C.u(r.get("synack_to_ack_ns")), \
            C.u(r.get("handshake_ns"))
        if not (a > 0 and b > 0 and t > 0 and abs(a + b - t) <= 1):
            probs.append(f"{k}: syn_to_synack {a} + synack_to_ack {b} != handshake {t}")
        rtt = rtts.get(ck)
        if rtt is None:
            probs.append(f"{k}: tshark found no initial_rtt for {ck} in the collector's files")
        elif abs(t - round(rtt * 1e9)) > HANDSHAKE_TOLERANCE_NS:
            probs.append(f"{k}: handshake {t} ns, tshark initial_rtt {rtt * 1e9:.0f} ns")
        if oracle is not None:
            o = oracle.get(ck)
            if o is None:
                probs.append(f"{k}: no SYN/ACK in the oracle capture")
            elif abs(t - o) > HANDSHAKE_TOLERANCE_NS:
                probs.append(f"{k}: handshake {t} ns, ERSPAN timestamps in the oracle say {o}")
        closes = [c for c in cl if C.conn_key(c) == ck]
        if len(closes) != 1 or closes[0].get("close_reason") != "FIN":
            probs.append(f"{k}: CLOSE records {[c.get('close_reason') for c in closes]}, "
                         f"want one FIN")
        elif C.u(closes[0].get("orig_pkts")) < 5 or C.u(closes[0].get("resp_pkts")) < 4:
            probs.append(f"{k}: CLOSE counts {closes[0].get('orig_pkts')} / "
                         f"{closes[0].get('resp_pkts')} packets")
    return probs


def oracle_handshakes(copies) -> dict[tuple, int]:
    """From the oracle's ERSPAN III copies: (orig, oport, resp, rport) ->
    first SYN .. the originator's first ACK after the SYN/ACK (ns)."""
    import struct
    syn, synack, out = {}, {}, {}
    for c in sorted(copies, key=lambda c: c.timestamp_ns() or 0):
        f, t = c.inner, c.timestamp_ns()
        if t is None or len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 15) * 4
        a = ".".join(map(str, f[26:30]))
        b = ".".join(map(str, f[30:34]))
        sp, dp = struct.unpack_from("!HH", f, 14 + ihl)
        fl = f[14 + ihl + 13]
        if fl & 0x12 == 0x02:
            syn.setdefault((a, sp, b, dp), t)
        elif fl & 0x12 == 0x12:
            synack.setdefault((b, dp, a, sp), t)
        elif fl & 0x10 and (a, sp, b, dp) in synack and (a, sp, b, dp) not in out:
            k = (a, sp, b, dp)
            if k in syn:
                out[k] = t - syn[k]
    return out


# the collector's ERSPAN inputs: the raw GRE socket, and the TPACKET_V3 ring
# on the collector node's eth1 (where every copy arrives, through the
# spine) when the build has it
ERSPAN_INPUTS = {"raw": ["--erspan"]}
if "--erspan-ring" in C.run_options():
    ERSPAN_INPUTS["ring"] = ["--erspan-ring", E.VIA_SPINE]


@pytest.mark.parametrize("erspan_input", list(ERSPAN_INPUTS))
def test_erspan_several_vteps_and_host_move(fresh, outdir, erspan_input):
    lab = fresh
    coll = E.Collector(7, 3, session_id=SPAN)
    cdir = outdir / f"erspan-files-{erspan_input}"
    moved = False
    run = P.new_run()
    marks = (P.mark(run, 1000 + i) for i in itertools.count())
    hm, pm = F.HOSTS[HOST][0], F.HOSTS[PEER][0]
    roce_in, want_in = C.roce_plan(pm, hm, "10.77.2.2", "10.77.2.1", 0x000100, marks)
    roce_out, want_out = C.roce_plan(hm, pm, "10.77.2.1", "10.77.2.2", 0xABCDEF, marks)
    with collector(lab, E.COLLECTOR, outdir,
                   [*ERSPAN_INPUTS[erspan_input], "--dir", str(cdir), "--session",
                    f"{SESSION}=span:{SPAN}", "--rotate-size", "65536"],
                   f"erspan-{erspan_input}") as (c, w):
        try:
            # the oracle listens before the session exists and until every
            # leaf has dropped it: it sees every copy the collector can get
            with E.CollectorCapture(lab, outdir, f"coll-{erspan_input}") as cc:
                with E.collector_session(lab, coll):
                    r1 = E.traffic(lab, outdir, f"coll-{erspan_input}-1", [
                        (PEER, [P.udp_frame(PEER, HOST, run, i, size=300) for i in range(40)],
                         500),
                        (HOST, [P.udp_frame(HOST, PEER, run, 100 + i, size=600)
                                for i in range(40)], 500),
                        ("vm230", [P.udp_frame("vm230", HOST, run, 200 + i, size=120)
                                   for i in range(40)], 500),
                        (PEER, roce_in, 500), (HOST, roce_out, 500)])
                    keys = tcp_flows(lab, [(PEER, HOST), (HOST, "vm230")])
                    exp = E.expect_for(lab, r1, coll.span)
                    ifx = E.ifindexes(lab)
                    F.move_host(lab, HOST, "vtep101", "vtep102")
                    moved = True
                    F.wait_reachable(lab, "vm240", HOST)
                    F.wait_reachable(lab, HOST, PEER)
                    r2 = E.traffic(lab, outdir, f"coll-{erspan_input}-2", [
                        (HOST, [P.udp_frame(HOST, PEER, run, 300 + i, size=1514)
                                for i in range(40)], 500),
                        ("vm240", [P.udp_frame("vm240", HOST, run, 400 + i, size=64)
                                   for i in range(40)], 500),
                        ("vm230", [P.udp_frame("vm230", HOST, run, 500 + i, size=200)
                                   for i in range(40)], 500)])
                    keys += tcp_flows(lab, [("vm230", HOST), (HOST, PEER)])
                    exp.update(E.expect_for(lab, r2, coll.span))
                    ifx.update(E.ifindexes(lab))
                cc.wait_quiet()
                raw = [x for x in cc.stop() if x.span == SPAN]
        finally:
            if moved:
                F.move_host(lab, HOST, "vtep102", "vtep101")
        # the collector has counted every copy the oracle saw (then stop it)
        C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session=SESSION)
                   >= len(raw), 15, f"{len(raw)} copies counted by the collector")
        C.wait_for(lambda: C.u(C.last_session_stats(w.envelopes()).get(SESSION, {})
                               .get("copies")) >= len(raw), 10, "SessionStats up to date")
        C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "CLOSE")) >= len(keys), 20,
                   f"{len(keys)} CLOSE records")
        metrics = {k: c.metric(f"evpnmon_collector_{k}_total", session=SESSION)
                   for k in ("copies", "losses", "truncated")}
        envs = w.envelopes()
    assert c.returncode == 0, f"collector exit status {c.returncode} after SIGTERM"

    # the copies themselves are right (so "no loss" below means something)
    v = E.verdict(raw, exp, [coll], E.hw_ids(lab), ifx, [r1, r2], capture=cc)
    assert v.ok, f"the fabric's copies (oracle at the collector): {v}"
    srcs = {x.src for x in raw}
    assert srcs == {F.VTEP_IP[n] for n in F.LEAVES}, f"copies from {srcs}: want 4 VTEPs"

    # files: tshark and capinfos open each; one IDB per source in each
    paths = C.session_files(cdir, SESSION)
    files, fprobs = C.check_files(paths)
    assert len(paths) >= 2, f"{len(paths)} files: want rotation at 64 KiB ({cdir})"
    assert not fprobs, f"files: {fprobs}"

    # every oracle copy exactly once, byte for byte, its source's interface,
    # its ERSPAN III time, its direction
    # (identical frames, e.g. repeated ACKs, are matched by time order)
    want: dict[tuple, list] = defaultdict(list)
    for x in raw:
        want[(f"erspan:{x.src}", x.inner)].append(x)
    got: dict[tuple, list] = defaultdict(list)
    for f in files:
        for p in f.packets:
            got[(f.ifname(p), p.data)].append(p)
    wrong, missing, extra = [], 0, 0
    for key in set(want) | set(got):
        xs = sorted(want.get(key, []), key=lambda x: x.timestamp_ns())
        ps = sorted(got.get(key, []), key=lambda p: p.ts_ns)
        missing += max(0, len(xs) - len(ps))
        extra += max(0, len(ps) - len(xs))
        for x, p in zip(xs, ps):
            pr = []
            if p.ts_ns != x.timestamp_ns():
                pr.append(f"time {p.ts_ns} != ERSPAN {x.timestamp_ns()} "
                          f"({(p.ts_ns - x.timestamp_ns()) / 1000:+.3f} us)")
            d = C.DIR_INBOUND if x.f["erspan.direction"] == 0 else C.DIR_OUTBOUND
            if p.direction != d:
                pr.append(f"epb_flags direction {p.direction}, want {d} "
                          f"(D {x.f['erspan.direction']})")
            if p.orig_len != len(p.data):
                pr.append(f"orig_len {p.orig_len} for a whole copy of {len(p.data)}")
            if p.dropcount:
                pr.append(f"epb_dropcount {p.dropcount}")
            if pr:
                wrong.append(f"{x.short()}: {'; '.join(pr)}")
    assert not missing and not extra and not wrong, \
        (f"{len(raw)} copies at the collector's interfaces, "
         f"{sum(len(f.packets) for f in files)} packets in {len(files)} files: missing "
         f"{missing}, unexpected {extra}; {len(wrong)} wrong: {wrong[:6]}")
    ifnames = {i.name for f in files for i in f.interfaces}
    assert ifnames == {f"erspan:{s}" for s in srcs}, f"interfaces {ifnames}, sources {srcs}"
    drops = [(f.path.name, i.interface, i.ifdrop) for f in files for i in f.isbs if i.ifdrop]
    assert not drops, f"ISBs report drops: {drops}"
    assert any(f.isbs for f in files), "no ISB in any file (written at close)"

    # stream and metrics: no loss, the last sequence number per source
    seqs = E.seq_ranges(raw)
    st = C.last_session_stats(envs).get(SESSION, {})
    assert C.u(st.get("copies")) == len(raw) and C.u(st.get("losses")) == 0, \
        f"SessionStats {st}, want {len(raw)} copies, 0 losses"
    per = {s["source"]: s for s in st.get("sources", [])}
    for (src, _span), (_first, last, n) in seqs.items():
        s = per.get(src, {})
        assert C.u(s.get("copies")) == n and C.u(s.get("last_seq")) == last and \
            C.u(s.get("losses")) == 0, f"source {src}: {s}, want {n} copies, last seq {last}"
    assert metrics["copies"] == len(raw) and metrics["losses"] == 0, f"metrics {metrics}"

    # records (the final RoCE ones were published at SIGTERM)
    envs = w.envelopes()
    rtts = C.initial_rtts(paths, outdir)
    probs = handshake_problems(envs, keys, SESSION, rtts, oracle_handshakes(raw))
    assert not probs, "TCP records:\n  " + "\n  ".join(probs)
    probs = C.roce_problems(envs, ("10.77.2.2", "10.77.2.1", 0x100), want_in, SESSION) + \
        C.roce_problems(envs, ("10.77.2.1", "10.77.2.2", 0xABCDEF), want_out, SESSION)
    assert not probs, "RoCEv2 records:\n  " + "\n  ".join(probs)


@pytest.mark.parametrize("sessions_from", ["config", "ctl-json"])
def test_port_capture_on_serv21(fresh, outdir, sessions_from):
    """config: `--session vm210=host:MAC,IP`; ctl-json: `--sessions-json`
    with what `evpnmon-ctl --json sessions` prints on SERV21's leaf (the
    session named after its session id, VNI 100 in the records)."""
    lab = fresh
    sleaf = F.where_is(lab, P.SERVER)
    sif = P.host_if(lab, P.SERVER)
    cdir = outdir / f"port-files-{sessions_from}"
    run = P.new_run()
    lab.configure("vtep101", F.monitor_config())
    try:
        F.wait_entries(lab, F.expected_entries(lab, sleaf), timeout=30)
        if sessions_from == "config":
            name, vni = "vm210", 0
            sess = ["--session", f"{name}=host:{F.VM210_MAC},{F.VM210_IP}"]
        else:
            sock = lab.node_dir(sleaf) / "fpm-consumer.sock"
            js = lab.exec(sleaf, [str(F.CTL), "-s", str(sock), "--json", "sessions"]).stdout
            (outdir / "sessions.json").write_text(js)
            sid = json.loads(js)["evpn-monitor:fpm-consumer"]["sessions"]["session"]
            assert len(sid) == 1, f"{sleaf}'s sessions: {sid}"
            name = re.sub(r"[^A-Za-z0-9._-]", "_", sid[0]["session-id"])
            vni = 100
            sess = ["--sessions-json", str(outdir / "sessions.json")]
        with collector(lab, P.SERVER, outdir, ["--port-capture", sif, "--dir", str(cdir), *sess],
                       f"port-{sessions_from}") as (c, w):
            # The oracle takes what the port received, as the collector does:
            # SERV21's own frames (e.g. a probe of its neighbour entry for
            # VM210, whose copy it then receives) are not copies.
            with F.Capture(lab, P.SERVER, sif, outdir / "port-oracle.pcap", nano=True,
                           direction="in") as cap:
                r = P.traffic(lab, outdir, "port", [
                    (PEER, [P.udp_frame(PEER, HOST, run, i, size=400) for i in range(40)], 500),
                    (HOST, [P.udp_frame(HOST, PEER, run, 100 + i, size=90) for i in range(40)],
                     500)])
                keys = tcp_flows(lab, [(PEER, HOST), (HOST, "vm230")])
                assert F.ping(lab, P.SERVER, PEER), "SERV21 -> VM220 ping"
                # SERV21's own frames to VM210 are no copies (not in the
                # files), their copies and VM210's answers are (every run
                # checks what a neighbour probe of VM210 brings now and then)
                assert F.ping(lab, P.SERVER, HOST, count=1), "SERV21 -> VM210 ping"
                F.wait_quiet(cap.path, 0.5, 10)
                oracle = cap.stop()
            mine = [p for p in oracle if F.VM210_MAC in (p.eth_src, p.eth_dst)]
            try:
                C.wait_for(lambda: c.metric("evpnmon_collector_copies_total")
                           >= len(mine), 15, f"{len(mine)} frames counted by the collector")
            except AssertionError as e:   # what the collector saw instead
                seen = {m: c.metric(f"evpnmon_collector_{m}") for m in
                        ("copies_total", "input_drops_total", "unknown_session_total",
                         "decode_errors_total")}
                raise AssertionError(f"{e}; collector: {seen}; the oracle's frames: "
                                     f"{sorted(Counter((p.eth_src, p.eth_dst, p.outgoing) for p in mine).items())}") from e
            C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "CLOSE")) >= len(keys), 20,
                       f"{len(keys)} CLOSE records")
            envs = w.envelopes()
        assert c.returncode == 0, f"collector exit status {c.returncode} after SIGTERM"
    finally:
        lab.configure("vtep101", F.unmonitor_config())
    a = P.accounting(r, set(r.frames))
    assert P.accounting_ok(a), f"the fabric's copies at SERV21: {P.accounting_str(a)}"

    dirs = sorted(d.name for d in cdir.iterdir())
    assert dirs == [name], f"file sets {dirs}, want one named {name!r}"
    paths = C.session_files(cdir, name)
    files, fprobs = C.check_files(paths)
    assert paths and not fprobs, f"files {paths}: {fprobs}"
    ifnames = {i.name for f in files for i in f.interfaces}
    assert ifnames == {sif}, f"interfaces {ifnames}, want the capture interface {sif}"
    want = Counter(p.frame for p in mine)
    # A frame may arrive twice with the same octets (VM210's reply to
    # SERV21: the original and its copy): each file packet is timed
    # against the nearest of its frame's arrivals.
    ts_of = defaultdict(list)
    for p in mine:
        ts_of[p.frame].append(p.ts)
    got = Counter()
    wrong, exact = [], 0
    for f in files:
        for p in f.packets:
            got[p.data] += 1
            if p.data not in want:
                continue
            src = F._mac(p.data[6:12])
            d = C.DIR_INBOUND if src == F.VM210_MAC else C.DIR_OUTBOUND
            if p.direction != d:
                wrong.append(f"{src}->{F._mac(p.data[0:6])}: direction {p.direction}, want {d}")
            dt = min((p.ts_ns / 1e9 - t for t in ts_of[p.data]), key=abs)
            exact += abs(dt) < 1e-6
            if abs(dt) > 0.001:
                wrong.append(f"{src}: time {dt * 1e3:+.3f} ms from tcpdump's at the same port")
    missing = sum((want - got).values())
    extra = sum((got - want).values())
    assert want and not missing and not extra and not wrong, \
        (f"{sum(want.values())} frames to/from VM210 at {sif}, {sum(got.values())} in the "
         f"files: missing {missing}, unexpected {extra} (e.g. the SERV21 -> VM220 ping); "
         f"{len(wrong)} wrong: {wrong[:6]}")
    print(f"\n  {sum(want.values())} frames, {exact} with tcpdump's timestamp to the us")
    st = C.last_session_stats(envs).get(name, {})
    assert C.u(st.get("copies")) == sum(want.values()), f"SessionStats {st}"
    rtts = C.initial_rtts(paths, outdir)
    probs = handshake_problems(envs, keys, name, rtts)
    probs += [f"{C.conn_key(r)}: vni {r.get('vni')}, want {vni}"
              for r in C.tcp_records(envs) if C.u(r.get("vni")) != vni]
    assert not probs, "TCP records:\n  " + "\n  ".join(probs)


def test_erspan_type_ii_receive_times(fresh, outdir):
    """ERSPAN type II (no timestamp, no direction): the same collector input
    (unnamed session: files under span-78) gets every copy once on its
    source's interface, stamped with the receive time (within 1 ms of
    tcpdump's capture of the same packet on the collector's eth1), no
    direction in the flags; SessionStats: every copy, no loss."""
    lab = fresh
    coll = E.Collector(8, 2, session_id=78)
    cdir = outdir / "type2-files"
    run = P.new_run()
    with collector(lab, E.COLLECTOR, outdir, ["--erspan", "--dir", str(cdir)], "type2") as (c, w):
        with E.CollectorCapture(lab, outdir, "type2") as cc:
            with E.collector_session(lab, coll):
                r = E.traffic(lab, outdir, "type2", [
                    (PEER, [P.udp_frame(PEER, HOST, run, i, size=200) for i in range(30)], 500),
                    (HOST, [P.udp_frame(HOST, PEER, run, 100 + i, size=90) for i in range(30)],
                     500)])
            cc.wait_quiet()
            raw = [x for x in cc.stop() if x.span == 78]
        C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session="span-78")
                   >= len(raw), 15, f"{len(raw)} copies counted")
        st = C.wait_for(lambda: (s := C.last_session_stats(w.envelopes()).get("span-78", {}))
                        and C.u(s.get("copies")) >= len(raw) and s, 10, "SessionStats")
    assert c.returncode == 0
    v = E.verdict(raw, E.expect_for(lab, r, coll.span), [coll], E.hw_ids(lab),
                  E.ifindexes(lab), [r], capture=cc)
    assert v.ok, f"the fabric's type II copies: {v}"
    files, probs = C.check_files(C.session_files(cdir, "span-78"))
    assert files and not probs, f"files: {probs}"
    want: dict[tuple, list] = defaultdict(list)
    for x in raw:
        want[(f"erspan:{x.src}", x.inner)].append(x.ts_ns)
    got: dict[tuple, list] = defaultdict(list)
    for f in files:
        for p in f.packets:
            got[(f.ifname(p), p.data)].append(p)
    wrong, missing, extra = [], 0, 0
    for k in set(want) | set(got):
        ts = sorted(want.get(k, []))
        ps = sorted(got.get(k, []), key=lambda p: p.ts_ns)
        missing += max(0, len(ts) - len(ps))
        extra += max(0, len(ps) - len(ts))
        for t, p in zip(ts, ps):
            if abs(p.ts_ns - t) > 1_000_000:
                wrong.append(f"{k[0]}: time {(p.ts_ns - t) / 1e3:+.1f} us from tcpdump's")
            if p.direction:
                wrong.append(f"{k[0]}: direction {p.direction} (type II has none)")
    assert raw and not missing and not extra and not wrong, \
        (f"{len(raw)} copies, missing {missing}, unexpected {extra}, wrong {len(wrong)}: "
         f"{wrong[:6]}")
    assert C.u(st.get("copies")) == len(raw) and C.u(st.get("losses")) == 0, f"{st}"


def tcp_frame(src: str, dst: str, sip: str, dip: str, sport: int, dport: int, flags: str,
              seq: int, ack: int, mark: bytes) -> bytes:
    """A TCP segment between addresses no host owns (the hosts drop it, no
    stack answers), its marker in an experimental TCP option (kind 253)."""
    from scapy.all import IP, TCP, Ether, raw
    opts = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)] if "S" in flags else []
    return raw(Ether(src=F.HOSTS[src][0], dst=F.HOSTS[dst][0]) / IP(src=sip, dst=dip) /
               TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                   options=opts + [(253, mark)]))


def test_handshake_outcomes(fresh, outdir):
    """Crafted handshakes through the fabric (copies made at vtep101 and
    vtep102), each segment sent on its own, so real time passes between
    them: [retx] SYN, the same SYN again, SYN/ACK, ACK: ESTABLISHED, one
    SYN retransmission, the options of each side, and handshake_ns within
    10 us of tshark's tcp.analysis.initial_rtt on the collector's file;
    [refused] SYN answered by RST/ACK: REFUSED; [silent] SYN only: TIMED_OUT
    after --handshake-timeout 2."""
    lab = fresh
    coll = E.Collector(9, 3, session_id=79)
    cdir = outdir / "hs-files"
    run = P.new_run()
    n = itertools.count()
    cli, srv = "10.77.3.2", "10.77.3.1"

    def seg(src, dst, sp, dp, fl, sq, ak):
        a, b = (cli, srv) if src == PEER else (srv, cli)
        return tcp_frame(src, dst, a, b, sp, dp, fl, sq, ak, P.mark(run, next(n)))
    plan = [  # (sender, receiver, sport, dport, flags, seq, ack)
        (PEER, HOST, 41000, 80, "S", 100, 0), (PEER, HOST, 41000, 80, "S", 100, 0),
        (HOST, PEER, 80, 41000, "SA", 900, 101), (PEER, HOST, 41000, 80, "A", 101, 901),
        (PEER, HOST, 41001, 81, "S", 200, 0), (HOST, PEER, 81, 41001, "RA", 0, 201),
        (PEER, HOST, 41002, 82, "S", 300, 0)]
    with collector(lab, E.COLLECTOR, outdir, ["--erspan", "--dir", str(cdir), "--session",
                                              f"hs=span:{coll.span}", "--handshake-timeout",
                                              "2"], "hs") as (c, w):
        with E.collector_session(lab, coll):
            for i, (a, b, sp, dp, fl, sq, ak) in enumerate(plan):
                P.send(lab, a, [seg(a, b, sp, dp, fl, sq, ak)], outdir, f"hs-{i}")
            C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session="hs")
                       >= len(plan), 10, f"{len(plan)} copies counted")
            C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "HANDSHAKE")) >= 3, 10,
                       "3 HANDSHAKE records (one after the 2 s timeout)")
    hs = {C.u(r.get("id_resp_p")): r for r in C.tcp_records(w.envelopes(), "HANDSHAKE")}
    paths = C.session_files(cdir, "hs")
    files, probs = C.check_files(paths)
    assert files and not probs, f"files: {probs}"
    rtts = C.initial_rtts(paths, outdir)
    r = hs.get(80, {})
    rtt = rtts.get((cli, 41000, srv, 80))
    assert r.get("outcome") == "ESTABLISHED" and C.u(r.get("syn_retransmissions")) == 1, \
        f"retransmitted SYN: {r}"
    assert rtt is not None and abs(C.u(r.get("handshake_ns")) - round(rtt * 1e9)) <= \
        HANDSHAKE_TOLERANCE_NS, f"handshake {r.get('handshake_ns')} ns, tshark {rtt}"
    for side in ("orig_options", "resp_options"):
        o = r.get(side, {})
        assert C.u(o.get("mss")) == 1460 and o.get("window_scale") == 7 and \
            o.get("sack_permitted") is True and o.get("timestamps") is False, f"{side} {o}"
    assert hs.get(81, {}).get("outcome") == "REFUSED", f"refused: {hs.get(81)}"
    assert hs.get(82, {}).get("outcome") == "TIMED_OUT", f"silent: {hs.get(82)}"
    assert c.returncode == 0
