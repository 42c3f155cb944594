#!/usr/bin/python3
"""The metrics endpoint of the real fpm-consumer against evpnmon-ctl --json of
the same daemon (memory backend, loopback, no root):

  1. three sessions from a fake feed (active, server-unknown, vni-not-local)
     and the recorded zebra FPM stream plus a broken frame;
  2. GET /metrics: 200, text/plain; version=0.0.4, valid exposition text
     (strict parser), and every value equal to the state JSON read just
     before and just after the scrape (counters that move meanwhile, such
     as feed heartbeats, must lie between the two): sessions by state,
     entries by kind, per-entry counters, every counter of the state under
     its Prometheus name and type, gates, FPM and feed state, and the
     reconcile histogram's _count = the reconciles counter;
  3. the FPM framing is lost: the next scrape follows (connected 0, one
     framing reset, one disconnection), again equal to the state;
  4. --metrics refuses a non-loopback address without --metrics-any-address.

usage: it_metrics.py BUILD_DIR"""
import os
import re
import socket
import struct
import subprocess
import time

import metrics_lib
from metrics_lib import capture, check, daemon, fpm_frame, parse_exposition, run, sample

HOST = '02:00:00:00:01:01'
SERVER = '02:00:00:00:02:20'  # MAC B of the capture: behind 10.0.0.2, then withdrawn (kept)
SESSIONS = ['100,%s,7,%s' % (HOST, SERVER),                  # active: entries 1 and 2
            '100,02:00:00:00:01:02,8,02:00:00:00:09:99',      # server-unknown
            '200,02:00:00:00:01:03,9,%s' % SERVER]            # vni-not-local
STATES = ['active', 'server-unknown', 'server-unreachable', 'vni-not-local', 'conflict', 'invalid',
          'collector-unsupported']
KINDS = ['mirror-source', 'mirror-dest', 'decap']
# counters whose unit is converted to a base unit
SCALED = {'last-reconcile-us': ('evpnmon_last_reconcile_duration_seconds', 1e-6)}
# families that do not come from the "counters" list
FIXED = {'evpnmon_gate_open', 'evpnmon_fpm_connected', 'evpnmon_fpm_resyncing', 'evpnmon_feed_state',
         'evpnmon_sessions', 'evpnmon_entries', 'evpnmon_entry_packets_total',
         'evpnmon_entry_bytes_total', 'evpnmon_entry_drops_total',
         'evpnmon_entry_filtered_total', 'evpnmon_entry_sampled_out_total',
         'evpnmon_entry_policed_total', 'evpnmon_reconcile_duration_seconds',
         'evpnmon_erspan_packets_total', 'evpnmon_erspan_bytes_total',
         'evpnmon_erspan_no_route_total', 'evpnmon_erspan_mtu_truncated_total',
         'evpnmon_erspan_errors_total', 'evpnmon_erspan_last_seq'}
ERSPAN = {'packets': 'evpnmon_erspan_packets_total', 'bytes': 'evpnmon_erspan_bytes_total',
          'no-route': 'evpnmon_erspan_no_route_total',
          'mtu-truncated': 'evpnmon_erspan_mtu_truncated_total',
          'errors': 'evpnmon_erspan_errors_total', 'last-seq': 'evpnmon_erspan_last_seq'}


def counters_of(state):
    return {c['name']: int(c['value']) for c in state['counters']['counter']}


def between(v, a, b):
    lo, hi = min(a, b), max(a, b)
    return lo - 1e-9 <= v <= hi + 1e-9


