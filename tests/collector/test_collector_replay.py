"""evpnmon-collector against a replayed ERSPAN III stream with known gaps, in
two network namespaces joined by a veth (no fabric): the only way to make
copies go missing on purpose.

evpnmon-erspan-replay (bench/collector) sends 4 sources' copies (10.0.0.101
..104, span id 7, each source its own GRE sequence space; every 100th copy
of a source is followed by a skipped sequence number, so each source loses
9 of its 1000 copies "on the way") and writes what it sent to a pcap: the
oracle. (tcpdump at the collector's interface is no oracle here: at 20000
copies/s in bursts it lost copies without counting them as dropped.)

  test_losses_times_and_records[raw|ring]
      (the raw GRE socket, and the TPACKET_V3 ring when the build has
      --erspan-ring) files: capinfos and tshark open each; one IDB per source; each copy
      the oracle saw once, byte for byte, at its ERSPAN III time to the ns;
      epb_dropcount 1 on exactly the copies after a gap; ISBs with
      isb_ifdrop 9 per source; SessionStats / metrics: 36 losses, the last
      sequence number per source as sent; one HANDSHAKE record per replayed
      connection (ESTABLISHED) and one CLOSE record (FIN: each replayed
      connection ends with a FIN each way); SIGTERM: exit 0.
  test_restart_never_overwrites
      a second collector on the same directory: the files of the first
      stay byte for byte, the new ones are added next to them.
  test_vxlan_input
      input 2, VXLAN-GBP on a UDP port (copies built with scapy): sessions
      by (VNI, Group Policy ID), one IDB per source VTEP, receive times,
      handshake records with the VNI.
  test_disk_full
      a real ENOSPC (a 512 KiB tmpfs in a private mount namespace): writing
      stops, gauge and log say so, records go on, the files so far are
      readable; writing resumes after space is freed.

Run as root:
  flock /tmp/evpnmon-lab.lock env EVPNMON_BUILD_DIR=build EVPNMON_NO_SKIP=1 \\
    /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/collector/test_collector_replay.py
"""
from __future__ import annotations

import hashlib
import re
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scenarios"))

import collector_lab as C  # noqa: E402
import erspan as E  # noqa: E402
import fabric as F  # noqa: E402

SOURCES, PER_SOURCE, GAP_EVERY, SPAN = 4, 1000, 100, 7
PUB, METRICS = "tcp://127.0.0.1:9540", "127.0.0.1:9541"
LOSSES_PER_SOURCE = (PER_SOURCE - 1) // GAP_EVERY


@pytest.fixture(scope="module")
def pair():
    import os
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    for b in (C.COLLECTOR_BIN, C.REPLAY_BIN):
        assert b.exists(), f"not built: {b}"
    with C.VethPair("evpnmon-crep") as p:
        yield p


# the ERSPAN inputs of this build: the raw GRE socket, and the TPACKET_V3
# ring on the receiving interface when the build has it
ERSPAN_INPUTS = {"raw": ["--erspan"]}
if "--erspan-ring" in C.run_options():
    ERSPAN_INPUTS["ring"] = ["--erspan-ring", "crx"]


def run_collector(pair, outdir: Path, cdir: Path, tag: str, erspan=("--erspan",)):
    c = C.CollectorProc(pair.prefix("rx"), [*erspan, "--dir", str(cdir), "--session",
                                            f"rep=span:{SPAN}", "--publish", PUB,
                                            "--report-interval", "200"],
                        outdir / f"{tag}-collector.log", metrics=METRICS)
    try:
        line = c.wait_ready()
        assert "erspan" in line.split("inputs", 1)[1], f"start-up line: {line}"
        w = C.Watch(pair.prefix("rx"), PUB, outdir / f"{tag}-watch.jsonl")
        w.wait_connected()
    except BaseException:
        c.stop()
        raise
    return c, w


