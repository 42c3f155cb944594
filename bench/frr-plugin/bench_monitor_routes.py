#!/usr/bin/python3
"""Benchmark: propagation of N monitor sessions against N type-2 MAC routes
in the same fabric; bgpd memory per route; `show bgp l2vpn evpn monitor
[json]` at scale.

For each repetition a fresh reference fabric (docker/clab/evpn-monitor.clab.yml)
is brought up in network namespaces. Before the clock starts, the four
fpm-consumers have opened their gates (evpnmon-ctl status) and the fabric
knows the monitoring server's MAC (serv21 behind VTEP104 talks once), so a
session is active on every consumer as soon as it arrives. On VTEP101:
  * type-2 (baseline): N static MACs are added to br100 behind the host port
    with one `bridge -batch` (zebra learns them as local MACs, bgpd advertises
    them); the clock stops when every other patched leaf's zebra holds them
    (`show evpn vni 100 json` numMacs);
  * monitor: N `monitor host` lines are entered while their server is
    undefined (nothing originated), then one `monitor server` command (with
    serv21's real MAC) makes all N originate; the time at which bgpd on
    VTEP102-104 has published them to its consumer is recorded, and the
    clock stops when the consumers of VTEP102-104 have installed entries 1
    and 2 of every session (VTEP104 also its decap entry), read from
    `evpnmon-ctl --json counters` every --poll seconds;
  * monitor through the CLI (unless --no-cli): the server and N `monitor
    host` lines with one `vtysh -f`, end to end, beside the same vtysh with
    N no-op lines (the CLI's own cost).
The consumers get --dp-max-entries (room for 2N entries) when they have it.
For the propagation runs every leaf's bgpd admits N sessions (`monitor import
maximum-sessions N` and `... per-originator N`, N at least 16,384): the
default limits would hold back all but the first 4,096 of one originator.
Memory: bgpd `show memory` (sum of in-use bytes of all memory types) on
VTEP103 (a receiver) and VTEP101 (the originator), before and after, divided
by N.

Show timing (--show-sessions N, default 50,000; 0 skips it): N sessions
originated on VTEP101, the show timed on VTEP101 and VTEP103 (text and json),
then again with N type-2 MACs behind VTEP102 in every leaf's RIB. The figure
is how long the command held bgpd's main thread: the longest single run of
the show in `show thread cpu` (wall clock and CPU), i.e. of `vtysh_read`
(which runs the command and, for vtysh, writes its first slice) or of
`mon_show_slice` / `mon_show_writable` (each later slice); also the show's
whole CPU time (these functions' runtime, and `vtysh_write`'s, which sends
the output of a show built in one go) and the number of its later runs;
and the whole command: vtysh from its start to its exit, its output
written to a file on tmpfs; beside it, in the same fabric, vtysh's floor:
the same for `show version`, a command that does no work.

Results go to docs/benchmarks.md, a block of their own (frr-plugin-generated)
at the end of the file, unless --no-doc.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
from clabns import Lab  # noqa: E402

TOPOLOGY = REPO / "docker" / "clab" / "evpn-monitor.clab.yml"
RECEIVERS = ["vtep102", "vtep103", "vtep104"]


def mac(i: int, kind: int) -> str:
    return f"02:{kind:02x}:{(i >> 16) & 0xff:02x}:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}:01"


def bgpd_mem(lab: Lab, node: str) -> int:
    """In-use bytes of all of bgpd's memory types (`show memory`)."""
    out = lab.vtysh(node, "show memory", daemon="bgpd")
    total = 0
    for line in out.splitlines():
        m = re.match(r"^(.+?):\s+(\d+)\s+(\S+)\s+(\d+)", line)
        if m and m.group(1).strip() not in ("Total heap allocated", "Holding block headers",
                                            "Used small blocks", "Used ordinary blocks",
                                            "Free small blocks", "Free ordinary blocks",
                                            "Ordinary blocks", "Small blocks"):
            # columns: name, count, size (or 'variable'), total bytes
            total += int(m.group(4))
    return total


def num_macs(lab: Lab, node: str) -> int:
    return lab.vtysh_json(node, "show evpn vni 100 json").get("numMacs", 0)


