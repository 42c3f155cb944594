"""Why a VXLAN-GBP copy costs a bulk flow more than its CPU in the trust
lab: the kernel's counters per run, monitored against not, and where the
copies' allocations are made.

The flow and the session are scenarios.trust's ceiling test's (VM210 ->
VM220 at full speed, session VM210 -> SERV21, vtep101 copying VM210's data
and vtep102 VM220's ACKs under a mirror ceiling), on the same fabric.

  counters      blocks of four runs (u m m u, as the test); before and
                after each run: /proc/softirqs, /proc/interrupts (IPIs),
                /proc/stat, /proc/net/softnet_stat, ksoftirqd's CPU, and
                VM210's and VM220's TCP counters (/proc/net/netstat and
                snmp in their namespaces). Prints the median of the blocks'
                throughput ratios and, per counter, the medians per GB and
                per second of each half; writes every run to a JSON file.
  allocations   one block (u m m u) with the kmem tracepoints on (the
                machine-wide kernel allocations, by call site): prints the
                call sites whose counts differ between the halves.

Where the copies go (COPY_PROBE_VARIANT):
  received      as in the test: SERV21's leaf (vtep104) receives them on its
                mirror device and hands them to SERV21
  dropped       vtep104 drops them at its underlay port's TC ingress, before
                the IP stack routes them (drop_mirror_port.bpf.c)
  blackhole     the spine drops them with `ip rule ... blackhole` (its input
                route for each copy is then an error route)

Run as root, one fabric at a time, from the repository's root:
  flock /tmp/evpnmon-lab.lock env EVPNMON_FRR_PREFIX=build/frr \\
    EVPNMON_BUILD_DIR=build COPY_PROBE_VARIANT=received \\
    /usr/bin/python3 -m pytest -q -s -p no:cacheprovider \\
    bench/lab/copy_cost_probe.py -k counters

Knobs: COPY_PROBE_BLOCKS (16), COPY_PROBE_RUN_S (1.0), COPY_PROBE_RATE
(10m), COPY_PROBE_PACKETS (250), COPY_PROBE_OUT (a JSON file). Results:
docs/benchmarks.md, "Why a copy costs the flow in this lab".
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "scenarios"))
sys.path.insert(0, str(REPO / "tests" / "lab"))

import fabric as F  # noqa: E402
import trust as T  # noqa: E402
from test_trust import bulk_flow, lab  # noqa: E402,F401

VARIANT = os.environ.get("COPY_PROBE_VARIANT", "received")
BLOCKS = int(os.environ.get("COPY_PROBE_BLOCKS", "16"))
RUN_S = float(os.environ.get("COPY_PROBE_RUN_S", "1.0"))
RATE = os.environ.get("COPY_PROBE_RATE", "10m")
PACKETS = os.environ.get("COPY_PROBE_PACKETS", "250")
OUT = Path(os.environ.get("COPY_PROBE_OUT", f"/tmp/copy-cost-{VARIANT}.json"))
MIRROR_PORT = 4790
TRACING = Path("/sys/kernel/tracing")
IPIS = {"RES", "CAL", "TLB", "LOC"}


def host_counters() -> dict[str, int]:
    c: dict[str, int] = {}
    for line in Path("/proc/softirqs").read_text().splitlines()[1:]:
        name, *per_cpu = line.split()
        c["softirq." + name.rstrip(":")] = sum(map(int, per_cpu))
    for line in Path("/proc/interrupts").read_text().splitlines()[1:]:
        f = line.split()
        if f[0].rstrip(":") in IPIS:
            c["ipi." + f[0].rstrip(":")] = sum(int(x) for x in f[1:] if x.isdigit())
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq"]
            for n, v in zip(names, line.split()[1:]):
                c["jiffies." + n] = int(v)
        elif line.startswith("ctxt "):
            c["ctxt"] = int(line.split()[1])
    for line in Path("/proc/net/softnet_stat").read_text().splitlines():
        v = [int(x, 16) for x in line.split()]
        for i, n in ((0, "processed"), (1, "dropped"), (2, "time_squeeze")):
            c["softnet." + n] = c.get("softnet." + n, 0) + v[i]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                st = (d / "stat").read_text()
                if st[st.index("(") + 1:].startswith("ksoftirqd"):
                    f = st[st.rindex(")") + 2:].split()
                    c["ksoftirqd.ticks"] = c.get("ksoftirqd.ticks", 0) + int(f[11]) + int(f[12])
    return c


def tcp_counters(lab, node: str) -> dict[str, int]:
    lines = lab.exec(node, "cat /proc/net/netstat /proc/net/snmp").stdout.splitlines()
    c = {}
    for names, values in zip(lines[0::2], lines[1::2]):
        group, *ks = names.split()
        for k, v in zip(ks, values.split()[1:]):
            with contextlib.suppress(ValueError):
                c[f"{node}.{group.rstrip(':')}{k}"] = int(v)
    return c


def snapshot(lab) -> dict[str, int]:
    return {**host_counters(), **tcp_counters(lab, "vm210"), **tcp_counters(lab, "vm220")}


@contextlib.contextmanager
def copies_go(lab):
    """The copies received, dropped before routing at SERV21's leaf, or
    blackholed at the spine, for the block of runs inside."""
    undo = []
    try:
        if VARIANT == "dropped":
            leaf = F.where_is(lab, "serv21")
            ifc = lab.link_of(leaf, "spine").iface(leaf)
            tmp = tempfile.TemporaryDirectory(prefix="copy-cost-")
            undo.append(tmp.cleanup)
            obj = Path(tmp.name) / "drop.o"
            subprocess.run(["clang", "-O2", "-g", "-target", "bpf",
                            f"-I/usr/include/{os.uname().machine}-linux-gnu", "-c",
                            str(Path(__file__).with_name("drop_mirror_port.bpf.c")), "-o",
                            str(obj)], check=True)
            # a clsact qdisc of the port's own stays; one added here goes
            if lab.exec(leaf, f"tc qdisc add dev {ifc} clsact", check=False).returncode == 0:
                undo.append(lambda: lab.exec(leaf, f"tc qdisc del dev {ifc} clsact", check=False))
            lab.exec(leaf, f"tc filter add dev {ifc} ingress pref 1 bpf da obj {obj} sec tc")
            undo.append(lambda: lab.exec(leaf, f"tc filter del dev {ifc} ingress pref 1",
                                         check=False))
        elif VARIANT == "blackhole":
            lab.exec("spine", f"ip rule add pref 5 ipproto udp dport {MIRROR_PORT} blackhole")
            undo.append(lambda: lab.exec("spine", "ip rule del pref 5", check=False))
        else:
            assert VARIANT == "received", f"unknown COPY_PROBE_VARIANT {VARIANT}"
        yield
    finally:
        for u in reversed(undo):
            with contextlib.suppress(Exception):
                u()


@contextlib.contextmanager
def flow_under_ceiling(lab):
    """The test's bulk flow and consumers under the ceiling, the copies
    going where COPY_PROBE_VARIANT says; yields the session's switch."""
    with bulk_flow(lab, ["--mirror-ceiling", RATE, "--mirror-ceiling-burst", "131072",
                         "--mirror-ceiling-packets", PACKETS,
                         "--mirror-ceiling-packet-burst", "64"]) as monitored, copies_go(lab):
        yield monitored