@pytest.mark.parametrize("erspan_input", list(ERSPAN_INPUTS))
def test_losses_times_and_records(pair, outdir, erspan_input):
    cdir = outdir / f"files-{erspan_input}"
    c, w = run_collector(pair, outdir, cdir, f"losses-{erspan_input}",
                         ERSPAN_INPUTS[erspan_input])
    try:
        sent = pair.replay("--count", str(SOURCES * PER_SOURCE), "--sources", str(SOURCES),
                           "--span", str(SPAN), "--gap-every", str(GAP_EVERY),
                           "--rate", "20000",
                           "--pcap", str(outdir / f"sent-{erspan_input}.pcap"))
        C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session="rep")
                   >= sent["sent"], 20, f"{sent['sent']} copies counted")
        n_flows = SOURCES * (PER_SOURCE // 8)
        C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "HANDSHAKE")) >= n_flows, 10,
                   f"{n_flows} HANDSHAKE records")
        metrics = {k: c.metric(f"evpnmon_collector_{k}_total", session="rep")
                   for k in ("copies", "losses")}
        stats = C.wait_for(lambda: (st := C.last_session_stats(w.envelopes()).get("rep", {}))
                           and C.u(st.get("copies")) >= sent["sent"] and st, 10,
                           "SessionStats with every copy")
        C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "CLOSE")) >= n_flows, 10,
                   f"{n_flows} CLOSE records")
        rc = c.stop()
    finally:
        w.stop()
        c.stop()
    envs = w.envelopes()
    assert rc == 0, f"exit status {rc} after SIGTERM:\n{c.output()[-1500:]}"
    sent_pcap = outdir / f"sent-{erspan_input}.pcap"
    oracle = [C.erspan_ts_ns(fr) for _t, fr in E.read_pcap_ns(sent_pcap)]
    oracle = [o for o in oracle if o]
    assert len(oracle) == sent["sent"] == SOURCES * PER_SOURCE, \
        f"the replay wrote {len(oracle)} copies of {sent['sent']} sent"

    paths = C.session_files(cdir, "rep")
    files, probs = C.check_files(paths)
    assert paths and not probs, f"files: {probs}"
    ifnames = {i.name for f in files for i in f.interfaces}
    want_if = {f"erspan:10.0.0.{101 + s}" for s in range(SOURCES)}
    assert ifnames == want_if, f"interfaces {ifnames}"

    # sequence numbers that follow a gap, per source
    by_src: dict[str, list[int]] = {}
    for src, seq, *_ in oracle:
        by_src.setdefault(src, []).append(seq)
    after_gap = {(s, b) for s, q in by_src.items() for a, b in zip(q, q[1:]) if b - a == 2}
    assert len(after_gap) == SOURCES * LOSSES_PER_SOURCE
    want = {(f"erspan:{src}", inner): (seq, ts, d) for src, seq, ts, d, inner in oracle}
    assert len(want) == len(oracle), "replayed copies are not unique"
    got = Counter()
    wrong = []
    drops = Counter()
    for f in files:
        for p in f.packets:
            k = (f.ifname(p), p.data)
            got[k] += 1
            if k not in want:
                continue
            seq, ts, d = want[k]
            src = k[0].removeprefix("erspan:")
            if p.ts_ns != ts:
                wrong.append(f"{src} seq {seq}: time {p.ts_ns}, ERSPAN {ts}")
            if p.direction != (C.DIR_INBOUND if d == 0 else C.DIR_OUTBOUND):
                wrong.append(f"{src} seq {seq}: direction {p.direction}, D {d}")
            wd = 1 if (src, seq) in after_gap else 0
            if (p.dropcount or 0) != wd:
                wrong.append(f"{src} seq {seq}: epb_dropcount {p.dropcount}, want {wd}")
            drops[src] += p.dropcount or 0
    missing = [k for k in want if got[k] == 0]
    extra = sum(n for k, n in got.items() if k not in want) + sum(n - 1 for n in got.values()
                                                                   if n > 1)
    assert not missing and not extra and not wrong, \
        (f"{len(want)} copies sent, {sum(got.values())} packets in {len(files)} files: "
         f"missing {len(missing)}, unexpected/duplicated {extra}; wrong {len(wrong)}: "
         f"{wrong[:8]}")
    isb = Counter()
    for f in files:
        for i in f.isbs:
            isb[f.interfaces[i.interface].name] += i.ifdrop or 0
    assert all(isb[n] == LOSSES_PER_SOURCE for n in want_if), \
        f"ISB isb_ifdrop per interface {dict(isb)}, want {LOSSES_PER_SOURCE} each"

    assert metrics == {"copies": sent["sent"], "losses": SOURCES * LOSSES_PER_SOURCE}, \
        f"metrics {metrics}"
    assert C.u(stats.get("losses")) == SOURCES * LOSSES_PER_SOURCE, f"SessionStats {stats}"
    per = {s["source"]: s for s in stats.get("sources", [])}
    for src, last in sent["last_seq"].items():
        s = per.get(src, {})
        assert C.u(s.get("last_seq")) == last and C.u(s.get("losses")) == LOSSES_PER_SOURCE \
            and C.u(s.get("copies")) == PER_SOURCE, f"source {src}: {s}, last seq sent {last}"

    hs = C.tcp_records(envs, "HANDSHAKE")
    keys = Counter(C.conn_key(r) for r in hs)
    bad = [r for r in hs if r.get("outcome") != "ESTABLISHED"
           or r.get("session", {}).get("name") != "rep"]
    assert len(hs) == n_flows and len(keys) == n_flows and not bad, \
        (f"{len(hs)} HANDSHAKE records for {len(keys)} connections, want {n_flows}; "
         f"{len(bad)} not ESTABLISHED in 'rep': {bad[:2]}")
    closes = C.tcp_records(envs, "CLOSE")
    assert {r.get("close_reason") for r in closes} == {"FIN"} and len(closes) == n_flows and \
        {C.conn_key(r) for r in closes} == set(keys), \
        f"{len(closes)} CLOSE records ({Counter(r.get('close_reason') for r in closes)})"


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_restart_never_overwrites(pair, outdir):
    cdir = outdir / "restart"
    before = {}
    for i in range(2):
        c, w = run_collector(pair, outdir, cdir, f"restart-{i}")
        try:
            sent = pair.replay("--count", "400", "--sources", "2", "--span", str(SPAN),
                               "--rate", "20000")
            C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session="rep")
                       >= sent["sent"], 20, f"{sent['sent']} copies counted")
        finally:
            w.stop()
            assert c.stop() == 0, c.output()[-1500:]
        paths = C.session_files(cdir, "rep")
        files, probs = C.check_files(paths)
        assert not probs, probs
        if i == 0:
            before = {p: digest(p) for p in paths}
            assert before and sum(len(f.packets) for f in files) == 400
        else:
            changed = [p.name for p, d in before.items() if not p.exists() or digest(p) != d]
            new = [p for p in paths if p not in before]
            assert not changed, f"the restart changed the first run's files: {changed}"
            assert new and sum(len(f.packets) for f in files if f.path in new) == 400, \
                f"second run's files {new}"


