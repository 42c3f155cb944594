#!/usr/bin/python3
"""A large fabric under load (issue 12, goal 5): N leaves, 10,000 sessions.

  sudo flock /tmp/evpnmon-lab.lock /usr/bin/python3 bench/lab/bench_fabric_scale.py \
       [--leaves 32,24,16] [--sessions 10000] [--json OUT.json]

The fabric is docker/clab/fabric<N>/ (docker/gen_fabric.py; generated into a
temporary directory when not committed for that N), run by the netns runner
(tests/lab/clabns.py, helpers in tests/lab/genfabric.py): one spine, N
patched leaves, each with zebra + bgpd (evpn_mon) + staticd + the
fpm-consumer with the TC eBPF dataplane, one host per leaf, the monitoring
server serv21 (HOST ID 21) on the last leaf. --leaves is a list: the first N
whose run completes is reported; a failed N (bring-up, a timeout, memory) is
reported with its reason and the next one is tried.

Per run:
  1. bring-up: netns + veths + daemons, then every BGP session Established,
     every leaf's flood list complete, every consumer's gates open; serv21
     and vm101 ping each other so that every leaf knows both MACs (serv21 is
     a known server: entries are really installed, rule R1);
  2. idle, no session: CPU of every daemon over --idle seconds, memory;
  3. configuration, the fast path (docs/benchmarks.md, frr-plugin): every
     leaf's import limits raised to admit all sessions of one originator; on
     vtep101 one `vtysh -f` enters the sessions while server 21 is undefined
     (nothing is originated), then ONE command `monitor server 21 mac ...
     ip ...` makes all of them originate. Session 1 watches vm101 (MAC + IP),
     the others synthetic MACs, all watched by serv21. The clock starts with
     that command and stops, per leaf, at the consumer's first reconcile
     after which its dataplane holds every entry: 2 x sessions (entries 1
     and 2, rule R1/R2) on every leaf plus the decap entry on serv21's leaf
     (its log line, below). CPU of every daemon over the same window;
  4. idle with the sessions installed: CPU over --idle seconds, memory
     (RSS of every daemon by kind, the consumers' BPF maps = memlock of the
     maps they hold);
  5. server move under that load: vm102 pings vm101 and serv21 every 5 ms
     (vm101's traffic is mirrored at vtep101 (entry 1) and vtep102 (entry
     2)); serv21's link moves from the last leaf to the one before
     (`lab.move_link`, gratuitous ARP). Every leaf must re-point all its
     2 x sessions entries (rule R4: the action names the server's VTEP):
     they name the server, so a leaf writes the server's new target once
     (the reconcile line's "servers moved"; builds before the entries
     named their server in the consumer too logged "entries followed").
     Times from the capture in serv21's namespace: GARP -> first copy of
     vm101's traffic at the new port ("mirroring resumes"), against the
     fabric's own type-2 move (GARP -> first known-unicast VXLAN frame from
     vm102's leaf to the new VTEP, captured on its underlay port) as baseline.
     Per leaf, the consumer's log time of its last reconcile that
     changed something, once one evpnmon-ctl read per leaf has checked
     every action (the leaf the server leaves changes twice: its target
     none, then the new VTEP). Then the same move back;
  5b. host move under that load: vm102 pings vm101 every 5 ms; vm101's link
     moves from vtep101 to the middle leaf (gratuitous ARP), then back. No
     entry should change (R1/R2: entries 1 and 2 are on every VTEP of the
     VNI); the consumers' reconciles over the move are counted. Times from
     the captures against vm101's GARP: the first packet vm101 sends at its
     new port whose copy reaches serv21 ("mirroring resumes"; the packets
     sent there before it are counted), against the fabric's own type-2
     move as above; then every packet vm101 sends over one more second must
     reach serv21 exactly once;
  6. baseline in the same fabric: as many static MACs behind vm101's port
     with one `bridge -batch` (type-2 routes, the frr-plugin benchmark's
     baseline), until every leaf's zebra holds them (`show evpn vni 100
     json`, polled: cheap).
Per-leaf completion times come from the consumers' own log lines
(`reconcile: +I ~R -D =U [servers moved S]`, UTC with ms): asking 32 busy consumers for their
20,000-entry state documents took seconds per call and slowed down the very
convergence it measured. Memory is sampled before the first evpnmon-ctl read
(one read grows a consumer's heap by its state document), and again after.
Everything runs inside the lab's namespaces; the Lab context manager tears
down every process, namespace and mount even on failure or Ctrl-C, and the
script checks that no namespace of its prefix is left.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))

import fabric as F  # noqa: E402  (captures, pcap reader, RSS / BPF memlock)
from clabns import _netns_list  # noqa: E402
from genfabric import GenFabric, cpu_seconds  # noqa: E402

HOST_ID = 21
CTX = ["router bgp 65101", " address-family l2vpn evpn"]


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def synth_mac(i: int) -> str:
    return f"02:77:{(i >> 16) & 0xff:02x}:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}:01"


def meminfo() -> dict[str, int]:
    out = {}
    for l in Path("/proc/meminfo").read_text().splitlines():
        k, v = l.split(":", 1)
        out[k] = int(v.split()[0])
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


class CpuWindow:
    """CPU seconds of every fabric daemon between start() and stop()."""

    def __init__(self, gf: GenFabric, lab):
        self.gf, self.lab = gf, lab

    def snap(self):
        return {pid: (role, kind, cpu_seconds(pid)) for role, kind, pid in
                self.gf.processes(self.lab)}, time.monotonic(), machine_busy()

    def start(self):
        self.a = self.snap()
        return self

    def stop(self) -> dict:
        b = self.snap()
        (pa, ta, ma), (pb, tb, mb) = self.a, b
        by: dict[str, float] = {}
        for pid, (role, kind, c) in pb.items():
            if pid in pa and role != "host":
                k = f"{role}/{kind}"
                by[k] = by.get(k, 0.0) + c - pa[pid][2]
        wall = tb - ta
        busy = (mb[0] - ma[0]) / max(1, mb[1] - ma[1])     # share of all CPUs
        return {"wall_s": wall, "cpu_s": {k: round(v, 3) for k, v in sorted(by.items())},
                "fabric_cpu_s": round(sum(by.values()), 3),
                "machine_busy_share": round(busy, 3)}


def memory(gf: GenFabric, lab) -> dict:
    """KiB: RSS by role/kind, and the consumers' BPF maps (memlock)."""
    out: dict[str, int] = {}
    for role, kind, pid in gf.processes(lab):
        if role == "host":
            continue
        k = f"{role}/{kind}"
        out[k] = out.get(k, 0) + F.rss_kib(pid)
        if kind == "fpm-consumer":
            out["leaf/bpf-maps"] = out.get("leaf/bpf-maps", 0) + F.bpf_memlock_kib(pid)
    out["total"] = sum(v for k, v in out.items() if k != "total")
    return dict(sorted(out.items()))


