#!/usr/bin/python3
"""evpn-monitor demo: the reference fabric in network namespaces.

Brings up docker/clab/evpn-monitor.clab.yml with the netns runner (the same
file containerlab deploys), configures "monitor VM210 with SERV21" once on
VTEP101 with vtysh, sends traffic (ping and a TCP flow, both directions, from
hosts on other leaves and on the same leaf) and shows what SERV21 receives.
An ERSPAN III collector on the underlay (10.9.0.1, behind the spine) then
watches VM210 too for one round of traffic: the copies it receives are
decoded with tshark, while evpnmon-collector runs on the collector node:
it writes them to pcapng (one interface per VTEP, ERSPAN III times) and
publishes a record per TCP connection, and the demo prints the records of
its own flows (handshake latencies from the VTEPs' timestamps). Then VM210
moves to VTEP102, then SERV21 moves to
VTEP103; after each step
the entries of every VTEP and the copies at SERV21 are checked again. Ends by
tearing down everything it created (also on Ctrl-C) and prints the
convergence times it measured.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))
sys.path.insert(0, str(REPO / "tests" / "collector"))

from clabns import Lab, LabError  # noqa: E402
import collector_lab as CL  # noqa: E402
import erspan as E  # noqa: E402
import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

BOLD, GREEN, RED, END = "\033[1m", "\033[32m", "\033[31m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = GREEN = RED = END = ""

_step = 0
_t0 = time.monotonic()


def step(text: str) -> None:
    global _step
    _step += 1
    print(f"\n{BOLD}[{_step}] {text}{END}   (t = {time.monotonic() - _t0:.1f} s)", flush=True)


def say(text: str = "") -> None:
    for line in str(text).rstrip().splitlines() or [""]:
        print("    " + line, flush=True)


def verdict(ok: bool, text: str) -> bool:
    print(f"    {GREEN + 'OK  ' if ok else RED + 'FAIL'}{END} {text}", flush=True)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/evpnmon-demo",
                    help="directory for the pcap files (default %(default)s)")
    ap.add_argument("--prefix", default="demo", help="namespace prefix (default %(default)s)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    failures: list[str] = []

    step("Fabric: spine (eBGP transit, patched bgpd, no VNI), VTEP101-104 (patched FRR + "
         "fpm-consumer + eBPF dataplane), VTEP105 (stock Debian FRR 8.4.4), VNI 100")
    try:
        with Lab(F.TOPOLOGY, prefix=args.prefix, frr_prefix=F.FRR_PREFIX, stock_ok=False,
                 require_extras=True) as lab:
            run(lab, out, times, failures)
            step("Tear down")
        say("all namespaces, processes, devices and BPF pins of the demo removed")
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo created has been torn down")
        return 130
    except (LabError, AssertionError) as e:
        print(f"\n{RED}demo failed:{END} {e}\neverything the demo created has been torn down")
        return 1
    print(f"\n{BOLD}Convergence times measured in this run{END}")
    for k, v in times.items():
        print(f"    {k:58} {1000 * v:7.0f} ms")
    print(f"    pcap files: {out}/")
    if failures:
        print(f"\n{RED}{len(failures)} check(s) failed:{END}")
        for f in failures:
            print(f"    - {f}")
        return 1
    print(f"\n{GREEN}every check passed{END}")
    return 0


def show_entries(lab, host_leaf: str, server_leaf: str, failures: list[str]) -> None:
    want = F.expected_entries(lab, server_leaf)
    try:
        F.wait_entries(lab, want, timeout=15)
    except AssertionError as e:
        failures.append(f"entries (VM210 on {host_leaf}, SERV21 on {server_leaf}): {e}")
    got = F.all_entries(lab)
    for n in F.LEAVES:
        say(f"{n} ({F.VTEP_IP[n]}):")
        for line in F.format_entries(got[n]) or ["(no entries)"]:
            say("    " + line)
    verdict(got == want, "every VTEP holds exactly the entries the rule asks for")


def traffic(lab, out: Path, tag: str, peers: list[str], failures: list[str]) -> None:
    say(f"peers of VM210: " + ", ".join(f"{p} (on {F.where_is(lab, p)})" for p in peers))
    cmp, res, spcap = F.mirrored_exchange(lab, peers, tag, out, log=say)
    if not all(res.values()):
        failures.append(f"{tag}: traffic failed: {[k for k, v in res.items() if not v]}")
    say("")
    say(f"what SERV21 received (tshark, {spcap}):")
    for line in F.tshark_summary(spcap).splitlines():
        say("  " + line)
    ok = verdict(cmp.exactly_once, f"exactly once: {cmp}")
    if not ok:
        failures.append(f"{tag}: {cmp} {cmp.examples}")


def run(lab: Lab, out: Path, times: dict, failures: list[str]) -> None:
    F.bring_up_wait(lab)
    say(f"all BGP sessions established after {time.monotonic() - _t0:.1f} s")
    say(lab.vtysh("spine", "show bgp l2vpn evpn summary"))
    F.quiet_hosts(lab)
    # every host talks once so that every MAC is known (no unknown-unicast
    # flooding would reach SERV21 later and look like a copy)
    for h in ("vm220", "vm230", "vm240", "serv21", "vm250"):
        F.ping(lab, "vm210", h, count=1)
    F.start_echo_servers(lab, ["vm210", "vm220", "vm230", "vm240", "vm250"])
    F.wait_gates(lab)
    say(f"every fpm-consumer has its inputs (FPM resynced, feed snapshot, local MACs) "
        f"at t = {time.monotonic() - _t0:.1f} s")

    step("Operator, on VTEP101 only: monitor VM210 with SERV21 (vtysh)")
    for c in F.monitor_config():
        say(f"vtep101(config)# {c}")
    times["configuration entered -> first mirrored packet at SERV21"] = \
        F.measure_config(lab, out)
    say(f"first mirrored packet at SERV21 "
        f"{1000 * times['configuration entered -> first mirrored packet at SERV21']:.0f} ms "
        f"after the configuration (continuous ping VM220 -> VM210)")

    step("The monitor-config route (EVPN type 254) reaches every VTEP of VNI 100")
    lab.wait_for(lambda: all(lab.vtysh_json(n, "show bgp l2vpn evpn monitor json")["sessions"]
                             for n in F.LEAVES), timeout=30, what="session on every VTEP")
    say(lab.vtysh("vtep103", "show bgp l2vpn evpn monitor"))
    stock = lab.vtysh("vtep105", "show bgp l2vpn evpn route")
    verdict("[254]" not in stock and lab.bgp_established("vtep105"),
            "VTEP105 (stock FRR) keeps its BGP session and holds no monitor route")

    step("Each VTEP's fpm-consumer derived its entries (evpnmon-ctl --json entries)")
    show_entries(lab, "vtep101", "vtep104", failures)

    step("Traffic to and from VM210 (VM210 on VTEP101, SERV21 on VTEP104)")
    traffic(lab, out, "1-initial", ["vm220", "vm230", "vm240"], failures)
    say("")
    say("VM250 behind the stock leaf VTEP105: its packets to VM210 are not mirrored "
        "(VTEP105 has no dataplane);")
    say("VM210's answers to it are (entry 1 on VTEP101):")
    c, _, _ = F.mirrored_exchange(lab, ["vm250"], "1-stock", out)
    say(f"    {c}")

    erspan(lab, out, failures)

    step("VM210 moves to VTEP102 (link moved, gratuitous ARP), traffic continues")
    m = F.measure_move(lab, "vm210", "vtep101", "vtep102", out, "2-move")
    times["VM210 move: the fabric's type-2 MAC move"] = m.fabric
    times["VM210 move: mirroring resumes"] = m.mirror
    say(f"VM210 now on vtep102:{m.port}; after its gratuitous ARP: {m}")
    show_entries(lab, "vtep102", "vtep104", failures)
    traffic(lab, out, "2-vm210-moved", ["vm220", "vm230", "vm240"], failures)

    step("SERV21 moves to VTEP103 (link moved, gratuitous ARP), traffic continues")
    m = F.measure_move(lab, "serv21", "vtep104", "vtep103", out, "3-move")
    times["SERV21 move: the fabric's type-2 MAC move"] = m.fabric
    times["SERV21 move: mirroring resumes"] = m.mirror
    say(f"SERV21 now on vtep103:{m.port}; after its gratuitous ARP: {m}")
    show_entries(lab, "vtep102", "vtep103", failures)
    traffic(lab, out, "3-serv21-moved", ["vm220", "vm230", "vm240"], failures)


def erspan(lab, out: Path, failures: list[str]) -> None:
    step("An ERSPAN III collector (10.9.0.1, on the underlay behind the spine) watches VM210 "
         "too")
    coll = E.Collector(1, 3, dscp=46)
    lines = [coll.line(), E.session_line(coll)]
    for c in lines:
        say(f"vtep101(config-router-af)# {c}")
    coll_proc, watch = start_collector(lab, out, coll, failures)
    lab.configure("vtep101", ["router bgp 65101", "address-family l2vpn evpn", *lines])
    E.wait_state(lab, coll, "vm210", True)
    say(f"every VTEP has entries 1 and 2 of it: copies as ERSPAN III (GRE 0x22EB) to "
        f"{coll.ip}, span id {coll.span}, DSCP {coll.eff_dscp}, TTL {coll.eff_ttl}, routed "
        f"by each VTEP's underlay (via the spine)")
    hif = lab.link_of("vm210", F.where_is(lab, "vm210")).iface("vm210")
    with E.CollectorCapture(lab, out, "4-erspan") as cc, \
            F.Capture(lab, "vm210", hif, out / "4-erspan-vm210.pcap", nano=True) as ch:
        time.sleep(0.3)
        res = F.traffic_round(lab, ["vm220", "vm230"])
        # RoCEv2 from VM220 to VM210's QP 0x100: CNPs, NAKs and RNR NAKs
        # with known counts, and frames that must count nothing
        marks = (P.mark(P.new_run(), i) for i in itertools.count())
        roce, roce_want = CL.roce_plan(F.HOSTS["vm220"][0], F.VM210_MAC, "10.77.2.2",
                                       "10.77.2.1", 0x100, marks)
        P.send(lab, "vm220", roce, out, "4-erspan-roce", rate=500)
        cc.wait_quiet()
        host = ch.stop()
    copies = cc.stop()
    pcap = cc.paths[E.VIA_SPINE]
    say(f"what the collector received (tshark, {pcap}):")
    say("  captured at (s)    outer src -> dst      DSCP GRE seq type span D HW  "
        "ERSPAN timestamp (100 ns since the epoch)")
    for c in copies[:8]:
        f = c.f
        t = c.timestamp_ns()
        say(f"  {c.ts_ns / 1e9:.6f}  {f['ip.src']} -> {f['ip.dst']}  {f['ip.dsfield.dscp']:>4} "
            f"{c.seq:>7} {'III' if f['erspan.version'] == 2 else 'II':>4} {c.span:>4} "
            f"{f['erspan.direction']} {f['erspan.hw']:>2}  "
            f"{t // 100 if t else '-'} ({(t - c.ts_ns) / 1000 if t else 0:+.0f} us)")
    say("  (D 0 = from VM210, made at its VTEP; D 1 = to VM210, made where the frame entered)")
    inner = {}
    for c in copies:
        inner[c.inner] = inner.get(c.inner, 0) + 1
    frames = F.monitored_frames(host)
    missing = sum(1 for x in frames if x not in inner)
    dup = sum(1 for x in frames if inner.get(x, 0) > 1)
    bad = {c.short(): p for c in copies if (p := E.generic_problems(c, coll, E.hw_ids(lab)))}
    seq = E.sequence_problems(copies)
    ok = all(res.values()) and frames and not (missing or dup or bad or seq)
    if not verdict(ok, f"{len(frames)} unicast frames to/from VM210 at its port, each once "
                       f"at the collector as ERSPAN III (missing {missing}, duplicated {dup}); "
                       f"every header as configured ({len(bad)} wrong), GRE sequence "
                       f"contiguous per VTEP ({E.seq_ranges(copies)})"):
        failures.append(f"ERSPAN: missing {missing} duplicated {dup} wrong "
                        f"{list(bad.items())[:3]} sequence {seq}")
    lab.configure("vtep101", ["router bgp 65101", "address-family l2vpn evpn",
                              f"no {E.session_line(coll)}", f"no monitor collector {coll.cid}"])
    E.wait_state(lab, coll, "vm210", False)
    if coll_proc is not None:
        show_records(lab, out, coll, coll_proc, watch, copies, roce_want, failures)


COLLECTOR_PUB, COLLECTOR_METRICS = "tcp://127.0.0.1:9520", "127.0.0.1:9521"


def start_collector(lab, out: Path, coll, failures: list[str]):
    """evpnmon-collector in the collector node (its raw GRE socket also
    keeps the node from answering the copies with ICMP) and a `watch --json`
    subscriber next to it; (None, None) without a build: the raw GRE sink of
    the scenarios takes its place."""
    if not CL.COLLECTOR_BIN.exists():
        say(f"(no collector build at {CL.COLLECTOR_BIN}: copies are only captured)")
        E.start_gre_sink(lab)
        return None, None
    ns = ["ip", "netns", "exec", lab.netns(E.COLLECTOR)]
    d = out / "collector"
    args = ["--erspan", "--dir", str(d), "--session", f"demo=span:{coll.span}",
            "--publish", COLLECTOR_PUB, "--report-interval", "500"]
    say(f"collector# evpnmon-collector run {' '.join(args)} --metrics {COLLECTOR_METRICS}")
    proc = CL.CollectorProc(ns, args, out / "collector.log", metrics=COLLECTOR_METRICS)
    try:
        say("    " + proc.wait_ready().strip())
        watch = CL.Watch(ns, COLLECTOR_PUB, out / "collector-watch.jsonl")
        watch.wait_connected()
    except AssertionError as e:
        failures.append(f"collector: {e}")
        proc.stop()
        E.start_gre_sink(lab)
        return None, None
    return proc, watch


def _ms(ns) -> str:
    return f"{CL.u(ns) / 1e6:7.3f}"


def show_records(lab, out: Path, coll, proc, watch, copies, roce_want: dict,
                 failures: list[str]) -> None:
    """Stop the collector, print the TCP records of the demo's own flows
    (the echo connections to port 5001), the RoCEv2 record of what VM220
    sent, and what it wrote."""
    want = len([c for c in copies if c.span == coll.span])
    try:
        CL.wait_for(lambda: proc.metric("evpnmon_collector_copies_total", session="demo") >= want,
                    10, f"{want} copies counted by the collector")
    except AssertionError as e:
        failures.append(f"collector: {e}")

    def closed():
        return len([r for r in CL.tcp_records(watch.envelopes(), "CLOSE")
                    if CL.u(r.get("id_resp_p")) == F.ECHO_PORT]) >= 4
    try:        # each echo connection ends with FINs both ways: a CLOSE record
        CL.wait_for(closed, 10, "CLOSE records of the echo connections")
    except AssertionError as e:
        failures.append(f"collector: {e}")
    rc = proc.stop()
    F.wait_quiet(watch.out, 0.5, 5)   # the final records published at the stop arrive
    watch.stop()
    envs = watch.envelopes()
    ip = {v[1]: k for k, v in F.HOSTS.items()}
    say("")
    say("evpnmon-collector's records of the demo's TCP connections (ZeroMQ, "
        "`evpnmon-collector watch --json`; times from the VTEPs' ERSPAN III timestamps):")
    say("  client  -> server   outcome      SYN->SYN/ACK  SYN/ACK->ACK  handshake  "
        "MSS   wscale SACK TS   then")
    hs = [r for r in CL.tcp_records(envs, "HANDSHAKE") if CL.u(r.get("id_resp_p")) == F.ECHO_PORT]
    closes = {CL.conn_key(r): r for r in CL.tcp_records(envs, "CLOSE")}
    for r in hs:
        o = r.get("orig_options", {})
        c = closes.get(CL.conn_key(r), {})
        then = (f"closed ({c.get('close_reason')}, {c.get('conn_state')}, "
                f"{CL.u(c.get('orig_pkts'))}+{CL.u(c.get('resp_pkts'))} packets, "
                f"{CL.u(c.get('duration_ns')) / 1e6:.1f} ms)") if c else "open"
        say(f"  {ip.get(r.get('id_orig_h'), r.get('id_orig_h')):>6}  -> "
            f"{ip.get(r.get('id_resp_h'), r.get('id_resp_h')):<6}   {r.get('outcome'):<12} "
            f"{_ms(r.get('syn_to_synack_ns'))} ms   {_ms(r.get('synack_to_ack_ns'))} ms  "
            f"{_ms(r.get('handshake_ns'))} ms  {CL.u(o.get('mss')):>5} "
            f"{o.get('window_scale', -1):>6} {'yes' if o.get('sack_permitted') else 'no':>4} "
            f"{'yes' if o.get('timestamps') else 'no':>3}  {then}")
    say("")
    say("RoCEv2 records (per source IP, destination IP, destination QP; the last one, final "
        "at the collector's stop):")
    last = {}
    for e in envs:
        if "roce" in e:
            r = e["roce"]
            last[(r.get("src_ip"), r.get("dst_ip"), CL.u(r.get("dest_qp")))] = r
    for (a, b, qp), r in last.items():
        say(f"  {a} -> {b} QP {qp:#08x}: CNP {CL.u(r.get('cnp'))}, NAK PSN-seq-err "
            f"{CL.u(r.get('nak_psn_sequence_error'))}, inv-req {CL.u(r.get('nak_invalid_request'))}"
            f", rem-access {CL.u(r.get('nak_remote_access_error'))}, rem-op "
            f"{CL.u(r.get('nak_remote_operational_error'))}, RNR {CL.u(r.get('rnr_nak'))}, "
            f"last NAK PSN {r.get('last_nak_psn')}")
    rp = CL.roce_problems(envs, ("10.77.2.2", "10.77.2.1", 0x100), roce_want, "demo")
    if not verdict(not rp, f"RoCEv2 counts as sent by VM220: {roce_want}"):
        failures.append(f"RoCEv2 records: {rp}")
    st = CL.last_session_stats(envs).get("demo", {})
    say(f"  session 'demo' (span {coll.span}): {CL.u(st.get('copies'))} copies, "
        f"{CL.u(st.get('losses'))} lost, from " +
        ", ".join(f"{s['source']} (seq ..{s.get('last_seq')})" for s in st.get("sources", [])))
    files = CL.session_files(out / "collector", "demo")
    parsed, probs = CL.check_files(files)
    n = sum(len(f.packets) for f in parsed)
    for f in files:
        say(f"  file {f} ({f.stat().st_size} octets)")
    ok = (rc == 0 and len(hs) >= 4 and all(r.get("outcome") == "ESTABLISHED" for r in hs)
          and n == want and not probs and CL.u(st.get("losses")) == 0)
    if not verdict(ok, f"{len(hs)} handshakes recorded (4 echo connections made), {n} copies "
                       f"in the pcapng files for {want} received (tshark and capinfos read "
                       f"them{'' if not probs else ': ' + str(probs)}), collector exit {rc}"):
        failures.append(f"collector records/files: {len(hs)} handshakes, {n}/{want} copies, "
                        f"{probs}, exit {rc}")


if __name__ == "__main__":
    sys.exit(main())