def feed_sessions(lab: Lab, node: str) -> int:
    return lab.vtysh_json(node, "show bgp l2vpn evpn monitor feed json").get("sessions", 0)


def wait_all(lab: Lab, fn, target: dict[str, int], timeout: float,
             interval: float = 0.02) -> float:
    t_end = time.monotonic() + timeout
    pending = dict(target)
    while pending:
        for n in list(pending):
            if fn(lab, n) >= pending[n]:
                del pending[n]
        if not pending:
            break
        if time.monotonic() > t_end:
            raise RuntimeError(f"timeout; still pending {pending}")
        time.sleep(interval)
    return time.monotonic()


DP_MAX_ENTRIES = 0  # set by main(): --dp-max-entries for the consumers (0: their default)


def fabric(frr: str) -> Lab:
    lab = Lab(TOPOLOGY, frr_prefix=frr, stock_ok=False)
    if DP_MAX_ENTRIES:
        for nd in lab.topology.nodes.values():
            if "EVPNMON_CONSUMER_ARGS" in nd.env:
                nd.env["EVPNMON_CONSUMER_ARGS"] += f" --dp-max-entries {DP_MAX_ENTRIES}"
    return lab


SESSION_LIMIT = 0  # set by main(): sessions every leaf admits (0: the defaults)


def settle(lab: Lab) -> None:
    lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                 timeout=90, what="BGP sessions")
    # The import limits (defaults 16,384 per VTEP, 4,096 per originator)
    # would hold back all but the first sessions of one originator: room
    # for every session the run creates, on every leaf.
    if SESSION_LIMIT:
        for node in CONSUMERS:
            asn = re.search(r"^router bgp (\d+)", (TOPOLOGY.parent / node / "frr.conf").read_text(),
                            re.M).group(1)
            lab.vtysh(node, ["configure terminal", f"router bgp {asn}", "address-family l2vpn evpn",
                f"monitor import maximum-sessions {SESSION_LIMIT}",
                f"monitor import maximum-sessions per-originator {SESSION_LIMIT}"])
    time.sleep(2)


def run_type2(frr: str, n: int) -> dict:
    with fabric(frr) as lab:
        settle(lab)
        ready(lab)  # the same starting point as the monitor run
        base = {r: num_macs(lab, r) for r in RECEIVERS}
        mem0 = {x: bgpd_mem(lab, x) for x in ("vtep101", "vtep103")}
        batch = lab.node_dir("vtep101") / "fdb.batch"
        batch.write_text("".join(f"fdb add {mac(i, 1)} dev eth2 master static\n" for i in range(n)))
        t0 = time.monotonic()
        lab.exec("vtep101", ["bridge", "-batch", str(batch)], timeout=900)
        t_in = time.monotonic()
        t1 = wait_all(lab, num_macs, {r: base[r] + n for r in RECEIVERS}, timeout=1800)
        time.sleep(1)
        mem1 = {x: bgpd_mem(lab, x) for x in ("vtep101", "vtep103")}
        return {"seconds": t1 - t0, "input_seconds": t_in - t0, "propagation_seconds": t1 - t_in,
                "bytes_per_route_receiver": (mem1["vtep103"] - mem0["vtep103"]) / n,
                "bytes_per_route_originator": (mem1["vtep101"] - mem0["vtep101"]) / n}


def _vtysh(lab: Lab) -> list[str]:
    return [str(lab.binaries["vtep101"].vtysh), "--vty_socket", str(lab.node_dir("vtep101"))]


# The monitoring server is serv21 (behind VTEP104), defined with its real MAC:
# once the fabric has learnt that MAC, every session is active on every
# consumer and its entries are installed.
SERVER_MAC, SERVER_IP = "02:00:00:00:00:21", "192.168.100.21"
SERVER_LINE = f"  monitor server 21 mac {SERVER_MAC} ip {SERVER_IP}"
CTX = ["router bgp 65101", " address-family l2vpn evpn"]
CONSUMERS = ["vtep101", "vtep102", "vtep103", "vtep104"]
CTL = Path(os.environ.get("EVPNMON_BUILD_DIR") or REPO / "build") / "fpm-consumer" / "evpnmon-ctl"


