#!/usr/bin/env python3
"""100,000 sessions end to end on one VTEP: the real fpm-consumer daemon
takes N sessions from a feed (fpmc-fake-feed --generate) and installs their
entries 1 and 2 (2N entries) into its dataplane. Memory backend: N ERSPAN
collector sessions (no MAC location needed). Linux backend: N server
sessions whose server sits behind a remote VTEP that the kernel FDB names
(collector sessions take one profile slot each: linux-collector runs them
with --dp-max-profiles N+1).

Backends, in one invocation, each at N = 10,000 (baseline) and 100,000:
  memory  the in-memory dataplane (no root);
  linux   the TC eBPF dataplane in a private network namespace (root): a
          bridge with a VXLAN device and one port, maps sized by
          --dp-max-entries.

Measured: time from the daemon's start (the feed already serving) until
its log reports all 2N entries installed (the start-up itself, the feed
snapshot, the first full pass and the installs); the daemon's resident
memory (VmRSS) and its CPU time (user + system, start-up included) then,
per session. Kernel BPF map memory is not in VmRSS:
bench/dataplane/bench_capacity reports it per entry.

Arrival (--arrival): every session in the feed's first snapshot, or one ADD
delta per session after an empty snapshot (as bgpd publishes routes as they
arrive), paced by --rate deltas per second.
Heap (--heaps): huge, the heap on transparent huge pages
(MALLOC_CONF=thp:always for the daemon on jemalloc; a daemon built before
jemalloc put glibc's heap on them by itself), and/or default, without
them (MALLOC_CONF=thp:never; GLIBC_TUNABLES empty for a daemon before
jemalloc, which earlier runs called "glibc": still accepted, the same),
in the same invocation.

Usage: bench_e2e_sessions.py BUILD_DIR [--backends memory,linux] [--sizes 10000,100000]
       [--arrival snapshot|deltas|both] [--rate 9000] [--heaps huge,default]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

NS = 'evpnmon-bench-e2e'
RATE = 0
SERVER_MAC = '02:00:00:00:02:21'


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def netns_up(pin):
    sh(f'ip netns add {NS}')
    ns = f'ip -n {NS}'
    sh(f'{ns} link set lo up')
    sh(f'{ns} link add br100 type bridge')
    sh(f'{ns} link add vxlan100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning')
    sh(f'{ns} link set vxlan100 master br100')
    sh(f'{ns} link add p1 type veth peer name p1x')
    sh(f'{ns} link set p1 master br100')
    for dev in ('br100', 'vxlan100', 'p1', 'p1x'):
        sh(f'{ns} link set {dev} up')
    sh(f'{ns} addr add 10.0.0.1/32 dev lo')
    # The server behind the remote VTEP 10.0.0.2, as zebra would install it.
    sh(f'ip netns exec {NS} bridge fdb add {SERVER_MAC} dev vxlan100 master static')
    sh(f'ip netns exec {NS} bridge fdb add {SERVER_MAC} dev vxlan100 dst 10.0.0.2 self static')
    os.makedirs(pin, exist_ok=True)
    sh(f'mount -t bpf bpf {pin}')


def netns_down(pin):
    subprocess.run(f'umount {pin}', shell=True, stderr=subprocess.DEVNULL)
    subprocess.run(f'ip netns del {NS}', shell=True, stderr=subprocess.DEVNULL)


def rss_kib(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def cpu_s(pid):
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_one(build, backend, n, work, arrival='snapshot', heap='huge'):
    feed_ep = f'ipc://{work}/feed-{backend}-{n}.sock'
    log = f'{work}/c-{backend}-{n}.log'
    tool = os.path.join(build, 'fpm-consumer', 'tests', 'fpmc-fake-feed')
    consumer = os.path.join(build, 'fpm-consumer', 'fpm-consumer')
    # Collector sessions need no MAC location (the memory backend learns
    # none here); on linux, each would hold one of the 16,383 profile slots
    # (its ERSPAN parameters), so server sessions behind a remote VTEP that
    # the kernel FDB names.
    dest = SERVER_MAC if backend == 'linux' else '192.0.2.9'
    feed_args = [tool, '--bind', feed_ep, '--generate', f'{n},100,{dest}']
    if arrival == 'deltas':
        feed_args.append('--deltas')
        if RATE:
            feed_args += ['--rate', str(RATE)]
    feed = subprocess.Popen(feed_args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    common = ['--fpm-port', '0', '--state-socket', f'{work}/c-{backend}-{n}.sock',
              '--feed', feed_ep, '--startup-grace', '0', '--dp-max-entries', '262144']
    if backend == 'linux-collector':
        common += ['--dp-max-profiles', str(n + 1)]
    pin = f'{work}/bpffs'
    if backend == 'memory':
        cmd = [consumer, '--backend', 'memory', '--l2vni', 'br100:@3:100',
               '--no-kernel-fdb'] + common
    else:
        netns_up(pin)
        cmd = ['ip', 'netns', 'exec', NS, consumer, '--backend', 'linux',
               '--l2vni', 'br100:vxlan100:100', '--local-vtep', '10.0.0.1',
               '--bpf-pin-dir', pin + '/leaf', '--cleanup-on-exit',
               '--no-vtep-route-check'] + common
    # The feed must be serving before the clock starts.
    time.sleep(0.5)
    t0 = time.monotonic()
    env = dict(os.environ)
    env.pop('GLIBC_TUNABLES', None)
    env.pop('MALLOC_CONF', None)
    if heap == 'huge':
        env['MALLOC_CONF'] = 'thp:always'  # jemalloc's arenas on huge pages
    if heap == 'default':
        env['MALLOC_CONF'] = 'thp:never'  # the daemon's opt-out (jemalloc)
        env['GLIBC_TUNABLES'] = ''  # the same for a daemon built before jemalloc
    proc = subprocess.Popen(cmd, stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=env)
    try:
        installed = 0
        deadline = t0 + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f'{backend} {n}: daemon exited: ' + open(log).read()[-2000:])
            installed = sum(int(m) for m in re.findall(r'reconcile: \+(\d+)', open(log).read()))
            if installed >= 2 * n:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
        if installed < 2 * n:
            raise RuntimeError(f'{backend} {n}: only {installed} entries installed')
        # The daemon's pid (under `ip netns exec` it is the same process).
        rss = rss_kib(proc.pid)
        cpu = cpu_s(proc.pid)
        if re.search(r'could not be installed or removed', open(log).read()):
            raise RuntimeError(f'{backend} {n}: entries refused')
        return elapsed, rss, cpu
    finally:
        proc.terminate()
        feed.terminate()
        proc.wait(timeout=30)
        feed.wait(timeout=10)
        if backend != 'memory':
            netns_down(pin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--backends', default='memory,linux,linux-collector')
    ap.add_argument('--sizes', default='10000,100000')
    ap.add_argument('--arrival', default='snapshot',
                    help='snapshot (all sessions in the feed\'s first answer), deltas (one '
                         'ADD delta per session after an empty snapshot, as bgpd sends routes '
                         'that arrive), or both')
    ap.add_argument('--rate', type=float, default=0,
                    help='deltas per second (bgpd published 100,000 sessions in about 11 s in '
                         'the fabric benchmark: 9000); 0 = as fast as the consumer takes them')
    ap.add_argument('--heaps', default='huge',
                    help='huge (transparent huge pages when the kernel gives them on '
                         'request: MALLOC_CONF=thp:always), default (MALLOC_CONF=thp:never; '
                         'GLIBC_TUNABLES empty for a daemon before jemalloc), or both as '
                         'huge,default')
    a = ap.parse_args()
    heaps = [{'glibc': 'default'}.get(h, h) for h in a.heaps.split(',')]
    if any(h not in ('huge', 'default') for h in heaps):
        ap.error('--heaps: huge, default (or glibc, its earlier name)')
    global RATE
    RATE = a.rate
    sizes = [int(x) for x in a.sizes.split(',')]
    work = tempfile.mkdtemp(prefix='e2e-bench.')
    rows = []
    try:
        arrivals = ['snapshot', 'deltas'] if a.arrival == 'both' else [a.arrival]
        for backend in a.backends.split(','):
            for arrival, heap in [(ar, h) for ar in arrivals for h in heaps]:
                for n in sizes:
                    elapsed, rss, cpu = run_one(a.build, backend, n, work, arrival, heap)
                    rows.append((backend, f'{arrival}, {heap}', n, elapsed, rss, cpu))
                    print(f'{backend} {arrival} {heap} {n}: {elapsed:.2f} s, CPU {cpu:.2f} s, '
                          f'VmRSS {rss} KiB',
                          file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('| backend | arrival, heap | sessions | entries | start to all installed | per 1,000 sessions | '
          f'ratio to {sizes[0] // 1000}k (per session) | daemon CPU | CPU per session | '
          'daemon VmRSS | per session |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    base = {(b, ar): (e, n) for b, ar, n, e, r, c in rows if n == sizes[0]}
    for b, ar, n, e, r, c in rows:
        be, bn = base[(b, ar)]
        print(f'| {b} | {ar} | {n} | {2 * n} | {e:.2f} s | {e / n * 1000 * 1000:.1f} ms | '
              f'{(e / n) / (be / bn):.2f} | {c:.2f} s | {c / n * 1e6:.0f} µs | {r / 1024:.0f} MiB | {r * 1024 / n:.0f} B |')


if __name__ == '__main__':
    main()