def expected(gf: GenFabric, sessions: int, server_leaf: str) -> dict[str, dict[str, int]]:
    out = {}
    for leaf in gf.leaves:
        want = {"mirror-source": sessions, "mirror-dest": sessions}
        if leaf == server_leaf:
            want["decap"] = 1
        out[leaf] = want
    return out


RECONCILE_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \S+ \S+: reconcile: \+(\d+) ~(\d+) -(\d+) =(\d+)(.*)$")
FOLLOWED_RE = re.compile(r"entries followed (\d+)")  # older builds
SERVERS_RE = re.compile(r"servers moved (\d+)")


def _utc_day_start(t: float) -> float:
    return t - (t % 86400)


class ReconcileLog:
    """The consumers' own record of their passes: every reconcile that changed
    something logs `HH:MM:SS.mmm fpm-consumer info: reconcile: +I ~R -D =U`,
    with ` servers moved S` when server targets changed
    (UTC, ms) to its output file. Reading those files costs the fabric
    nothing, unlike asking each consumer for its 20,000 entries."""

    def __init__(self, gf: GenFabric, lab):
        self.files = {l: lab.node_dir(l) / "fpm-consumer.out" for l in gf.leaves}
        self.mark()

    def mark(self) -> None:
        self.off = {l: f.stat().st_size if f.exists() else 0 for l, f in self.files.items()}

    def lines(self, leaf: str, t_wall0: float) -> list[tuple[float, int, int, int, int, str]]:
        """[(wall time, +, ~, -, =, rest)] of the reconciles logged since mark()."""
        out = []
        with open(self.files[leaf], "rb") as f:
            f.seek(self.off[leaf])
            data = f.read().decode(errors="replace")
        day = _utc_day_start(t_wall0)
        for l in data.splitlines():
            m = RECONCILE_RE.match(l)
            if m:
                h, mi, se, ms, i, r, d, u = (int(x) for x in m.groups()[:8])
                t = day + h * 3600 + mi * 60 + se + ms / 1000
                if t < t_wall0 - 43200:                  # past midnight UTC
                    t += 86400
                out.append((t, i, r, d, u, m.group(9)))
        return out

    def last_changes(self, leaves, t_wall0: float) -> dict[str, float]:
        """Per leaf, the log time (s after t_wall0) of its last reconcile that
        changed something since mark(): once the entries are verified right,
        when they became right. A server's move can take a leaf through more
        than one change (the leaf it leaves: its target none, then the new
        one), which the first pass that moved the server does not tell."""
        out = {}
        for leaf in leaves:
            lines = self.lines(leaf, t_wall0)
            if lines:
                out[leaf] = lines[-1][0] - t_wall0
        return dict(sorted(out.items()))

    def wait(self, want_total: dict[str, int], need_changed: dict[str, int], t_wall0: float,
             timeout: float) -> dict:
        """Per leaf, the log time (s after t_wall0) of the first reconcile after
        which the installed set has want_total entries and at least
        need_changed entries were installed or replaced since mark()."""
        done: dict[str, float] = {}
        passes: dict[str, int] = {}
        errors: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(want_total):
            for leaf in want_total:
                if leaf in done:
                    continue
                changed = 0
                for t, i, r, d, u, rest in self.lines(leaf, t_wall0):
                    # entries that followed their server's move (one write
                    # of its target) are re-pointed too: counted by older
                    # builds; now every entry naming a moved server is
                    fm = FOLLOWED_RE.search(rest)
                    f = int(fm.group(1)) if fm else 0
                    moved = need_changed[leaf] if SERVERS_RE.search(rest) and not fm else 0
                    changed += i + r + f + moved
                    passes[leaf] = passes.get(leaf, 0) + 1
                    if "errors" in rest:
                        errors[leaf] = rest.strip()
                    if i + r + f + u == want_total[leaf] and changed >= need_changed[leaf]:
                        done[leaf] = t - t_wall0
                        break
                else:
                    passes.pop(leaf, None)
            if len(done) < len(want_total):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not converged after {timeout}s on "
                                       f"{sorted(set(want_total) - set(done))}; errors {errors}")
                time.sleep(0.2)
        return {"per_leaf_s": dict(sorted(done.items())), "reconciles_with_changes": passes,
                "errors": errors}