def host_lines(n: int) -> list[str]:
    return [f"  monitor host vni 100 mac {mac(i, 2)} server 21" for i in range(n)]


def ctl(lab: Lab, node: str, what: str) -> dict:
    """The consumer's state (evpnmon-ctl --json WHAT). For `counters` and
    `status` the consumer computes no per-session view and lists no entry,
    so polling them does not slow a consumer that holds 100k sessions."""
    sock = lab.node_dir(node) / "fpm-consumer.sock"
    cp = lab.exec(node, [str(CTL), "-s", str(sock), "--json", what], timeout=120)
    return json.loads(cp.stdout)["evpn-monitor:fpm-consumer"]


def consumer_counters(lab: Lab, node: str) -> dict[str, int]:
    c = ctl(lab, node, "counters").get("counters", {}).get("counter", [])
    return {x["name"]: int(x["value"]) for x in c}


def installed(lab: Lab, node: str) -> int:
    """Dataplane entries the consumer has installed (and not removed)."""
    c = consumer_counters(lab, node)
    return c.get("entries-installed", 0) - c.get("entries-removed", 0)


def ready(lab: Lab) -> float:
    """The consumers' inputs have delivered their first full picture (gates
    open) and the fabric knows the server's MAC (serv21 talks once): from
    here a session is active as soon as it arrives. Returns the wait."""
    t0 = time.monotonic()
    lab.exec("serv21", "ping -c 2 -i 0.2 -W 1 192.168.100.210", check=False)
    lab.wait_for(lambda: all(SERVER_MAC in lab.vtysh(n, "show evpn mac vni 100")
                             for n in CONSUMERS), timeout=60, what="server MAC learnt")
    lab.wait_for(lambda: all((g := ctl(lab, n, "status").get("gates")) and all(g.values())
                             for n in CONSUMERS), timeout=60, what="consumer gates open",
                 interval=0.25)
    return time.monotonic() - t0


def run_monitor(frr: str, n: int, poll: float) -> dict:
    """Headline: N sessions configured while their server is undefined
    (state server-undefined: nothing originated), then ONE command
    (`monitor server 21 ...`) makes all N originate: one command enters N
    routes, as `bridge -batch` does for the type-2 baseline. The consumers
    are ready and the server reachable, so every receiving consumer installs
    entries 1 and 2 of every session: the clock stops when VTEP102-104 have
    them all (bgpd's publication to the consumer is recorded on the way)."""
    with fabric(frr) as lab:
        settle(lab)
        ready(lab)
        mem0 = {x: bgpd_mem(lab, x) for x in ("vtep101", "vtep103")}
        pre = lab.node_dir("vtep101") / "hosts.conf"
        pre.write_text("\n".join(CTX + host_lines(n)) + "\n")
        lab.exec("vtep101", _vtysh(lab) + ["-f", str(pre)], timeout=1800)
        time.sleep(1)
        assert all(feed_sessions(lab, r) == 0 for r in RECEIVERS), "originated without a server"
        base = {r: installed(lab, r) for r in RECEIVERS}
        cmd = _vtysh(lab) + ["-c", "configure terminal"] + [
            a for line in CTX + [SERVER_LINE] for a in ("-c", line.strip())]
        t0 = time.monotonic()
        lab.exec("vtep101", cmd, timeout=120)
        t_in = time.monotonic()
        t_feed = wait_all(lab, feed_sessions, {r: n for r in RECEIVERS}, timeout=1800)
        # entries 1 and 2 of every session on every receiver, and the
        # server's leaf its decap entry (entry 3)
        want = {r: base[r] + 2 * n + (1 if r == "vtep104" else 0) for r in RECEIVERS}
        t1 = wait_all(lab, installed, want, timeout=1800, interval=poll)
        time.sleep(1)
        mem1 = {x: bgpd_mem(lab, x) for x in ("vtep101", "vtep103")}
        errs = {r: consumer_counters(lab, r).get("dataplane-errors", 0) for r in RECEIVERS}
        return {"seconds": t1 - t0, "input_seconds": t_in - t0, "published_seconds": t_feed - t0,
                "dataplane_errors": errs,
                "bytes_per_route_receiver": (mem1["vtep103"] - mem0["vtep103"]) / n,
                "bytes_per_route_originator": (mem1["vtep101"] - mem0["vtep101"]) / n}