def vxlan_plan(rx_mac: str, run: int):
    """VXLAN-GBP copies as two VTEPs send them to a collector's UDP port:
    VNI 100 / Group Policy ID 21 from 10.0.0.101 and .102 (unnamed session
    "vni-100-host-21"), VNI 100 / GPID 22 from 10.0.0.103 (named "vx22");
    marked UDP frames plus one TCP handshake per session."""
    from scapy.all import IP, TCP, UDP, Ether, Raw, raw
    from scapy.layers.vxlan import VXLAN
    import profiles as P
    out, seq = [], 0
    hm, pm = F.HOSTS["vm210"][0], F.HOSTS["vm220"][0]
    for src, gpid, tcp_port in (("10.0.0.101", 21, 40001), ("10.0.0.102", 21, None),
                                ("10.0.0.103", 22, 40002)):
        def wrap(inner: bytes, _src=src, _gpid=gpid) -> bytes:
            return raw(Ether(dst=rx_mac) / IP(src=_src, dst="10.9.0.1") /
                       UDP(sport=49152 + len(out) % 1000, dport=4790) /
                       VXLAN(flags=0x88, gpid=_gpid, vni=100) / Raw(inner))
        for i in range(30):
            a, b = (hm, pm) if i % 2 else (pm, hm)
            inner = raw(Ether(src=a, dst=b) / IP(src="10.77.1.2", dst="10.77.1.1") /
                        UDP(sport=7000, dport=7001) / Raw(P.mark(run, seq) + bytes(40)))
            out.append((src, gpid, inner, wrap(inner)))
            seq += 1
        if tcp_port:
            c, s = ("192.168.100.220", tcp_port), ("192.168.100.210", 5001)
            for fl, frm, to, sq, ak in (("S", c, s, 1000, 0), ("SA", s, c, 5000, 1001),
                                        ("A", c, s, 1001, 5001)):
                inner = raw(Ether(src=pm if frm == c else hm, dst=hm if frm == c else pm) /
                            IP(src=frm[0], dst=to[0]) /
                            TCP(sport=frm[1], dport=to[1], flags=fl, seq=sq, ack=ak,
                                options=[("MSS", 1460)] if "S" in fl else []) /
                            Raw(P.mark(run, seq)))
                out.append((src, gpid, inner, wrap(inner)))
                seq += 1
    return out