def summary(runs: list[dict]) -> str:
    ratios = []
    for b in range(len(runs) // 4):
        u, m1, m2, u2 = runs[4 * b:4 * b + 4]
        ratios.append((m1["bps"] + m2["bps"]) / (u["bps"] + u2["bps"]))
    out = [f"variant {VARIANT}: {len(ratios)} blocks, median of the blocks' throughput ratios "
           f"{statistics.median(ratios):.3f}",
           f"{'counter':45s} {'u per GB':>12s} {'m per GB':>12s} {'m/u':>7s} {'u per s':>11s} "
           f"{'m per s':>11s}"]
    rows = []
    for k in sorted(set().union(*(r["delta"] for r in runs))):
        def med(mon, per_gb):
            return statistics.median(
                r["delta"].get(k, 0) / (r["bps"] * r["seconds"] / 8e9 if per_gb else r["seconds"])
                for r in runs if r["monitored"] == mon)
        ug, mg = med(False, True), med(True, True)
        if ug or mg:
            rows.append((abs(mg / ug - 1) if ug else float("inf"), k, ug, mg,
                         med(False, False), med(True, False)))
    for _, k, ug, mg, us, ms in sorted(rows, reverse=True)[:40]:
        ratio = f"{mg / ug:7.3f}" if ug else "      -"
        out.append(f"{k:45s} {ug:12.1f} {mg:12.1f} {ratio} {us:11.1f} {ms:11.1f}")
    return "\n".join(out)


def test_counters(lab):
    runs = []
    with flow_under_ceiling(lab) as monitored:
        for i in range(4 * BLOCKS):
            mon = i % 4 in (1, 2)
            monitored(mon)
            before = snapshot(lab)
            r = T.bulk(lab, "vm210", "vm220", RUN_S)
            after = snapshot(lab)
            runs.append({"monitored": mon, "bps": r["bps"], "seconds": r["seconds"],
                         "delta": {k: v - before.get(k, 0) for k, v in after.items()}})
    OUT.write_text(json.dumps({"variant": VARIANT, "runs": runs}))
    print("\n" + summary(runs))


def traced_allocations(lab, secs: float) -> Counter:
    def put(p: str, v: str) -> None:
        (TRACING / p).write_text(v)
    events = ["kmem/kmem_cache_alloc", "kmem/kmalloc"]
    put("tracing_on", "0")
    put("trace", "")
    size = (TRACING / "buffer_size_kb").read_text().split()[0]
    put("buffer_size_kb", "65536")
    try:
        for e in events:
            put(f"events/{e}/enable", "1")
        put("tracing_on", "1")
        T.bulk(lab, "vm210", "vm220", secs)
    finally:
        put("tracing_on", "0")
        for e in events:
            put(f"events/{e}/enable", "0")
    sites = Counter()
    for line in (TRACING / "trace").read_text(errors="replace").splitlines():
        m = re.search(r" (kmem_cache_alloc|kmalloc): call_site=([^+\s]+)", line)
        if m:
            sites[m.group(2)] += 1
    put("trace", "")
    put("buffer_size_kb", size)   # the kernel's memory for it back
    return sites


def test_allocations(lab):
    halves = []
    with flow_under_ceiling(lab) as monitored:
        for mon in (False, True, True, False):
            monitored(mon)
            halves.append((mon, traced_allocations(lab, 0.5)))
    u = sum((c for mon, c in halves if not mon), Counter())
    m = sum((c for mon, c in halves if mon), Counter())
    print(f"\nvariant {VARIANT}: kernel allocations by call site in two 0.5 s runs each, "
          f"unmonitored against monitored")
    for site in sorted(set(u) | set(m), key=lambda s: -abs(m[s] - u[s]))[:12]:
        print(f"{site:40s} {u[site]:9d} {m[site]:9d}")