def run_monitor_cli(frr: str, n: int) -> dict:
    """The other way in: N `monitor host` lines (and the server) with one
    `vtysh -f`, end to end; and the CLI's own cost, the same vtysh with N
    lines that change nothing (the `monitor server` line repeated)."""
    with fabric(frr) as lab:
        settle(lab)
        noop = lab.node_dir("vtep101") / "noop.conf"
        noop.write_text("\n".join(CTX + [SERVER_LINE] * n) + "\n")
        t = time.monotonic()
        lab.exec("vtep101", _vtysh(lab) + ["-f", str(noop)], timeout=600)
        floor = time.monotonic() - t
        time.sleep(1)
        conf = lab.node_dir("vtep101") / "monitor.conf"
        conf.write_text("\n".join(CTX + [SERVER_LINE] + host_lines(n)) + "\n")
        t0 = time.monotonic()
        lab.exec("vtep101", _vtysh(lab) + ["-f", str(conf)], timeout=600)
        t_cfg = time.monotonic()
        t1 = wait_all(lab, feed_sessions, {r: n for r in RECEIVERS}, timeout=600)
        return {"seconds": t1 - t0, "input_seconds": t_cfg - t0,
                "after_input_seconds": t1 - t_cfg, "cli_noop_seconds": floor}


# ---------------------------------------------------------------------------
# show bgp l2vpn evpn monitor [json] at scale
# ---------------------------------------------------------------------------

SHOW_NODES = {"vtep101": "originator", "vtep103": "receiver"}


SHOW_FNS = ("vtysh_read", "mon_show_slice", "mon_show_writable")


def _main_thread_max_ms(lab: Lab, node: str) -> tuple[float, float, float, int]:
    """The show's runs on bgpd's main pthread since the last `clear thread
    cpu`: (longest run's wall clock, longest run's CPU, total CPU) in ms, and
    the number of its later runs. A vty command runs inside one vtysh_read;
    a show sent to vtysh in slices runs its later slices as mon_show_slice
    events or mon_show_writable (the socket writable again), so the longest
    of these is how long the show held the event loop at once. The CPU figures leave out the time other processes had
    the core."""
    out = lab.vtysh(node, "show thread cpu", daemon="bgpd")
    wall = cpu = total = 0.0
    slices = 0
    main = False
    for line in out.splitlines():
        if line.startswith("Showing statistics for pthread"):
            main = "default" in line  # the main pthread's name
            continue
        tok = line.split()
        if main and tok and tok[-1] == "vtysh_write" and len(tok) >= 9:
            # a show built in one go leaves its output to these writes
            total += float(tok[1])
        if main and tok and tok[-1] in SHOW_FNS and len(tok) >= 9:
            total += float(tok[1])
            cpu = max(cpu, int(tok[4]) / 1000.0)
            wall = max(wall, int(tok[6]) / 1000.0)
            if tok[-1] != "vtysh_read":
                slices += int(tok[2])
    return wall, cpu, total, slices


def vtysh_whole(lab: Lab, node: str, cmd: str, timeout: float = 300) -> tuple[float, float, int]:
    """The whole command as an operator runs it: one vtysh process from its
    start to its exit, its output written to a file on tmpfs (as `> file`
    would). Returns vtysh's wall time (s), its own CPU (user + system, s)
    and the output's size. The bench does not read the output through a
    pipe: Python reading (and decoding) tens of MB took longer than vtysh
    itself (14 MB from a daemon that sends at once: vtysh 0.04-0.05 s, read
    by subprocess.run 0.12 s as bytes, 0.22 s as text)."""
    bins = lab.binaries[node]
    argv = [str(bins.vtysh), "--vty_socket", str(lab.node_dir(node)), "-d", "bgpd", "-c", cmd]
    out = Path("/dev/shm") / f"evpnmon-bench-show-{os.getpid()}.out"
    pid = 0
    try:
        t = time.monotonic()
        pid = os.posix_spawn(argv[0], argv, {**os.environ, **bins.env}, file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, str(out), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)])
        while True:
            done, status, ru = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - t > timeout:
                raise RuntimeError(f"{node}: vtysh -c {cmd!r} still running after {timeout} s")
            time.sleep(0.001)
        wall = time.monotonic() - t
        pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{node}: vtysh -c {cmd!r} failed: {status}")
        return wall, ru.ru_utime + ru.ru_stime, out.stat().st_size
    finally:
        if pid:   # not reaped: a timeout or an interruption
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        out.unlink(missing_ok=True)