def verify(gf: GenFabric, lab, want: dict[str, dict[str, int]], action_to=None) -> dict:
    """One evpnmon-ctl read per leaf after the fact: the dataplane really holds
    the entries (counts by kind, and where their action goes)."""
    bad = {}
    for leaf, w in want.items():
        tgt = action_to(leaf) if action_to else None
        c = gf.entry_counts(lab, leaf, tgt)
        if c != w:
            bad[leaf] = c
    if bad:
        raise AssertionError(f"entries not as expected on {len(bad)} leaves: "
                             + ", ".join(f"{l}={c}" for l, c in list(bad.items())[:5]))
    return {"verified_leaves": len(want)}


def move_server(gf: GenFabric, lab, src: str, dst: str, outdir: Path, tag: str,
                sessions: int, timeout: float) -> dict:
    """Move serv21 src -> dst under 5 ms pings vm102 -> vm101 / serv21."""
    pinger, mon = "vm102", "vm101"
    mon_ip = gf.host_ip[mon]
    pleaf = gf.where_is(lab, pinger)
    new_ip = gf.vtep_ip[dst]
    res: dict = {"from": src, "to": dst}
    rlog = ReconcileLog(gf, lab)
    with contextlib.ExitStack() as st:
        for name, dsth in (("ping-mon", mon), ("ping-srv", gf.server)):
            lab.spawn(pinger, ["ping", "-n", "-q", "-i", "0.005", gf.host_ip[dsth]], name=name)
            st.callback(lab.kill_process, pinger, name, 3)
        time.sleep(0.5)
        cs = st.enter_context(F.Capture(lab, gf.server, "any", outdir / f"{tag}-serv.pcap",
                                        "icmp or arp"))
        cu = st.enter_context(F.Capture(lab, pleaf, "eth1", outdir / f"{tag}-underlay.pcap",
                                        "udp port 4789"))
        time.sleep(1.0)
        pre = [p for p in F.read_pcap(cs.path) if not p.outgoing and mon_ip in (p.ip_src, p.ip_dst)]
        res["copies_before_move"] = len(pre)
        if not pre:
            diag = {l: [(e["kind"], e["counters"]) for e in gf.entries(lab, l)
                        if e.get("host-ip") == mon_ip] for l in (gf.where_is(lab, mon), pleaf)}
            raise AssertionError(f"{tag}: no copy of {mon}'s traffic at serv21 before the move "
                                 f"(the mirror does not work): {diag}")
        rlog.mark()
        cpu = CpuWindow(gf, lab).start()
        t_wall = time.time()
        port = lab.move_link(gf.server, src, dst)
        res["new_port"] = port
        # mirroring resumed? (the capture file only; nothing asks the consumers)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pk = F.read_pcap(cs.path)
            tg = F._garp_ts(pk, gf.server_ip, t_wall)
            if tg is not None and F._first(pk, tg, lambda p: not p.outgoing
                                           and mon_ip in (p.ip_src, p.ip_dst)) is not None:
                break
            time.sleep(0.2)
        want = expected(gf, sessions, dst)
        tot = {l: sum(w.values()) for l, w in want.items()}
        res["repoint"] = rlog.wait(tot, {l: 2 * sessions for l in want}, t_wall, timeout)
        res["cpu_move"] = cpu.stop()
        time.sleep(0.5)
        spk, upk = cs.stop(), cu.stop()
    target = lambda leaf: f"port:{port}" if leaf == dst else new_ip  # noqa: E731
    res["verify"] = verify(gf, lab, expected(gf, sessions, dst), target)
    # Verified right: each leaf's time is its last change, not the first
    # pass that moved the server (kept as first_pass_s).
    res["repoint"]["first_pass_s"] = res["repoint"]["per_leaf_s"]
    res["repoint"]["per_leaf_s"] = rlog.last_changes(gf.leaves, t_wall)
    tg = F._garp_ts(spk, gf.server_ip, t_wall)
    if tg is None:
        raise AssertionError(f"{tag}: no gratuitous ARP of serv21 captured")
    tm = F._first(spk, tg, lambda p: not p.outgoing and mon_ip in (p.ip_src, p.ip_dst))
    tf = F.first_known_unicast(upk, tg, gf.server_mac, new_ip)
    res["garp_after_move_start_s"] = tg - t_wall
    res["mirror_resumed_s"] = None if tm is None else tm - tg
    res["fabric_type2_move_s"] = None if tf is None else tf - tg
    per = res["repoint"]["per_leaf_s"]
    res["all_leaves_repointed_after_garp_s"] = max(per.values()) - (tg - t_wall)
    res["copies_after_resume"] = 0 if tm is None else sum(
        1 for p in spk if p.ts >= tm and not p.outgoing and mon_ip in (p.ip_src, p.ip_dst))
    return res


