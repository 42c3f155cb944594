#!/usr/bin/python3
"""Fabric convergence and memory numbers (issue 5), measured in the reference
fabric in network namespaces (tests/lab/clabns.py), written to the
"## Lab (issue 5)" section of docs/benchmarks.md (between <!-- lab:begin -->
and <!-- lab:end -->).

  sudo /usr/bin/python3 bench/lab/run_bench.py [--runs 7] [--update-doc docs/benchmarks.md]

Per run, in one fabric (VM210 on vtep101, SERV21 on vtep104 at the start):
  * configuration -> first mirrored packet: `monitor ...` entered with vtysh on
    vtep101 while vm220 pings VM210 every 5 ms; the first copy at SERV21's
    port (pcap timestamp) minus the time vtysh was started; then the session
    is removed again and the entries are gone before the next run;
  * VM210 move (vtep101 <-> vtep102, alternating), under 5 ms pings from
    vm230 (third leaf) and from VM210: from VM210's gratuitous ARP (pcap in
    its namespace) to the first packet VM210 sends at its new port whose copy
    reaches SERV21; against, in the same move, the fabric's own type-2 MAC
    move: first known-unicast VXLAN frame (not a flood copy) that vm230's
    leaf sends to VM210's new VTEP (pcap on its underlay port);
  * SERV21 move (vtep104 <-> vtep103, alternating) under 5 ms pings from
    vm220 to VM210 and to SERV21: GARP -> first copy of VM210's traffic at
    SERV21's new port, against vm220's leaf's first known-unicast VXLAN frame
    to SERV21's new VTEP.
Memory: RSS of every process of the fabric (FRR daemons, consumers) plus the
consumers' BPF maps, with evpn-monitor (patched FRR, module, consumers, one
session) and without (the same topology with Debian's stock FRR 8.4.4
everywhere, no module, no consumer).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))

import fabric as F  # noqa: E402
from clabns import Lab  # noqa: E402

BEGIN, END = "<!-- lab:begin -->", "<!-- lab:end -->"


def log(*a):
    print(*a, flush=True)


def prepare(lab):
    F.bring_up_wait(lab)
    F.quiet_hosts(lab)
    for h in ("vm220", "vm230", "vm240", "serv21", "vm250"):
        F.ping(lab, "vm210", h, count=1)


def measure(runs: int, outdir: Path) -> dict:
    res = {"config": [], "host_fabric": [], "host_mirror": [], "host_gap": [],
           "srv_fabric": [], "srv_mirror": [], "srv_gap": [], "mem_with": None}
    with Lab(F.TOPOLOGY, frr_prefix=F.FRR_PREFIX, stock_ok=False, require_extras=True,
             prefix=f"bl{os.getpid() % 100000}") as lab:
        prepare(lab)
        F.wait_gates(lab)
        for i in range(runs):
            t = F.measure_config(lab, outdir)
            res["config"].append(t)
            F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
            if i < runs - 1:
                lab.configure("vtep101", F.unmonitor_config())
                F.wait_entries(lab, {n: set() for n in F.LEAVES})
                time.sleep(0.5)
            log(f"run {i + 1}: configuration -> first mirrored packet {1000 * t:.0f} ms")
        time.sleep(1)
        res["mem_with"] = F.fabric_memory(lab)
        hosts = ["vtep101", "vtep102"]
        for i in range(runs):
            a, b = hosts[i % 2], hosts[(i + 1) % 2]
            m = F.measure_move(lab, "vm210", a, b, outdir, f"hm{i}")
            F.wait_entries(lab, F.expected_entries(lab, "vtep104"))
            res["host_fabric"].append(m.fabric)
            res["host_mirror"].append(m.mirror)
            res["host_gap"].append(m.unmirrored)
            log(f"run {i + 1}: VM210 {a} -> {b}: {m}")
            time.sleep(1)
        hleaf = F.where_is(lab, "vm210")
        srv = ["vtep104", "vtep103"]
        for i in range(runs):
            a, b = srv[i % 2], srv[(i + 1) % 2]
            m = F.measure_move(lab, "serv21", a, b, outdir, f"sm{i}")
            F.wait_entries(lab, F.expected_entries(lab, b))
            res["srv_fabric"].append(m.fabric)
            res["srv_mirror"].append(m.mirror)
            res["srv_gap"].append(m.unmirrored)
            log(f"run {i + 1}: SERV21 {a} -> {b}: {m}")
            time.sleep(1)
    with Lab(F.TOPOLOGY, force_stock=True, prefix=f"bs{os.getpid() % 100000}") as lab:
        prepare(lab)
        time.sleep(3)
        res["mem_without"] = F.fabric_memory(lab)
    return res


def ms(v: float) -> str:
    return f"{1000 * v:.0f}"


def stat_row(name, vals, ref=None):
    med = statistics.median(vals)
    row = f"| {name} | {ms(med)} | {ms(min(vals))}–{ms(max(vals))} |"
    if ref is not None:
        d = med - statistics.median(ref)
        row += f" {'+' if d >= 0 else '−'}{ms(abs(d))} |"
    else:
        row += " |"
    return row


def render(res: dict, runs: int) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    L = [BEGIN, "## Lab (issue 5)", "",
         f"Measured {now} on {platform.release()}, {os.cpu_count()} CPUs shared with other "
         f"work, in the reference fabric in network namespaces (patched FRR 8.4.4 on the "
         f"spine and vtep101–104 with fpm-consumer and TC eBPF dataplane, stock FRR on "
         f"vtep105). Generated by `bench/lab/run_bench.py` ({runs} runs, medians; all times "
         f"from pcap timestamps on one clock). Method: see the script's header.", "",
         "### Convergence", "",
         "| event | median ms | min–max ms | vs fabric's type-2 move (median) |",
         "|---|---:|---:|---:|",
         stat_row("configuration entered (vtysh on vtep101) → first mirrored packet at SERV21",
                  res["config"]),
         stat_row("VM210 move: the fabric's own type-2 MAC move (GARP → known unicast "
                  "from a third leaf to the new VTEP)", res["host_fabric"]),
         stat_row("VM210 move: GARP → first packet of VM210 at its new port mirrored",
                  res["host_mirror"], res["host_fabric"]),
         stat_row("SERV21 move: the fabric's own type-2 MAC move", res["srv_fabric"]),
         stat_row("SERV21 move: GARP → first copy at SERV21's new port",
                  res["srv_mirror"], res["srv_fabric"]),
         "",
         f"Target (issue 5): mirroring resumes no later than the fabric's own type-2 move "
         f"+ 100 ms. VM210 move: median {ms(statistics.median(res['host_mirror']))} ms vs "
         f"{ms(statistics.median(res['host_fabric']))} + 100 ms — "
         f"{'met' if statistics.median(res['host_mirror']) <= statistics.median(res['host_fabric']) + 0.1 else 'NOT met'}"
         f"; SERV21 move: {ms(statistics.median(res['srv_mirror']))} ms vs "
         f"{ms(statistics.median(res['srv_fabric']))} + 100 ms — "
         f"{'met' if statistics.median(res['srv_mirror']) <= statistics.median(res['srv_fabric']) + 0.1 else 'NOT met'}.",
         "",
         f"Packets to/from VM210 not mirrored during a move (median): VM210 move "
         f"{statistics.median(res['host_gap']):.0f} (packets VM210 sent at its new port "
         f"before the first mirrored one), SERV21 move "
         f"{statistics.median(res['srv_gap']):.0f} (estimated: 2 packets per 5 ms between "
         f"the GARP and the first copy at the new port; copies sent meanwhile go to the "
         f"old VTEP, which drops them). A host move needs no entry change: entry 1 is on "
         f"every VTEP of the VNI before the host arrives, so the first packet VM210 sends "
         f"at its new port is mirrored; the VM210 figure is when that packet is sent "
         f"(VM210 only answers the pings, which must first find it at its new leaf). A "
         f"server move waits for the type-2 route of the server's MAC at every VTEP, then "
         f"one reconcile pass.", "",
         "### Whole-fabric memory", "",
         "RSS (KiB) summed over the fabric's processes (spine + 5 leaves), BPF maps = "
         "memlock of the consumers' maps; one monitoring session configured.", "",
         "| process kind | with evpn-monitor | without (stock FRR) |", "|---|---:|---:|"]
    w, wo = res["mem_with"], res["mem_without"]
    for k in sorted(set(w) | set(wo), key=lambda k: (k == "total", k)):
        L.append(f"| {k} | {w.get(k, 0)} | {wo.get(k, 0)} |")
    L += ["", f"Difference: {w['total'] - wo['total']} KiB for the whole fabric "
          f"({(w['total'] - wo['total']) / 4:.0f} KiB per patched leaf, spine included in the "
          f"total).", END]
    return "\n".join(L) + "\n"


def update_doc(path: Path, text: str) -> None:
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in doc and END in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda m: text, doc,
                     flags=re.S)
    elif "## Lab (issue 5)" in doc and END in doc:
        # another generator rewrote the file and dropped the begin marker
        doc = re.sub(r"## Lab \(issue 5\).*?" + re.escape(END) + r"\n?", lambda m: text, doc,
                     flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--update-doc", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evpnmon-bench-") as d:
        res = measure(args.runs, Path(d))
    text = render(res, args.runs)
    print(text)
    if args.update_doc:
        update_doc(args.update_doc, text)
        print(f"updated {args.update_doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