def time_show(lab: Lab, node: str, cmd: str, reps: int) -> dict:
    """Per repetition: the show's hold of bgpd's main thread (wall clock and
    CPU), its whole CPU in bgpd, and the whole command: vtysh's wall time
    from its start to its exit (the output's transfer included) and its own
    CPU (vtysh_whole)."""
    holds, cpus, totals, slices, walls, vcpus, size = [], [], [], [], [], [], 0
    # whether the shows read the VNI tables whole again (the journal's
    # counters; a first show's own reading is not counted)
    journal = lambda: json.loads(lab.vtysh(node, "show bgp l2vpn evpn monitor feed json",  # noqa: E731
                                           daemon="bgpd"))
    j0 = journal()
    for _ in range(reps):
        lab.vtysh(node, "clear thread cpu", daemon="bgpd")
        wall, vcpu, size = vtysh_whole(lab, node, cmd)
        walls.append(wall)
        vcpus.append(vcpu)
        hold, cpu, total, n = _main_thread_max_ms(lab, node)
        holds.append(hold)
        cpus.append(cpu)
        totals.append(total)
        slices.append(n)
    return {"hold_ms": statistics.median(holds), "cpu_ms": statistics.median(cpus),
            "hold_all": holds, "cpu_all": cpus,
            "show_cpu_ms": statistics.median(totals), "show_cpu_all": totals,
            "slices": statistics.median(slices),
            "wall_s": statistics.median(walls), "wall_all": walls,
            "vtysh_cpu_s": statistics.median(vcpus), "vtysh_cpu_all": vcpus, "bytes": size,
            **{k: journal().get(k, 0) - j0.get(k, 0) for k in ("journalRereads", "journalNotHeld")}}


IMPORTS_TABLE = re.compile(r"^EVPN monitor imports table\s*:\s*(\d+)", re.M)


def wait_imports_let_go(lab: Lab, node: str, timeout: float = 60) -> float:
    """Waits until bgpd no longer keeps the show's imports table (let go
    30 s after the last show; a build without it has none). Returns the
    seconds waited."""
    t = time.monotonic()
    while True:
        m = IMPORTS_TABLE.search(lab.vtysh(node, "show memory", daemon="bgpd"))
        if not m or int(m.group(1)) == 0:
            return time.monotonic() - t
        if time.monotonic() - t > timeout:
            raise RuntimeError(f"{node}: the imports table still kept after {timeout} s")
        time.sleep(0.5)


