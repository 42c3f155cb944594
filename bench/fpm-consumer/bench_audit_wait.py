#!/usr/bin/env python3
"""How long a MAC move waits for its entries while the daemon audits, in the
real fpm-consumer (memory backend, loopback, no root).

The daemon takes N ERSPAN collector sessions (the audit's load: 2N entries
to re-read, decide and diff) and K server sessions from fpmc-fake-feed, and
audits as often as it can (--audit-interval 1 --audit-max-load 0). Over its
FPM socket the bench moves one of the K servers to the other VTEP at a
random moment, waits until the daemon's log reports that move's two entries
replaced (`reconcile: +0 ~2 -0`), and takes the time from the send to that
line's timestamp (ms); then again, MOVES times. A move that lands in an
audit waits for what of the audit holds the loop then: the whole audit, or
one of its steps.

Several consumers (--consumer, repeatable: e.g. this build's and a previous
commit's, or one build with other options: 'build --audit-part 4096') run in
turns, ROUNDS times, in one invocation.

Usage: bench_audit_wait.py --consumer 'BUILD_DIR [OPTION...]' [--consumer ...]
       [--sessions 100000] [--moves 100] [--rounds 2]
"""
import argparse
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE = os.path.join(HERE, '..', '..', 'tests', 'fpm-consumer', 'data', 'zebra-8.4.4-evpn.fpm')
SERVERS = 10
VTEPS = ([10, 0, 0, 2], [10, 0, 0, 3])
RTM_NEWNEIGH = 28
NDA_DST, NDA_LLADDR = 1, 2


def server_mac(i):
    return bytes([2, 0x30, 0, 0, 0, i])


def neigh_template():
    """The first RTM_NEWNEIGH of a recorded zebra FPM stream (a remote MAC on
    the VXLAN device of VNI 100): the bench rewrites its MAC and VTEP."""
    cap = open(CAPTURE, 'rb').read()
    i = 0
    while i < len(cap):
        _, _, length = struct.unpack('>BBH', cap[i:i + 4])
        msg = cap[i + 4:i + length]
        if struct.unpack('<H', msg[4:6])[0] == RTM_NEWNEIGH:
            return bytearray(msg)
        i += length
    raise RuntimeError('no RTM_NEWNEIGH in ' + CAPTURE)


def neigh(template, mac, vtep):
    msg = bytearray(template)
    j = 16 + 12  # nlmsghdr + ndmsg
    while j < len(msg):
        length, kind = struct.unpack('<HH', msg[j:j + 4])
        if kind == NDA_LLADDR:
            msg[j + 4:j + 10] = mac
        elif kind == NDA_DST:
            msg[j + 4:j + 8] = bytes(vtep)
        j += (length + 3) & ~3
    return struct.pack('>BBH', 1, 1, len(msg) + 4) + bytes(msg)


def seconds_of_day(hms):
    """A log line's time stamp (UTC, HH:MM:SS.mmm) in seconds of the day."""
    h, m, s = hms.split(':')
    return int(h) * 3600 + int(m) * 60 + float(s)


class Log:
    """The daemon's log, read on: new lines only."""

    def __init__(self, path):
        self.f = open(path)
        self.buf = ''

    def close(self):
        self.f.close()

    def lines(self):
        self.buf += self.f.read()
        *whole, self.buf = self.buf.split('\n')
        return whole