def move_host(gf: GenFabric, lab, host: str, src: str, dst: str, outdir: Path, tag: str,
              timeout: float) -> dict:
    """Move the monitored host src -> dst under 5 ms pings vm102 -> host.

    Entries 1 and 2 are on every VTEP of the VNI before the host arrives
    (R1/R2), so no entry should change: the consumers' reconcile lines over
    the move are counted, not waited for. Times against the host's GARP
    (captured in its own namespace, one clock with the other captures):
      mirror resumed: the first packet the host sends at its new port whose
        copy reaches serv21 (entry 1 of the new leaf); the packets it sent
        there before that one are counted as not mirrored;
      fabric's type-2 move: the first known-unicast VXLAN frame to the host's
        MAC that vm102's leaf sends to the new VTEP (the same baseline as
        the server move and as docs/benchmarks.md "Lab").
    Then, over one more second, every packet the host sent at its new port
    must have exactly one copy at serv21 (missing and duplicated counted)."""
    pinger = "vm102"
    hip, hmac = gf.host_ip[host], gf.host_mac[host]
    pleaf = gf.where_is(lab, pinger)
    sleaf = gf.where_is(lab, gf.server)
    sif = lab.link_of(gf.server, sleaf).iface(gf.server)
    res: dict = {"from": src, "to": dst}
    rlog = ReconcileLog(gf, lab)
    with contextlib.ExitStack() as st:
        lab.spawn(pinger, ["ping", "-n", "-q", "-i", "0.005", hip], name="ping-host")
        st.callback(lab.kill_process, pinger, "ping-host", 3)
        time.sleep(0.5)
        ch = st.enter_context(F.Capture(lab, host, "any", outdir / f"{tag}-host.pcap",
                                        "icmp or arp"))
        cs = st.enter_context(F.Capture(lab, gf.server, sif, outdir / f"{tag}-serv.pcap",
                                        f"host {hip}"))
        cu = st.enter_context(F.Capture(lab, pleaf, "eth1", outdir / f"{tag}-underlay.pcap",
                                        "udp port 4789"))
        time.sleep(1.0)
        if not any(p.ip_src == hip for p in F.read_pcap(cs.path)):
            raise AssertionError(f"{tag}: no copy of {host}'s traffic at serv21 before the move "
                                 "(the mirror does not work)")
        rlog.mark()
        cpu = CpuWindow(gf, lab).start()
        t_wall = time.time()
        port = lab.move_link(host, src, dst)
        res["new_port"] = port

        def resumed(hpk, spk):
            tg = F._garp_ts(hpk, hip, t_wall)
            if tg is None:
                return None, None
            copies = {p.frame[14:] for p in spk}
            sent = [p for p in hpk if p.ts >= tg and p.outgoing and p.ethertype == 0x0800]
            for i, p in enumerate(sent):
                if p.frame in copies:
                    return tg, i
            return tg, None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if resumed(F.read_pcap(ch.path), F.read_pcap(cs.path))[1] is not None:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        res["cpu_move"] = cpu.stop()
        hpk, spk, upk = ch.stop(), cs.stop(), cu.stop()
    tg, gap = resumed(hpk, spk)
    if tg is None:
        raise AssertionError(f"{tag}: no gratuitous ARP of {host} captured")
    if gap is None:
        raise AssertionError(f"{tag}: no packet {host} sent at {dst} was mirrored "
                             f"within {timeout:.0f} s")
    sent = [p for p in hpk if p.ts >= tg and p.outgoing and p.ethertype == 0x0800]
    tm = sent[gap].ts
    after = sent[gap:]
    n_copies: dict[bytes, int] = {}
    for p in spk:
        if p.ts >= tg and p.ip_src == hip:
            n_copies[p.frame[14:]] = n_copies.get(p.frame[14:], 0) + 1
    tf = F.first_known_unicast(upk, tg, hmac, gf.vtep_ip[dst])
    changed = {}
    for leaf in gf.leaves:
        n = sum(i + r + d for _t, i, r, d, _u, _rest in rlog.lines(leaf, t_wall))
        if n:
            changed[leaf] = n
    res.update({
        "garp_after_move_start_s": tg - t_wall,
        "mirror_resumed_s": tm - tg,
        "fabric_type2_move_s": None if tf is None else tf - tg,
        "sent_at_new_port_before_first_mirrored": gap,
        "sent_after_resume": len(after),
        "not_mirrored_after_resume": sum(1 for p in after if p.frame not in n_copies),
        "mirrored_more_than_once": sum(1 for p in after if n_copies.get(p.frame, 0) > 1),
        "entries_changed_by_leaf": changed,
    })
    if not after or res["not_mirrored_after_resume"] or res["mirrored_more_than_once"]:
        raise AssertionError(f"{tag}: not exactly once after the move: {res}")
    if changed:
        raise AssertionError(f"{tag}: a host move changed entries (none should): {changed}")
    return res