def test_vxlan_input(pair, outdir):
    """Input 2: VXLAN-GBP copies on UDP port 4790 (`--vxlan-port 4790`).
    Sessions by (VNI, Group Policy ID): one file set each ("vxlan:100:22"
    named vx22, the other one named by default vni-100-host-21), one IDB per
    source VTEP (`vxlan:<ip>`), every inner frame once and byte for byte,
    stamped with its receive time (between the sender's first and last send
    and the end of the run); SessionStats without losses (VXLAN has no
    sequence numbers); the handshake records carry VNI 100 and the session's
    name."""
    import profiles as P
    run = P.new_run()
    plan = vxlan_plan(pair.rx_mac, run)
    cdir = outdir / "vxlan"
    c = C.CollectorProc(pair.prefix("rx"), ["--vxlan-port", "4790", "--dir", str(cdir),
                                            "--session", "vx22=vxlan:100:22", "--publish", PUB,
                                            "--report-interval", "200"],
                        outdir / "vxlan-collector.log", metrics=METRICS)
    try:
        line = c.wait_ready()
        assert "vxlan" in line.split("inputs", 1)[1], f"start-up line: {line}"
        w = C.Watch(pair.prefix("rx"), PUB, outdir / "vxlan-watch.jsonl")
        w.wait_connected()
        path = outdir / "vxlan.frames"
        with open(path, "wb") as fh:
            for *_x, f in plan:
                fh.write(struct.pack("!I", len(f)) + f)
        t0 = time.time_ns()
        cp = subprocess.run([*pair.prefix("tx"), "/usr/bin/python3", "-c", P.SENDER, "ctx",
                             str(path), "2000"], capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        C.wait_for(lambda: c.metric("evpnmon_collector_copies_total") >= len(plan), 15,
                   f"{len(plan)} copies counted")
        C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "HANDSHAKE")) >= 2, 10,
                   "2 HANDSHAKE records")
        stats = C.wait_for(lambda: (st := C.last_session_stats(w.envelopes())) and
                           sum(C.u(v.get("copies")) for v in st.values()) >= len(plan) and st,
                           10, "SessionStats with every copy")
        t1 = time.time_ns()
        rc = c.stop()
    finally:
        w.stop()
        c.stop()
    assert rc == 0, c.output()[-1500:]
    envs = w.envelopes()
    for name, gpid in (("vni-100-host-21", 21), ("vx22", 22)):
        mine = [(src, inner) for src, g, inner, _f in plan if g == gpid]
        files, probs = C.check_files(C.session_files(cdir, name))
        assert files and not probs, f"{name}: files {probs}"
        got = Counter((f.ifname(p), p.data) for f in files for p in f.packets)
        want = Counter((f"vxlan:{s}", inner) for s, inner in mine)
        assert got == want, (f"{name}: {sum(want.values())} copies sent, "
                             f"{sum(got.values())} in the files; missing "
                             f"{sum((want - got).values())}, unexpected "
                             f"{sum((got - want).values())}; interfaces "
                             f"{ {i.name for f in files for i in f.interfaces} }")
        late = [p.ts_ns for f in files for p in f.packets if not t0 <= p.ts_ns <= t1]
        assert not late, f"{name}: {len(late)} receive times outside the run: {late[:3]}"
        st = stats.get(name, {})
        assert C.u(st.get("copies")) == len(mine) and C.u(st.get("losses")) == 0 and \
            st.get("session", {}).get("vni") == 100 and \
            st.get("session", {}).get("host_id") == gpid, f"{name}: SessionStats {st}"
    hs = {r.get("session", {}).get("name"): r for r in C.tcp_records(envs, "HANDSHAKE")}
    for name, port in (("vni-100-host-21", 40001), ("vx22", 40002)):
        r = hs.get(name, {})
        assert r.get("outcome") == "ESTABLISHED" and C.u(r.get("vni")) == 100 and \
            C.u(r.get("id_orig_p")) == port and C.u(r.get("orig_options", {}).get("mss")) == 1460, \
            f"{name}: HANDSHAKE {r}"