def compare(d, expect_fpm_connected):
    """Scrape between two reads of the state; check every value."""
    s1 = d.state()
    status, ctype, body = d.scrape()
    s2 = d.state()
    check(status == 200, 'GET /metrics: status %s' % status)
    check(ctype is not None and ctype.startswith('text/plain; version=0.0.4'),
          'Content-Type %r' % ctype)
    fams, errors = parse_exposition(body)
    check(not errors, 'exposition format: %s' % errors[:10])
    untyped = [n for n, f in fams.items() if f['type'] == 'untyped']
    check(not untyped, 'counters without a catalogued metric: %s' % untyped)

    # sessions by state, entries by kind: what evpnmon-ctl shows
    for what, item, key, values, label, metric in (
            ('sessions', 'session', 'status', STATES, 'state', 'evpnmon_sessions'),
            ('entries', 'entry', 'kind', KINDS, 'kind', 'evpnmon_entries')):
        c1 = [x[key] for x in s1[what].get(item, [])]
        c2 = [x[key] for x in s2[what].get(item, [])]
        check(sorted(c1) == sorted(c2), '%s changed during the scrape' % what)
        for v in values:
            got = sample(fams, metric, **{label: v})
            check(got == c1.count(v), '%s{%s="%s"} = %s, state has %d' % (metric, label, v, got, c1.count(v)))

    # every entry's dataplane counters, by key
    for e in s1['entries'].get('entry', []):
        labels = {'kind': e['kind'], 'vni': str(e['vni']), 'host_mac': e.get('host-mac', ''),
                  'host_ip': e.get('host-ip', ''), 'host_id': str(e.get('host-id', '')),
                  'collector_id': str(e.get('collector-id', '')),
                  'session': e.get('session-id', '')}
        for leaf in ('packets', 'bytes', 'drops', 'filtered', 'sampled-out', 'policed'):
            got = sample(fams, 'evpnmon_entry_%s_total' % leaf.replace('-', '_'), **labels)
            check(got == int(e['counters'][leaf]), 'entry %s %s: metric %s, state %s'
                  % (labels, leaf, got, e['counters'][leaf]))

    # ERSPAN collectors' counters: this daemon's memory backend has none
    # (their values against the state are test_metrics' job), so no
    # ERSPAN family may have a sample
    colls = s1.get('collectors', {}).get('collector', [])
    check(not any('counters' in c for c in colls), 'the memory backend reported ERSPAN counters')
    for metric in ERSPAN.values():
        check(not fams.get(metric, {}).get('samples'), '%s has samples without ERSPAN counters'
              % metric)

    # every counter of the state, under its name and type
    c1, c2 = counters_of(s1), counters_of(s2)
    check(set(c1) == set(c2), 'counter set changed')
    covered = set(FIXED)
    for name, v1 in c1.items():
        base = 'evpnmon_' + name.replace('-', '_')
        if name in SCALED:
            metric, scale = SCALED[name]
            want_type = 'gauge'
        elif base + '_total' in fams:
            metric, scale, want_type = base + '_total', 1, 'counter'
        else:
            metric, scale, want_type = base, 1, 'gauge'
        check(metric in fams, 'state counter %s: no metric %s' % (name, metric))
        check(fams[metric]['type'] == want_type, '%s: type %s' % (metric, fams[metric]['type']))
        got = sample(fams, metric)
        check(got is not None and between(got, v1 * scale, c2[name] * scale),
              '%s = %s, state %s .. %s' % (metric, got, v1 * scale, c2[name] * scale))
        covered.add(metric)
    extra = set(fams) - covered
    check(not extra, 'metrics that are not in the state: %s' % sorted(extra))

    # gates, FPM, feed
    for g in ('feed', 'local-macs', 'fpm'):
        check(sample(fams, 'evpnmon_gate_open', gate=g) == int(s1['gates'][g]), 'gate %s' % g)
    check(sample(fams, 'evpnmon_fpm_connected') == int(s1['fpm']['connected']) == expect_fpm_connected,
          'fpm connected: metric %s, state %s' % (sample(fams, 'evpnmon_fpm_connected'), s1['fpm']['connected']))
    check(sample(fams, 'evpnmon_fpm_resyncing') == int(s1['fpm']['resyncing']), 'fpm resyncing')
    for st in ('subscribing', 'synced', 'lost'):
        check(sample(fams, 'evpnmon_feed_state', state=st) == int(s1['feed']['state'] == st),
              'feed state %s' % st)

    # the histogram counts every reconcile pass
    count = sample(fams, 'evpnmon_reconcile_duration_seconds_count')
    check(count is not None and between(count, c1['reconciles'], c2['reconciles']),
          'histogram _count %s, reconciles %d .. %d' % (count, c1['reconciles'], c2['reconciles']))
    check(count >= 1 and sample(fams, 'evpnmon_reconcile_duration_seconds_sum') > 0,
          'no reconcile recorded')
    check(c2['metrics-requests'] == c1['metrics-requests'] + 1, 'the scrape was not counted')
    return fams, c1


def wait_for(d, cond, what, timeout=15):
    """metrics_lib.wait_for with cond(state, counters)."""
    return metrics_lib.wait_for(d, lambda s: cond(s, counters_of(s)), what, timeout)