def type2_baseline(gf: GenFabric, lab, count: int, timeout: float) -> dict:
    """`count` static MACs behind vm101's port on vtep101 with one `bridge
    -batch` (zebra learns them, bgpd advertises type-2 routes); per leaf the
    first poll of `show evpn vni 100 json` (zebra, cheap) whose numMacs has
    grown by count. The type-2 figure of bench/frr-plugin, in this fabric."""
    def nmacs(leaf):
        return int(lab.vtysh_json(leaf, "show evpn vni 100 json").get("numMacs", 0))
    # The hosts' MACs are learned and age out of the bridges (300 s) while
    # this waits, which would keep numMacs below base + count forever: a
    # day's ageing (the value is in 1/100 s) from here on, so the count
    # grows by the batch alone.
    for l in gf.leaves:
        lab.exec(l, ["ip", "link", "set", "br100", "type", "bridge", "ageing_time", "8640000"])
    base = {l: nmacs(l) for l in gf.leaves}
    batch = lab.node_dir("vtep101") / "fdb.batch"
    batch.write_text("".join(f"fdb add 02:88:{(i >> 16) & 0xff:02x}:{(i >> 8) & 0xff:02x}:"
                             f"{i & 0xff:02x}:01 dev eth2 master static\n" for i in range(count)))
    cpu = CpuWindow(gf, lab).start()
    t0 = time.monotonic()
    lab.exec("vtep101", ["bridge", "-batch", str(batch)], timeout=300)
    t_in = time.monotonic() - t0
    done, rounds, pending = {}, [], list(gf.leaves)
    deadline = time.monotonic() + timeout
    while pending:
        r0 = time.monotonic()
        for l in list(pending):
            try:
                if nmacs(l) >= base[l] + count:
                    done[l] = time.monotonic() - t0
                    pending.remove(l)
            except Exception:                        # noqa: BLE001
                pass
        rounds.append(time.monotonic() - r0)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"type-2 baseline incomplete on {pending}")
        if pending:
            time.sleep(0.1)
    return {"input_s": t_in, "per_leaf_s": done, "t_all_s": max(done.values()),
            "rounds_s": rounds, "cpu": cpu.stop()}