def test_disk_full(pair, outdir):
    """A real ENOSPC: the collector's --dir is a 512 KiB tmpfs of its own
    (mounted in a private mount namespace around the collector process),
    half of it taken by a ballast file.
    8000 replayed copies do not fit: the collector says so (disk_full gauge
    1, a log line), counts every copy and keeps publishing records (one
    HANDSHAKE per replayed connection); the files written until then open in
    capinfos and tshark. Once space is freed (the ballast deleted) it
    writes again within its 5 s retry; SIGTERM: exit 0."""
    import threading
    mnt = outdir / "tiny"
    mnt.mkdir()
    prefix = [*pair.prefix("rx"), "unshare", "-m", "--propagation", "private", "sh", "-c",
              f'mount -t tmpfs -o size=512k tmpfs {mnt} && '
              f'head -c 262144 /dev/zero > {mnt}/ballast && exec "$0" "$@"']
    c = C.CollectorProc(prefix, ["--erspan", "--dir", str(mnt), "--session",
                                 f"rep=span:{SPAN}", "--publish", PUB,
                                 "--report-interval", "200"],
                        outdir / "diskfull-collector.log", metrics=METRICS)
    w = None
    try:
        c.wait_ready()
        w = C.Watch(pair.prefix("rx"), PUB, outdir / "diskfull-watch.jsonl")
        w.wait_connected()
        n = 8000
        sent = pair.replay("--count", str(n), "--sources", str(SOURCES), "--span", str(SPAN),
                           "--rate", "20000")
        C.wait_for(lambda: c.metric("evpnmon_collector_copies_total", session="rep") >= n, 20,
                   f"{n} copies counted")
        C.wait_for(lambda: c.metric("evpnmon_collector_disk_full") == 1, 10,
                   "evpnmon_collector_disk_full 1")
        C.wait_for(lambda: len(C.tcp_records(w.envelopes(), "HANDSHAKE")) >= n // 8, 10,
                   f"{n // 8} HANDSHAKE records while the disk is full")
        logs = [l for l in c.output().splitlines() if re.search(r"disk|space|ENOSPC", l, re.I)]
        assert logs, f"no log line about the full disk:\n{c.output()[-1500:]}"
        # the files so far, copied out of the collector's mount namespace
        ns = ["nsenter", "-t", str(c.proc.pid), "-m"]
        copy = outdir / "tiny-copy"
        copy.mkdir()
        tar = subprocess.run([*ns, "tar", "-C", str(mnt), "-cf", "-", "."], capture_output=True,
                             check=True, timeout=30).stdout
        subprocess.run(["tar", "-C", str(copy), "-xf", "-"], input=tar, check=True, timeout=30)
        files, probs = C.check_files(C.session_files(copy, "rep"))
        written = sum(len(f.packets) for f in files)
        assert files and not probs, f"files written before the disk filled up: {probs}"
        assert 0 < written < sent["sent"], f"{written} of {sent['sent']} copies in the files"
        # free space (the ballast; the collector's own current file would
        # stay allocated while it is open): writing resumes at the next retry
        before = subprocess.run([*ns, "sh", "-c", f"ls {mnt}/rep"], capture_output=True,
                                text=True).stdout.split()
        subprocess.run([*ns, "rm", "-f", f"{mnt}/ballast"], check=True, timeout=10)
        t = threading.Thread(target=pair.replay, args=("--seconds", "9", "--sources", "1",
                                                       "--span", str(SPAN), "--rate", "300"))
        t.start()
        try:
            C.wait_for(lambda: c.metric("evpnmon_collector_disk_full") == 0, 12,
                       "evpnmon_collector_disk_full back to 0 after space was freed")
            def grew():
                out = subprocess.run([*ns, "sh", "-c", f"du -b {mnt}/rep"], capture_output=True,
                                     text=True).stdout.split()
                return out and int(out[0]) > used
            used = int(subprocess.run([*ns, "sh", "-c", f"du -b {mnt}/rep"], capture_output=True,
                                      text=True).stdout.split()[0])
            C.wait_for(grew, 5, f"the file set growing again after space was freed ({before})")
        finally:
            t.join(30)
        rc = c.stop()
    finally:
        if w:
            w.stop()
        c.stop()
    assert rc == 0, f"exit status {rc}:\n{c.output()[-1500:]}"
    print(f"\n  {written} of {sent['sent']} copies written before ENOSPC; log: {logs[:2]}")
