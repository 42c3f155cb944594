#!/usr/bin/env python3
"""Collector sessions through the running daemon (memory backend, loopback,
no root): a fake bgpd (fpmc-fake-feed, feed version 3) serves a collector
session, an IPv6 collector session and a server session; the daemon reads
its ERSPAN HW ID from an options file (--config). Checked: the state
(entries 1 and 2 with the erspan action, no entry 3, collector-unsupported),
the one log line of the IPv6 collector, evpnmon-ctl's collectors view, the
metrics, the JSON against the YANG module (yanglint), and a clean stop.

usage: it_collectors.py BUILD_DIR"""
import os
import shutil
import subprocess

from metrics_lib import check, daemon, parse_exposition, run, sample, wait_for

HOST = '02:00:00:00:01:01'
SESSIONS = ['100,%s,c9,10.9.0.1,3,9' % HOST,        # ERSPAN III to 10.9.0.1, span 9
            '100,%s,c10,2001:db8::1,2' % HOST,        # an IPv6 collector
            '100,02:00:00:00:01:02,7,02:00:00:00:02:20']  # a server session (server unknown)
YANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'yang')


def main(build):
    # an audit every second: a reconcile every second
    with daemon(build, ['--startup-grace', '0', '--audit-interval', '1']) as d:
        conf = os.path.join(d.dir, 'fpm-consumer.toml')
        with open(conf, 'w') as f:
            f.write('erspan-hw-id = 5\n')
        d.args += ['--config', conf]
        d.start_feed(SESSIONS)
        d.start()
        s = wait_for(d, lambda s: s['feed']['state'] == 'synced'
                     and len(s['sessions'].get('session', [])) == 3
                     and len(s['entries'].get('entry', [])) == 4, 'the sessions and entries')
        log = open(d.log).read()
        check('ERSPAN HW ID 5, options from %s' % conf in log, 'HW ID from the file: %s' % log[-500:])
        check(s['feed'].get('version') == 3, 'feed version %s' % s['feed'].get('version'))
        # a version-3 bgpd decides nothing: installed, and the audit says why
        check(log.count('decision installed (was new) reason "bgpd feed version 3: no import policy"') == 3,
              'audit lines: %s' % log[-800:])

        by_id = {x.get('collector-id', x.get('host-id')): x for x in s['sessions']['session']}
        c9, c10 = by_id[9], by_id[10]
        check(c9['status'] == 'active', 'c9 status %s' % c9['status'])
        check(c9['session-id'] == '10.0.0.1/100/c9/%s/-' % HOST, 'c9 id %s' % c9['session-id'])
        check(c9['collector-ip'] == '10.9.0.1' and c9['erspan']['version'] == 3
              and c9['erspan']['span-id'] == 9 and c9['erspan']['ttl'] == 64, 'c9 %s' % c9)
        check(c9['roles'] == {'entry1': True, 'entry2': True, 'entry3': False}, 'c9 roles')
        check('server-location' not in c9, 'a collector has no location')
        check(c10['status'] == 'collector-unsupported', 'c10 status %s' % c10['status'])
        # the server session's entries stay without a target (server unknown)
        ours = [e for e in s['entries']['entry'] if 'collector-id' in e]
        theirs = [e for e in s['entries']['entry'] if 'collector-id' not in e]
        check(sorted(e['action']['type'] for e in theirs) == ['none', 'none'],
              'the server session\'s entries %s' % theirs)
        kinds = sorted(e['kind'] for e in ours)
        check(kinds == ['mirror-dest', 'mirror-source'], 'entries %s' % kinds)
        for e in ours:
            check(e['collector-id'] == 9 and e['action']['type'] == 'erspan'
                  and e['action']['collector'] == '10.9.0.1' and e['action']['span-id'] == 9,
                  'entry %s' % e)
        cols = s['collectors']['collector']
        check(len(cols) == 1 and cols[0]['collector'] == '10.9.0.1' and cols[0]['entries'] == 2,
              'collectors %s' % cols)
        counters = {c['name']: int(c['value']) for c in s['counters']['counter']}
        check(counters['sessions-collector'] == 1 and counters['sessions-collector-unsupported'] == 1,
              'collector counters')

        # the IPv6 collector is logged once, however many reconciles follow
        r0 = counters['reconciles']
        wait_for(d, lambda s: int({c['name']: c['value'] for c in s['counters']['counter']}['reconciles'])
                 >= r0 + 3, 'three more reconciles')
        log = open(d.log).read()
        n = log.count('collector-unsupported')
        check(n == 1, 'collector-unsupported logged %d times: %s' % (n, log[-800:]))

        out = subprocess.run([d.ctl, '-s', d.sock, 'collectors'], capture_output=True, text=True,
                             timeout=10, check=True).stdout.splitlines()
        check(len(out) == 2 and out[0].startswith('COLLECTOR') and out[1].split()[:3] == ['10.9.0.1', '9', '3'],
              'evpnmon-ctl collectors: %s' % out)
        out = subprocess.run([d.ctl, '-s', d.sock, 'sessions'], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        check(' c9 ' in out and 'collector-unsupported' in out, 'evpnmon-ctl sessions: %s' % out)

        status, _, body = d.scrape()
        check(status == 200, 'scrape status %s' % status)
        fams, errors = parse_exposition(body)
        check(not errors, 'exposition: %s' % errors[:5])
        check(sample(fams, 'evpnmon_sessions', state='collector-unsupported') == 1, 'metric unsupported')
        check(sample(fams, 'evpnmon_sessions', state='active') == 1, 'metric active')
        check(sample(fams, 'evpnmon_sessions_collector') == 1, 'metric collector sessions')
        check(sample(fams, 'evpnmon_entry_packets_total', kind='mirror-source', vni='100',
                     host_mac=HOST, host_ip='', host_id='', collector_id='9',
                     session='10.0.0.1/100/c9/%s/-' % HOST) == 0, 'entry 1 of c9')
        for fam in ('evpnmon_erspan_packets_total', 'evpnmon_erspan_no_route_total',
                    'evpnmon_erspan_last_seq'):
            check(fam in fams, 'family %s' % fam)

        if shutil.which('yanglint'):
            js = os.path.join(d.dir, 'state.json')
            with open(js, 'w') as f:
                f.write(subprocess.run([d.ctl, '-s', d.sock, '--json'], capture_output=True,
                                       text=True, timeout=10, check=True).stdout)
            r = subprocess.run(['yanglint', '-p', YANG, '-t', 'data',
                                os.path.join(YANG, 'evpn-monitor.yang'), js],
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, 'yanglint: %s' % (r.stdout + r.stderr)[-800:])
        print('collector session active with 2 entries, IPv6 collector-unsupported (logged once), '
              'ctl and metrics show them, HW ID from --config')


if __name__ == '__main__':
    run(main)