def option_checks(build, tmp):
    consumer = os.path.join(build, 'fpm-consumer', 'fpm-consumer')
    base = [consumer, '--backend', 'memory', '--l2vni', 'br100:@3:100', '--fpm-port', '0',
            '--state-socket', os.path.join(tmp, 'o.sock'), '--feed', 'ipc://%s/o.feed' % tmp,
            '--no-kernel-fdb']
    for args, why in ((['--metrics', '0.0.0.0:0'], 'loopback'),
                      (['--metrics', '[::]:0'], 'loopback'),
                      (['--metrics', '10.1.2.3:9417'], 'loopback'),
                      (['--metrics', 'localhost:9417'], 'ADDR:PORT'),
                      (['--metrics-any-address'], 'needs --metrics')):
        r = subprocess.run(base + args, capture_output=True, text=True, timeout=10)
        check(r.returncode != 0, '%s accepted' % args)
        check(why in r.stdout + r.stderr, '%s: message %r' % (args, (r.stdout + r.stderr)[-300:]))
    # explicitly allowed
    log = os.path.join(tmp, 'any.log')
    p = subprocess.Popen(base + ['--metrics', '0.0.0.0:0', '--metrics-any-address'],
                         stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while 'metrics: listening on 0.0.0.0:' not in open(log).read():
            check(p.poll() is None and time.time() < deadline,
                  '--metrics-any-address did not start: %s' % open(log).read()[-300:])
            time.sleep(0.05)
    finally:
        p.terminate()
        p.wait(timeout=10)


def main(build):
    with daemon(build, ['--fpm-resync-time', '1', '--startup-grace', '30']) as d:
        d.start_feed(SESSIONS)
        d.start()
        # The daemon's heap is jemalloc's, and it says so when it starts.
        maps = open('/proc/%d/maps' % d.proc.pid).read()
        check('libjemalloc' in maps, 'the daemon does not run on jemalloc')
        log = open(d.log).read()  # written before the metrics line start() waited for
        check(re.search(r'heap: jemalloc \d\S*, thp \w+', log) is not None,
              'no start-up line "heap: jemalloc <version>, thp <mode>"')
        comm = open('/proc/%d/comm' % d.proc.pid).read().strip()
        check(comm == 'fpm-consumer', 'the process is named %r, not fpm-consumer' % comm)
        # the sessions first: the server's MAC is pinned before the stream
        # withdraws it, so its location is kept and the session is active
        wait_for(d, lambda s, c: s['feed']['state'] == 'synced'
                 and len(s['sessions'].get('session', [])) == 3, 'the feed snapshot')
        # the recorded stream, then a broken frame and a good one
        cap = capture()
        fpm = socket.create_connection(('127.0.0.1', d.fpm_port()))
        fpm.sendall(cap)
        first = cap[4:struct.unpack('>H', cap[2:4])[0]]
        broken = bytearray(first)
        broken[0:4] = struct.pack('<I', 9999)
        fpm.sendall(fpm_frame(bytes(broken)) + fpm_frame(first))
        wait_for(d, lambda s, c: all(s['gates'].values()) and not s['fpm']['resyncing']
                 and s['feed']['state'] == 'synced' and len(s['sessions'].get('session', [])) == 3
                 and len(s['entries'].get('entry', [])) == 4 and c['fpm-messages'] >= 13
                 and c['fpm-broken-frames'] >= 1, 'sessions, entries and the FPM stream')

        fams, c = compare(d, expect_fpm_connected=1)
        # the values are what this scenario must give
        check(sample(fams, 'evpnmon_sessions', state='active') == 1, 'one active session')
        check(sample(fams, 'evpnmon_sessions', state='server-unknown') == 1, 'one server-unknown')
        check(sample(fams, 'evpnmon_sessions', state='vni-not-local') == 1, 'one vni-not-local')
        # the server-unknown session's entries stay, their server's target none
        check(sample(fams, 'evpnmon_entries', kind='mirror-source') == 2, 'entries 1')
        check(sample(fams, 'evpnmon_entries', kind='mirror-dest') == 2, 'entries 2')
        st = d.state()
        nones = [e for e in st['entries']['entry'] if e['action']['type'] == 'none']
        check(len(nones) == 2, 'entries without a target: %s' % nones)
        check(sample(fams, 'evpnmon_entry_packets_total', kind='mirror-source', vni='100',
                     host_mac=HOST, host_ip='', host_id='7', collector_id='',
                     session='10.0.0.1/100/7/%s/-' % HOST) == 0,
              'entry 1 of the active session')
        check(sample(fams, 'evpnmon_fpm_connections_total') == 1, 'one FPM connection')
        check(sample(fams, 'evpnmon_fpm_messages_total') >= 13, 'FPM messages')
        check(sample(fams, 'evpnmon_fpm_bytes_total') == len(cap) + 2 * (len(first) + 4), 'FPM bytes')
        check(sample(fams, 'evpnmon_fpm_malformed_messages_total') >= 1, 'malformed FPM message')
        check(sample(fams, 'evpnmon_fpm_broken_frames_total') >= 1, 'broken FPM frame')
        check(sample(fams, 'evpnmon_fpm_framing_resets_total') == 0, 'no framing reset yet')
        check(sample(fams, 'evpnmon_feed_snapshots_total') >= 1, 'feed snapshot')
        check(sample(fams, 'evpnmon_feed_state', state='synced') == 1, 'feed synced')
        check(sample(fams, 'evpnmon_macs_kept') == 1, 'the server MAC is kept')
        print('first scrape: %d families, sessions active/unknown/not-local 1/1/1, 4 entries, '
              '%d FPM messages' % (len(fams), c['fpm-messages']))

        # lost framing: the metrics follow the state
        fpm.sendall(b'\x07\x01\x00\x10' + b'\x00' * 12)
        wait_for(d, lambda s, c: c['fpm-framing-resets'] == 1 and not s['fpm']['connected'],
                 'the framing reset')
        fams, c = compare(d, expect_fpm_connected=0)
        check(sample(fams, 'evpnmon_fpm_framing_resets_total') == 1, 'framing reset counted')
        check(sample(fams, 'evpnmon_fpm_disconnections_total') == 1, 'disconnection counted')
        fpm.close()
        print('second scrape: FPM disconnected, framing resets 1')

        option_checks(build, d.dir)
        print('--metrics: non-loopback refused unless --metrics-any-address')


if __name__ == '__main__':
    run(main)