def run(n: int, sessions: int, idle: float, outdir: Path, timeout: float) -> dict:
    gf = GenFabric(n)
    res: dict = {"leaves": n, "sessions": sessions, "topology": str(gf.topology)}
    m0 = meminfo()
    res["machine_mem_before_kib"] = {k: m0[k] for k in ("MemTotal", "MemAvailable", "Slab")}
    prefix = f"fs{os.getpid() % 100000}"
    t0 = time.monotonic()
    lab = gf.lab(prefix=prefix)
    try:
        with lab:
            res["t_up_s"] = time.monotonic() - t0
            log(f"N={n}: lab up in {res['t_up_s']:.1f} s")
            gf.wait_bgp(lab, timeout=timeout)
            res["t_bgp_s"] = time.monotonic() - t0
            gf.wait_vteps(lab, timeout=timeout)
            res["t_flood_lists_s"] = time.monotonic() - t0
            gf.quiet_hosts(lab)
            srv_leaf = gf.where_is(lab, gf.server)
            lab.wait_for(lambda: lab.ping(gf.server, gf.host_ip["vm101"]), 60, "serv21 -> vm101")
            lab.wait_for(lambda: lab.ping("vm102", gf.host_ip["vm101"]), 60, "vm102 -> vm101")
            gf.wait_mac_everywhere(lab, gf.server_mac, timeout=timeout)
            gf.wait_gates(lab, timeout=timeout)
            res["t_ready_s"] = time.monotonic() - t0
            log(f"N={n}: BGP {res['t_bgp_s']:.1f} s, flood lists {res['t_flood_lists_s']:.1f} s, "
                f"ready (gates, serv21 known everywhere) {res['t_ready_s']:.1f} s")
            m1 = meminfo()
            res["machine_mem_up_kib"] = {k: m1[k] for k in ("MemAvailable", "Slab")}
            time.sleep(2)
            res["cpu_idle_empty"] = CpuWindow(gf, lab).start()
            time.sleep(idle)
            res["cpu_idle_empty"] = res["cpu_idle_empty"].stop()
            res["mem_empty"] = memory(gf, lab)
            log(f"N={n}: idle, no session: {res['cpu_idle_empty']['fabric_cpu_s']:.2f} CPU-s "
                f"in {idle:.0f} s; RSS+BPF {res['mem_empty']['total'] / 1024:.0f} MiB")

            # 3. configuration: sessions with the server undefined, then one command.
            # Every session comes from vtep101: the import limits' defaults
            # (4,096 per originator) would hold back the rest on every leaf.
            for leaf in gf.leaves:
                asn = re.search(r"^router bgp (\d+)", (gf.topology.parent / leaf / "frr.conf")
                                .read_text(), re.M).group(1)
                lab.vtysh(leaf, ["configure terminal", f"router bgp {asn}",
                                 "address-family l2vpn evpn",
                                 f"monitor import maximum-sessions {max(sessions, 16384)}",
                                 f"monitor import maximum-sessions per-originator "
                                 f"{max(sessions, 4096)}"])
            vtysh = [str(lab.binaries["vtep101"].vtysh), "--vty_socket", str(lab.node_dir("vtep101"))]
            hosts = [f"  monitor host vni 100 mac {gf.host_mac['vm101']} ip "
                     f"{gf.host_ip['vm101']} server {HOST_ID}"]
            hosts += [f"  monitor host vni 100 mac {synth_mac(i)} server {HOST_ID}"
                      for i in range(1, sessions)]
            pre = lab.node_dir("vtep101") / "hosts.conf"
            pre.write_text("\n".join(CTX + hosts) + "\n")
            t = time.monotonic()
            lab.exec("vtep101", vtysh + ["-f", str(pre)], timeout=900)
            res["t_enter_sessions_undefined_server_s"] = time.monotonic() - t
            time.sleep(2)
            c = gf.entry_counts(lab, "vtep102")
            if c:
                raise AssertionError(f"entries before the server was defined: {c}")
            cmd = vtysh + ["-c", "configure terminal"] + [
                a for line in CTX + [f"monitor server {HOST_ID} mac {gf.server_mac} ip "
                                     f"{gf.server_ip}"] for a in ("-c", line.strip())]
            rlog = ReconcileLog(gf, lab)
            want = expected(gf, sessions, srv_leaf)
            cpu = CpuWindow(gf, lab).start()
            t_wall = time.time()
            t0c = time.monotonic()
            lab.exec("vtep101", cmd, timeout=120)
            res["t_server_command_s"] = time.monotonic() - t0c
            tot = {l: sum(w.values()) for l, w in want.items()}
            pr = rlog.wait(tot, tot, t_wall, timeout)
            res["cpu_converge"] = cpu.stop()
            res["install"] = pr
            per = sorted(pr["per_leaf_s"].values())
            res["t_all_installed_s"] = per[-1]
            log(f"N={n}: {sessions} sessions -> all entries installed on every leaf in "
                f"{per[-1]:.2f} s (first leaf {per[0]:.2f} s, median {per[len(per) // 2]:.2f} s)"
                f"; fabric CPU {res['cpu_converge']['fabric_cpu_s']:.1f} s")

            # 4. idle with the sessions installed
            time.sleep(5)
            w = CpuWindow(gf, lab).start()
            time.sleep(idle)
            res["cpu_idle_loaded"] = w.stop()
            res["mem_loaded"] = memory(gf, lab)
            m2 = meminfo()
            res["machine_mem_loaded_kib"] = {k: m2[k] for k in ("MemAvailable", "Slab")}
            # only now ask the consumers (a 20,000-entry state document grows their heap)
            res["install_verify"] = verify(gf, lab, want)
            res["mem_after_ctl"] = memory(gf, lab)
            log(f"N={n}: idle with sessions: {res['cpu_idle_loaded']['fabric_cpu_s']:.2f} CPU-s "
                f"in {idle:.0f} s; RSS+BPF {res['mem_loaded']['total'] / 1024:.0f} MiB")

            # 5. server move under load, then back
            a, b = srv_leaf, gf.leaves[-2]
            for k, (x, y) in enumerate(((a, b), (b, a))):
                mv = move_server(gf, lab, x, y, outdir, f"mv{k + 1}", sessions, timeout)
                res.setdefault("moves", []).append(mv)
                log(f"N={n}: serv21 {x} -> {y}: mirroring resumed {mv['mirror_resumed_s']:.3f} s "
                    f"after the GARP (fabric's type-2 move {mv['fabric_type2_move_s']:.3f} s); "
                    f"every leaf re-pointed {mv['all_leaves_repointed_after_garp_s']:.2f} s "
                    f"after the GARP")
                time.sleep(3)
            res["mem_after_moves"] = memory(gf, lab)   # after 2 more reads per consumer
            # 5b. the monitored host moves under that load, then back. A
            # failed move is reported and the run goes on, with vm101 back
            # at its port on vtep101 (the type-2 baseline uses that port).
            a, b = gf.where_is(lab, "vm101"), gf.leaves[len(gf.leaves) // 2]
            try:
                for k, (x, y) in enumerate(((a, b), (b, a))):
                    mv = move_host(gf, lab, "vm101", x, y, outdir, f"hmv{k + 1}", timeout)
                    res.setdefault("host_moves", []).append(mv)
                    t2 = mv["fabric_type2_move_s"]
                    log(f"N={n}: vm101 {x} -> {y}: mirroring resumed "
                        f"{mv['mirror_resumed_s']:.3f} s after the GARP (fabric's type-2 move "
                        f"{'none seen' if t2 is None else f'{t2:.3f} s'}); "
                        f"{mv['sent_at_new_port_before_first_mirrored']} packets before the "
                        f"first mirrored, then {mv['sent_after_resume']} each mirrored once; "
                        f"no entry changed")
                    time.sleep(3)
            except Exception as e:                   # noqa: BLE001
                res["host_move_error"] = repr(e)
                log(f"N={n}: host move failed: {e!r}")
                if gf.where_is(lab, "vm101") != a:
                    lab.move_link("vm101", gf.where_is(lab, "vm101"), a, to_ifname="eth2")
            # 6. baseline in the same fabric: as many type-2 MAC routes
            try:
                res["type2_baseline"] = tb = type2_baseline(gf, lab, sessions, timeout)
            except Exception as e:                   # noqa: BLE001
                res["type2_baseline"] = {"error": repr(e)}
                log(f"N={n}: type-2 baseline failed: {e!r}")
            else:
                log(f"N={n}: baseline: {sessions} static MACs behind vm101's port -> in every leaf's "
                    f"zebra in {tb['t_all_s']:.2f} s (poll rounds up to {max(tb['rounds_s']):.2f} s)"
                    f"; fabric CPU {tb['cpu']['fabric_cpu_s']:.1f} s")
            res["ok"] = True
    finally:
        left = [ns for ns in _netns_list() if ns.startswith(prefix + "-")]
        res["netns_left"] = left
        if left:
            log(f"ERROR: namespaces left: {left}")
        if gf.topology.parent.name.startswith("evpnmon-fabric"):
            shutil.rmtree(gf.topology.parent, ignore_errors=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leaves", default="32,24,16",
                    help="leaf counts to try, in order; the first that completes is reported")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of each idle CPU window")
    ap.add_argument("--timeout", type=float, default=900.0, help="bound of every wait")
    ap.add_argument("--json", type=Path, help="write all results here")
    ap.add_argument("--all", action="store_true", help="run every N of --leaves, not only the first")
    ap.add_argument("--pcap-dir", type=Path, help="keep the captures here (default: a temporary dir)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "kernel": platform.release(), "cpus": os.cpu_count(), "runs": []}
    rc = 1
    with tempfile.TemporaryDirectory(prefix="evpnmon-fabric-bench-") as d:
        if a.pcap_dir:
            a.pcap_dir.mkdir(parents=True, exist_ok=True)
            d = str(a.pcap_dir)
        for n in (int(x) for x in a.leaves.split(",")):
            try:
                r = run(n, a.sessions, a.idle, Path(d), a.timeout)
            except BaseException as e:              # noqa: BLE001
                r = {"leaves": n, "ok": False, "error": f"{type(e).__name__}: {e}",
                     "traceback": traceback.format_exc()[-3000:]}
                log(f"N={n} FAILED: {r['error']}")
                results["runs"].append(r)
                if isinstance(e, KeyboardInterrupt):
                    break
                continue
            results["runs"].append(r)
            rc = 0
            if not a.all:
                break
    text = json.dumps(results, indent=1, default=str)
    if a.json:
        a.json.write_text(text + "\n")
        log(f"results in {a.json}")
    else:
        print(text)
    return rc


if __name__ == "__main__":
    sys.exit(main())