def run_show(frr: str, n: int, n_type2: int, reps: int, churn: int = 0) -> dict:
    """N sessions originated on VTEP101 (server 21 defined), shows timed on
    the originator and on a receiver; then N_TYPE2 type-2 MACs behind
    VTEP102 and the same shows again (the type-2 routes are in every
    leaf's EVPN RIB: the shows must not depend on them). With CHURN, the
    receiver's json show once more while VTEP101 configures CHURN more
    sessions (one `vtysh -f` in the background): the routes arrive at the
    receiver while its show is sent, so its VNI table changes between
    slices."""
    res: dict = {}
    with fabric(frr) as lab:
        settle(lab)
        conf = lab.node_dir("vtep101") / "monitor.conf"
        conf.write_text("\n".join(CTX + [SERVER_LINE] + host_lines(n)) + "\n")
        lab.exec("vtep101", _vtysh(lab) + ["-f", str(conf)], timeout=1200)
        wait_all(lab, feed_sessions, {"vtep101": n, "vtep103": n}, timeout=900)
        # vtysh's own floor, in the same fabric: a command that does no
        # work (vtysh's start, its connection, its exit)
        for node, role in SHOW_NODES.items():
            walls = [vtysh_whole(lab, node, "show version")[0] for _ in range(max(reps, 3))]
            res[f"{role}/floor"] = {"wall_s": statistics.median(walls), "wall_all": walls}
            print(f"floor {role}: {json.dumps(res[f'{role}/floor'])}", flush=True)
        for t2 in (0, n_type2):
            if t2:
                base = {x: num_macs(lab, x) for x in SHOW_NODES}
                batch = lab.node_dir("vtep102") / "fdb.batch"
                batch.write_text("".join(f"fdb add {mac(i, 1)} dev eth2 master static\n"
                                         for i in range(t2)))
                lab.exec("vtep102", ["bridge", "-batch", str(batch)], timeout=300)
                wait_all(lab, num_macs, {x: base[x] + t2 for x in SHOW_NODES}, timeout=900)
                time.sleep(2)
            for node, role in SHOW_NODES.items():
                # the first show after the imports table was let go reads
                # the VNI tables whole; the shows after it keep it
                waited = wait_imports_let_go(lab, node)
                r = time_show(lab, node, "show bgp l2vpn evpn monitor json", 1)
                r["waited_s"] = waited
                res[f"{role}/json-first/type2={t2}"] = r
                print(f"show {role} json-first type2={t2}: {json.dumps(r)}", flush=True)
                for form in ("text", "json"):
                    cmd = "show bgp l2vpn evpn monitor" + (" json" if form == "json" else "")
                    r = time_show(lab, node, cmd, reps)
                    res[f"{role}/{form}/type2={t2}"] = r
                    print(f"show {role} {form} type2={t2}: {json.dumps(r)}", flush=True)
        if churn:
            import subprocess
            conf = lab.node_dir("vtep101") / "churn.conf"
            conf.write_text("\n".join(CTX + [SERVER_LINE] + [
                f"  monitor host vni 100 mac {mac(n + i, 2)} server 21" for i in range(churn)]) + "\n")
            before = feed_sessions(lab, "vtep103")
            proc = subprocess.Popen(["ip", "netns", "exec", lab.netns("vtep101"), *_vtysh(lab),
                                     "-f", str(conf)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # the first routes are on their way before the shows start
                wait_all(lab, feed_sessions, {"vtep103": before + 1}, timeout=300)
                r = time_show(lab, "vtep103", "show bgp l2vpn evpn monitor json", reps)
                r["sessions_arrived_during"] = feed_sessions(lab, "vtep103") - before
            finally:
                proc.wait(timeout=1200)
            res["receiver/json/churn"] = r
            print(f"show receiver json churn={churn}: {json.dumps(r)}", flush=True)
    return res


def write_doc(text: str) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    cur = doc.read_text() if doc.exists() else "# Benchmarks\n"
    # Its own block: the section around it (frr-plugin:begin/end) is
    # written by hand, runs compared in turns, and a run must not replace it.
    begin, end = "<!-- frr-plugin-generated:begin -->", "<!-- frr-plugin-generated:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in cur:
        cur = cur[:cur.index(begin)] + block + cur[cur.index(end) + len(end):]
    else:
        cur = cur.rstrip() + "\n\n" + block + "\n"
    doc.write_text(cur)


def consumer_supports(option: str) -> bool:
    b = next((REPO / c for c in ("build/fpm-consumer/fpm-consumer",) if (REPO / c).exists()), None)
    if b is None:
        return False
    import subprocess
    return option in subprocess.run([str(b), "--help"], capture_output=True, text=True).stdout


def show_table(show: dict, n: int, n_type2: int) -> str:
    rows = []
    for role in ("originator", "receiver"):
        for form in ("text", "json"):
            a, b = show[f"{role}/{form}/type2=0"], show[f"{role}/{form}/type2={n_type2}"]
            floor = show.get(f"{role}/floor", {}).get("wall_s", 0)
            rows.append(f"| {role}, {form} | {a['hold_ms']:.0f} ms ({a['cpu_ms']:.0f} ms CPU) | "
                        f"{b['hold_ms']:.0f} ms ({b['cpu_ms']:.0f} ms CPU) | "
                        f"{a.get('show_cpu_ms', 0):.0f} ms, {a.get('slices', 0):.0f} runs | "
                        f"{1000 * a['wall_s']:.0f} ms ({1000 * a.get('vtysh_cpu_s', 0):.0f} ms CPU) | "
                        f"{1000 * b['wall_s']:.0f} ms | {1000 * floor:.0f} ms | {a['bytes'] / 1e6:.1f} MB |")
        a, b = show.get(f"{role}/json-first/type2=0"), show.get(f"{role}/json-first/type2={n_type2}")
        if a and b:
            rows.append(f"| {role}, json, first show | {a['hold_ms']:.0f} ms ({a['cpu_ms']:.0f} ms CPU) | "
                        f"{b['hold_ms']:.0f} ms ({b['cpu_ms']:.0f} ms CPU) | "
                        f"{a.get('show_cpu_ms', 0):.0f} ms, {a.get('slices', 0):.0f} runs | "
                        f"{1000 * a['wall_s']:.0f} ms ({1000 * a.get('vtysh_cpu_s', 0):.0f} ms CPU) | "
                        f"{1000 * b['wall_s']:.0f} ms | | |")
    return "\n".join(rows)


def main() -> int:
    global DP_MAX_ENTRIES, SESSION_LIMIT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10000, help="sessions and type-2 MACs per propagation run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--poll", type=float, default=0.0,
                    help="seconds between reads of the consumers' counters (default: 0.25)")
    ap.add_argument("--dp-max-entries", type=int, default=-1,
                    help="consumers' --dp-max-entries (default: room for 2N+ entries when supported)")
    ap.add_argument("--no-cli", action="store_true", help="skip the `vtysh -f` run")
    ap.add_argument("--show-sessions", type=int, default=50000,
                    help="sessions for the show timing (0: skip it); as many type-2 MACs")
    ap.add_argument("--show-reps", type=int, default=3)
    ap.add_argument("--show-churn", type=int, default=0,
                    help="then the receiver's json show while the originator configures this many more sessions")
    ap.add_argument("--show-only", action="store_true", help="only the show timing")
    ap.add_argument("--json-out", help="write all results as JSON to this file")
    ap.add_argument("--frr-prefix", default=os.environ.get("EVPNMON_FRR_PREFIX", str(REPO / "build" / "frr")))
    ap.add_argument("--no-doc", action="store_true")
    a = ap.parse_args()
    poll = a.poll or 0.25
    if a.dp_max_entries >= 0:
        DP_MAX_ENTRIES = a.dp_max_entries
    elif consumer_supports("--dp-max-entries"):
        DP_MAX_ENTRIES = max(262144, 2 * a.n + 4096)
    results: dict = {"n": a.n, "reps": a.reps, "poll": poll, "dp_max_entries": DP_MAX_ENTRIES}

    show = None
    if a.show_sessions:
        show = run_show(a.frr_prefix, a.show_sessions, a.show_sessions, a.show_reps,
                        a.show_churn)
        results["show"] = show
    # The propagation runs: every leaf admits all N sessions (the show
    # above lists routes, whatever their import decision).
    SESSION_LIMIT = max(a.n, 16384)
    if a.show_only:
        print(json.dumps(results, indent=1))
        if a.json_out:
            Path(a.json_out).write_text(json.dumps(results, indent=1))
        return 0

    t2, mon, cli = [], [], []
    fns = {"type2": (lambda f, n: run_type2(f, n), t2),
           "monitor": (lambda f, n: run_monitor(f, n, poll), mon),
           "cli": (lambda f, n: run_monitor_cli(f, n), cli)}
    for rep in range(a.reps):
        # alternate the order so that warm caches favour none
        order = ["type2", "monitor"] + ([] if a.no_cli else ["cli"])
        for kind in (order if rep % 2 == 0 else order[::-1]):
            fn, out = fns[kind]
            r = fn(a.frr_prefix, a.n)
            out.append(r)
            print(f"rep {rep} {kind}: {json.dumps(r)}", flush=True)
    results.update(type2=t2, monitor=mon, cli=cli)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(results, indent=1))

    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    runs = lambda rs, k: ", ".join(f"{r[k]:.2f}" for r in rs)  # noqa: E731
    ratio = med(mon, "seconds") / med(t2, "seconds")
    text = f"""## frr-plugin: monitor-config route propagation and bgpd memory

`bench/frr-plugin/bench_monitor_routes.py -n {a.n} --reps {a.reps}` on this machine
(2 cores), reference fabric in network namespaces, a fresh fabric per
measurement, order alternated, medians of {a.reps}. Before the clock starts the
four fpm-consumers have opened their gates and the fabric knows the
monitoring server's MAC (serv21 behind VTEP104), so every session is active on
arrival. The clock starts when one command on VTEP101 enters N routes:

* type-2 (baseline): N static MACs behind a host port with one `bridge -batch`;
  stops when zebra on VTEP102, 103 and 104 holds them;
* monitor: N `monitor host ... server 21` lines entered beforehand while
  server 21 was undefined (nothing originated, checked), then one `monitor
  server 21 mac ... ip ...` command; stops when the consumers of VTEP102, 103
  and 104 have installed entries 1 and 2 of every session (and VTEP104 its
  decap entry), read from `evpnmon-ctl --json counters` every {poll} s.

| N = {a.n} | median | all runs | bgpd published to the consumers | the command itself |
|---|---|---|---|---|
| type-2 MAC routes (baseline) | {med(t2, 'seconds'):.2f} s | {runs(t2, 'seconds')} | | {med(t2, 'input_seconds'):.2f} s |
| monitor sessions, entries installed | {med(mon, 'seconds'):.2f} s | {runs(mon, 'seconds')} | {med(mon, 'published_seconds'):.2f} s | {med(mon, 'input_seconds'):.2f} s |
| **ratio monitor / type-2** | **{ratio:.2f}** (target ≤ 1.0) | | | |

bgpd memory (`show memory`, in-use bytes of all memory types), per route:

| | receiver (VTEP103) | originator (VTEP101) |
|---|---|---|
| type-2 route | {med(t2, 'bytes_per_route_receiver'):.0f} B | {med(t2, 'bytes_per_route_originator'):.0f} B |
| monitor route | {med(mon, 'bytes_per_route_receiver'):.0f} B | {med(mon, 'bytes_per_route_originator'):.0f} B |
"""
    if cli:
        text += f"""
Through the CLI: one `vtysh -f` with the server and N `monitor host` lines
takes {med(cli, 'seconds'):.2f} s until the last session is published on VTEP102-104
(runs: {runs(cli, 'seconds')}), of which vtysh itself {med(cli, 'input_seconds'):.2f} s; the same
`vtysh -f` with N lines that change nothing takes {med(cli, 'cli_noop_seconds'):.2f} s.
"""
    if show:
        n = a.show_sessions
        text += f"""
`show bgp l2vpn evpn monitor [json]` with {n} sessions (originated on VTEP101),
without and with {n} type-2 MACs (behind VTEP102) in every leaf's EVPN RIB;
hold = the longest single run of the show on bgpd's main thread
(`vtysh_read`, `mon_show_slice` or `mon_show_writable` in `show thread
cpu`, wall clock), medians of {a.show_reps}; show CPU = the runtime of these
and of `vtysh_write`, with the number of the show's runs after the first
(0 type-2); whole command = vtysh from its start to
its exit, its output written to a file on tmpfs, and vtysh's own CPU;
vtysh's floor = the same for `show version` on that node (medians). The
shows of a form come one after the other, so they find the imports table
that bgpd keeps for 30 s after a show; "first show" is one json show
after bgpd let it go, which reads the VNI tables whole (one run each):

| node, form | hold, 0 type-2 | hold, {n} type-2 | show CPU | whole command, 0 type-2 | whole command, {n} type-2 | vtysh's floor | output |
|---|---|---|---|---|---|---|---|
{show_table(show, n, n)}
"""
    print(text)
    if not a.no_doc:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