def full_passes(build, work):
    """The daemon's full-pass counter (one per audit here)."""
    ctl = os.path.join(build, 'fpm-consumer', 'evpnmon-ctl')
    out = subprocess.run([ctl, '-s', f'{work}/c.sock', '--json', 'counters'], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return int(re.search(r'"name": "full-passes",\s*"value": "?(\d+)', out).group(1))


def run(build, options, n, moves, work, rng):
    consumer = os.path.join(build, 'fpm-consumer', 'fpm-consumer')
    tool = os.path.join(build, 'fpm-consumer', 'tests', 'fpmc-fake-feed')
    feed_ep = f'ipc://{work}/feed.sock'
    log_path = f'{work}/c.log'
    feed_args = [tool, '--bind', feed_ep, '--generate', f'{n},100,192.0.2.9']
    for i in range(SERVERS):
        feed_args += ['--session', '100,02:20:00:00:00:%02x,21,%s' % (i, server_mac(i).hex(':'))]
    procs = [subprocess.Popen(feed_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    log, fpm, logf = None, None, open(log_path, 'w')
    try:
        time.sleep(0.5)  # the feed serving
        procs.append(subprocess.Popen(
            [consumer, '--backend', 'memory', '--l2vni', 'br100:@3:100', '--no-kernel-fdb',
             '--no-vtep-route-check', '--fpm-port', '0', '--fpm-resync-time', '1',
             '--state-socket', f'{work}/c.sock', '--feed', feed_ep, '--startup-grace', '0',
             '--audit-interval', '1', '--audit-max-load', '0', *options],
            stdout=logf, stderr=subprocess.STDOUT))
        log = Log(log_path)
        started = time.monotonic()
        port, installed, deadline = None, 0, time.time() + 120
        template = neigh_template()
        while installed < 2 * (n + SERVERS):
            if time.time() > deadline or procs[1].poll() is not None:
                raise RuntimeError(f'{build}: {installed} entries installed: '
                                   + open(log_path).read()[-1500:])
            for line in log.lines():
                m = re.search(r'FPM: listening on 127\.0\.0\.1:(\d+)', line)
                if m:
                    port = int(m.group(1))
                m = re.search(r'reconcile: \+(\d+)', line)
                if m:
                    installed += int(m.group(1))
            if port and not fpm:
                fpm = socket.create_connection(('127.0.0.1', port))
                for i in range(SERVERS):
                    fpm.sendall(neigh(template, server_mac(i), VTEPS[0]))
            time.sleep(0.05)
        intake = (time.monotonic() - started, cpu_seconds(procs[1].pid))
        time.sleep(3)  # audits under way
        where = [0] * SERVERS
        waits = []
        passes = full_passes(build, work)
        cpu0 = cpu_seconds(procs[1].pid)
        for k in range(moves):
            time.sleep(rng.uniform(0.05, 0.6))
            log.lines()
            i = k % SERVERS
            where[i] ^= 1
            sent = time.time() % 86400  # the log's clock: UTC, seconds of the day
            fpm.sendall(neigh(template, server_mac(i), VTEPS[where[i]]))
            done, deadline = None, time.time() + 10
            while done is None:
                if time.time() > deadline:
                    raise RuntimeError(f'{build}: move {k} not applied: '
                                       + open(log_path).read()[-1500:])
                for line in log.lines():
                    # a build with server slots writes the server's target
                    # once (its two entries name it); one without replaces both
                    if re.search(r'reconcile: \+0 ~2 -0 |reconcile: .* servers moved 1\b', line):
                        done = seconds_of_day(line.split()[0])
                time.sleep(0.001)
            # the log truncates to whole ms: up to 1 ms early
            wait = (done - sent) * 1e3
            if not -1.0 <= wait < 60e3:
                raise RuntimeError(f'{build}: move {k}: {wait:.0f} ms (clocks apart, or midnight)')
            waits.append(max(0.0, wait))
        audits = full_passes(build, work) - passes
        # all of the daemon's CPU meanwhile: its audits', the moves', its
        # ticks' and the status requests' (full_passes()); reported per
        # audit completed in the window (±1 at each edge)
        cpu = cpu_seconds(procs[1].pid) - cpu0
        if 'full pass: the incremental decision had' in open(log_path).read():
            raise RuntimeError(f'{build}: the audit found differences')
        return waits, audits, cpu, intake
    finally:
        if fpm:
            fpm.close()
        if log:
            log.close()
        logf.close()
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cpu_seconds(pid):
    """The process's user + system CPU so far (/proc/PID/stat)."""
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--consumer', action='append', required=True,
                    help='a build directory, and options for its daemon after it')
    ap.add_argument('--sessions', type=int, default=100000)
    ap.add_argument('--moves', type=int, default=100)
    ap.add_argument('--rounds', type=int, default=2)
    a = ap.parse_args()
    waits = {b: [] for b in a.consumer}
    audits = {b: 0 for b in a.consumer}
    cpus = {b: 0.0 for b in a.consumer}
    intakes = {b: [] for b in a.consumer}
    for r in range(a.rounds):
        for b in a.consumer:
            with tempfile.TemporaryDirectory(prefix='bench-audit-wait.') as work:
                # the same moments for every build: paired runs
                build, *options = b.split()
                w, n, cpu, intake = run(os.path.abspath(build), options, a.sessions, a.moves,
                                       work, random.Random(7 + r))
            waits[b] += w
            audits[b] += n
            cpus[b] += cpu
            intakes[b].append(intake)
            print(f'round {r + 1}, {b}: p50 {pct(w, 0.5):.0f} ms, max {max(w):.0f} ms',
                  file=sys.stderr)
    print(f'{a.sessions} collector sessions + {SERVERS} server sessions, an audit as often as '
          f'the daemon can; {a.rounds} x {a.moves} server moves at random moments per build\n')
    print('| build | moves | audits meanwhile | p50 | p90 | p99 | longest | over 5 ms | over 50 ms |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for b, w in waits.items():
        over = lambda t: 100.0 * sum(x > t for x in w) / len(w)
        print(f'| {b} | {len(w)} | {audits[b]} | {pct(w, 0.5):.0f} ms | {pct(w, 0.9):.0f} ms | '
              f'{pct(w, 0.99):.0f} ms | {max(w):.0f} ms | {over(5):.0f} % | {over(50):.0f} % |')
    print('\nThe daemon\'s CPU while the moves ran, per audit completed meanwhile (the '
          'moves, ticks and status requests included; ±1 audit at each edge of a round), '
          'and the intake: from the daemon\'s start to all entries installed, '
          'its wall time and CPU, per round\n')
    print('| build | audits | CPU per audit | intake: wall | intake: CPU |')
    print('|---|---:|---:|---|---|')
    for b in a.consumer:
        print(f'| {b} | {audits[b]} | {1e3 * cpus[b] / max(1, audits[b]):.0f} ms | '
              + ', '.join(f'{w:.1f}' for w, _ in intakes[b]) + ' s | '
              + ', '.join(f'{c:.1f}' for _, c in intakes[b]) + ' s |')

if __name__ == '__main__':
    main()
