#!/usr/bin/python3
"""End-to-end mirror throughput per core: ERSPAN III copies at the collector
against VXLAN-GBP copies at SERV21, measured in one run in the reference
fabric in network namespaces. Written to the "### ERSPAN" part of
docs/benchmarks.md (between <!-- erspan-lab:begin --> and
<!-- erspan-lab:end -->).

  sudo /usr/bin/python3 bench/lab/bench_erspan.py [--secs 3] [--reps 3]
       [--sizes 64 1024] [--cpu 1] [--update-doc docs/benchmarks.md]

One fabric. Per repetition and frame size the scenarios run one after the
other (interleaved, so a slow moment of the shared machine hits all of
them):
  baseline    no session: VM210 -> VM220 forwarding alone;
  vxlan-gbp   VM210 watched by SERV21 (HOST ID 21): vtep101 copies every
              frame as VXLAN-GBP to vtep104, which decapsulates it onto
              SERV21's port;
  erspan-iii  VM210 watched by collector 1 (ERSPAN III, 10.9.0.1): vtep101
              encapsulates every copy in GRE/ERSPAN III and routes it through
              the spine to the collector.
Each session is configured on vtep103 and waited for on every leaf (bgpd and
consumer) before the measurement, removed after it.

The sender is evpnmon-pktblast (AF_PACKET, sendmmsg, PACKET_QDISC_BYPASS)
in VM210's namespace, pinned to one CPU, sending identical IPv4/UDP frames
from VM210's MAC to VM220's for --secs seconds as fast as it can. The whole
path runs in softirq on that CPU (veth without NAPI: every hop is the same
CPU's backlog): VM210's veth, vtep101's bridge and TC program, the clone and
the encapsulation (the ERSPAN device's program, or the VXLAN-GBP one), the
routing to the spine, the spine's forwarding, the collector's (or vtep104's
decapsulation and SERV21's) receive, and the originals' VXLAN path to
vtep102 and VM220. CPU time = the sender's own (user + system; this kernel
has no IRQ time accounting, so the softirq run on its syscall exit is in
it) plus the pinned CPU's ksoftirqd. Counted:
  copies     packets received on the collector's eth1 (GRE) / on SERV21's
             port (decapsulated copies), from the interface counters;
  originals  packets received on VM220's port.
copies per core-second = copies / CPU seconds; copies/s = copies / --secs.
The collector runs the raw GRE socket of the scenarios (the kernel has no
GRE module; without a socket it would answer each copy with ICMP), its
reading is not in the CPU time (another process).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))

import erspan as E  # noqa: E402
import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

BEGIN, END = "<!-- erspan-lab:begin -->", "<!-- erspan-lab:end -->"
BLAST = F.BUILD / "dataplane" / "bench" / "evpnmon-pktblast"
COLL = E.Collector(1, 3)
SCENARIOS = ("baseline", "vxlan-gbp", "erspan-iii")
TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, flush=True)


def rx(lab, node: str, ifname: str) -> int:
    return int(lab.exec(node, ["cat", f"/sys/class/net/{ifname}/statistics/rx_packets"]).stdout)


def ksoftirqd_ticks(cpu: int) -> int:
    pid = subprocess.run(["pgrep", "-x", f"ksoftirqd/{cpu}"], capture_output=True,
                         text=True).stdout.split()[0]
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])          # utime + stime (fields 14, 15)


def configure(lab, scen: str) -> None:
    if scen == "vxlan-gbp":
        P.configure(lab, [P.session_line(None)])
        lab.wait_for(lambda: all(
            {e["kind"] for e in P.session_entries(F.ctl_json(lab, n, "all"))} >=
            {"mirror-source", "mirror-dest"} for n in F.LEAVES), timeout=30,
            what="server session installed")
    elif scen == "erspan-iii":
        P.configure(lab, [COLL.line(), E.session_line(COLL)])
        E.wait_state(lab, COLL, P.HOST, True)


def unconfigure(lab, scen: str) -> None:
    if scen == "vxlan-gbp":
        P.configure(lab, [f"no {P.session_line(None)}"])
        lab.wait_for(lambda: not any(
            e["kind"] != "decap" for n in F.LEAVES
            for e in P.session_entries(F.ctl_json(lab, n, "all"))), timeout=30,
            what="server session removed")
    elif scen == "erspan-iii":
        P.configure(lab, [f"no {E.session_line(COLL)}", f"no monitor collector {COLL.cid}"])
        E.wait_state(lab, COLL, P.HOST, False)


def one(lab, scen: str, size: int, secs: float, cpu: int) -> dict:
    where = {"vxlan-gbp": ("serv21", P.host_if(lab, "serv21")),
             "erspan-iii": (E.COLLECTOR, E.VIA_SPINE)}.get(scen)
    c0 = rx(lab, *where) if where else 0
    o0 = rx(lab, P.PEER, P.host_if(lab, P.PEER))
    k0 = ksoftirqd_ticks(cpu)
    cp = lab.exec(P.HOST, ["taskset", "-c", str(cpu), str(BLAST), P.host_if(lab, P.HOST),
                           F.HOSTS[P.HOST][0], F.HOSTS[P.PEER][0], str(secs), str(size)],
                  timeout=secs + 30)
    k1 = ksoftirqd_ticks(cpu)
    time.sleep(0.3)                          # the last copies land
    sent, blast_cpu = cp.stdout.split()
    copies = rx(lab, *where) - c0 if where else 0
    orig = rx(lab, P.PEER, P.host_if(lab, P.PEER)) - o0
    cpu_s = float(blast_cpu) + (k1 - k0) / TCK
    return {"scen": scen, "size": size, "sent": int(sent), "copies": copies, "orig": orig,
            "cpu": cpu_s, "copies_s": copies / secs, "copies_core": copies / cpu_s,
            "orig_s": orig / secs, "orig_core": orig / cpu_s}


def measure(sizes, secs, reps, cpu) -> list[dict]:
    global BLAST
    assert BLAST.exists(), f"no {BLAST}: build the dataplane bench targets"
    # a private copy: a rebuild of the tree during the run must not pull it away
    tmp = Path(tempfile.mkdtemp(prefix="evpnmon-bench-erspan-"))
    shutil.copy2(BLAST, tmp / BLAST.name)
    BLAST = tmp / BLAST.name
    try:
        return _measure(sizes, secs, reps, cpu)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(sizes, secs, reps, cpu) -> list[dict]:
    out = []
    # FRR and the consumers as operators run them, without the tests' heap checks
    with F.ready_fabric([(P.HOST, P.PEER), (P.HOST, P.SERVER), (P.PEER, P.SERVER)], [],
                        test_heap=False) as lab:
        # Every copy is sent: the mirror ceiling's packet rate (20,000 a
        # second by default) would refuse most of them and make a refusal,
        # not a copy, the thing measured. Its bit rate stays at the default.
        for n in F.LEAVES:
            if (n, "fpm-consumer") in lab.extra_argv:
                lab.extra_argv[(n, "fpm-consumer")] += ["--mirror-ceiling-packets", "off"]
                lab.restart_daemon(n, "fpm-consumer")
        F.wait_gates(lab)
        E.start_gre_sink(lab)
        P.configure(lab, P.server_lines())
        lab.wait_for(lambda: E.route_dev(lab, "vtep101") == "eth1", timeout=20,
                     what="vtep101's route to the collector")
        for r in range(reps):
            for size in sizes:
                for scen in SCENARIOS:
                    P.refresh_macs(lab)
                    configure(lab, scen)
                    try:
                        m = one(lab, scen, size, secs, cpu)
                    finally:
                        unconfigure(lab, scen)
                    log(f"rep {r + 1} {size:>5} B {scen:>10}: sent {m['sent'] / secs:.0f}/s, "
                        f"originals {m['orig_s']:.0f}/s, copies {m['copies_s']:.0f}/s, "
                        f"CPU {m['cpu']:.2f} s -> {m['copies_core']:.0f} copies and "
                        f"{m['orig_core']:.0f} originals per core-second")
                    out.append(m)
    return out


def render(res: list[dict], sizes, secs, reps, cpu) -> str:
    def med(scen, size, k):
        return statistics.median(m[k] for m in res if m["scen"] == scen and m["size"] == size)
    L = [BEGIN, "### ERSPAN III against VXLAN-GBP, end to end: copies per core", "",
         f"Measured {datetime.date.today().isoformat()} on {platform.release()}, "
         f"{len(os.sched_getaffinity(0))} CPUs shared with other work, in the reference fabric "
         f"(`bench/lab/bench_erspan.py`, {reps} repetitions of {secs:g} s per row, scenarios "
         f"interleaved, medians). `evpnmon-pktblast` in VM210's namespace, pinned to CPU "
         f"{cpu}, sends identical IPv4/UDP frames VM210 → VM220 as fast as it can; VM210 is "
         f"watched either by SERV21 (VXLAN-GBP to vtep104, decapsulated onto SERV21's port) or "
         f"by an ERSPAN III collector (GRE/ERSPAN III from vtep101 through the spine to "
         f"10.9.0.1), or not at all (baseline). The whole path runs in softirq on the sender's "
         f"CPU, so CPU time = the sender's own + that CPU's ksoftirqd, and copies per "
         f"core-second = copies received (collector eth1 / SERV21's port, interface counters) / "
         f"that CPU time. It includes, per frame: VM210's veth, vtep101's bridge and TC "
         f"program, the original's VXLAN trip to vtep102 and VM220 (same in all rows), and per "
         f"copy: the clone, the encapsulation (ERSPAN device program + FIB lookup, or the "
         f"VXLAN-GBP path), the spine's forwarding and the receiver (collector: IP input and "
         f"its raw GRE socket; SERV21: vtep104's decapsulation program and SERV21's port). "
         f"Method: see the script's header.", "",
         "| frame octets | path | copies/s | copies per core-second | originals per "
         "core-second | CPU µs per frame | of which the copy (over baseline) "
         "| copies per core-second vs VXLAN-GBP |",
         "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        gbp = med("vxlan-gbp", size, "copies_core")
        base = 1e6 / med("baseline", size, "orig_core")
        for scen in SCENARIOS:
            cc = med(scen, size, "copies_core")
            per = 1e6 / med(scen, size, "orig_core")
            L.append(f"| {size} | {scen} | {med(scen, size, 'copies_s'):.0f} | "
                     f"{cc:.0f} | {med(scen, size, 'orig_core'):.0f} | {per:.1f} | "
                     f"{'' if scen == 'baseline' else f'{per - base:.1f}'} | "
                     f"{'' if scen == 'baseline' else f'{cc / gbp:.2f}'} |")
    L += ["", "The sender loops without pause, so the path is CPU-bound whenever it runs; on "
          "this shared machine it got 50-80 % of its CPU, which is why the rates are given "
          "per core-second of the CPU time the path actually used. Each frame gives one copy, "
          "so copies and originals per core-second are the same figure; \"of which the "
          "copy\" is the CPU time per frame minus the baseline's, i.e. what one copy costs "
          "end to end. A VXLAN-GBP copy is dearer than an ERSPAN III one in this fabric: "
          "besides its own encapsulation it crosses vtep104's decapsulation program and "
          "bridge port to SERV21, while the ERSPAN copy ends at the collector's IP input.", END]
    return "\n".join(L) + "\n"


def update_doc(path: Path, text: str) -> None:
    doc = path.read_text()
    if BEGIN in doc and END in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda m: text, doc,
                     flags=re.S)
    elif "<!-- sampling:end -->" in doc:
        doc = doc.replace("<!-- sampling:end -->", "<!-- sampling:end -->\n\n" +
                          text.rstrip("\n"), 1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def from_log(path: Path) -> list[dict]:
    """The measurements of an earlier run, from its "rep ..." lines."""
    out = []
    for l in path.read_text().splitlines():
        m = re.match(r"rep \d+ +(\d+) B +(\S+): sent (\d+)/s, originals (\d+)/s, copies "
                     r"(\d+)/s, CPU ([\d.]+) s -> (\d+) copies and (\d+) originals", l)
        if m:
            size, scen = int(m[1]), m[2]
            out.append({"scen": scen, "size": size, "copies_s": float(m[5]),
                        "cpu": float(m[6]), "copies_core": float(m[7]),
                        "orig_core": float(m[8])})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--update-doc", type=Path)
    ap.add_argument("--from-log", type=Path, help="render the rep lines of an earlier run")
    a = ap.parse_args()
    t0 = time.monotonic()
    res = from_log(a.from_log) if a.from_log else measure(a.sizes, a.secs, a.reps, a.cpu)
    text = render(res, a.sizes, a.secs, a.reps, a.cpu)
    print(text)
    if a.update_doc:
        update_doc(a.update_doc, text)
        log(f"updated {a.update_doc}")
    log(f"took {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
