#!/usr/bin/env python3
"""The import decision and the audit through the running daemon (memory
backend, loopback, no root): a fake bgpd of feed version 4 serves an
installed collector session, a denied one and one over a limit. Checked:
only the installed one gets entries; the held ones are shown with their
decision and reason (evpnmon-ctl sessions and --json); one audit line per
session in the log; `evpnmon-ctl history [N] [--json]` with a ring of 2
(--audit-history from the options file) and the JSON against the YANG
module (yanglint); the metrics (sessions by state, audit events, decap
drops and ceiling counters); the mirror ceiling read from the file.

usage: it_trust.py BUILD_DIR"""
import json
import os
import shutil
import socket
import subprocess

from metrics_lib import check, daemon, parse_exposition, run, sample, wait_for

HOST = '02:00:00:00:01:01'
SESSIONS = ['100,%s,c9,10.9.0.1,3,9|installed|rule 20 permit' % HOST,
            '100,%s,c10,10.9.0.2,3,10|denied|rule 10 deny (collector prefix-list LAB)' % HOST,
            '100,%s,c11,10.9.0.3,3,11|over-limit|maximum-sessions 1 reached' % HOST]
YANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'yang')


def ctl(d, *args):
    return subprocess.run([d.ctl, '-s', d.sock] + list(args), capture_output=True, text=True,
                          timeout=10, check=True).stdout


def main(build):
    with daemon(build, ['--startup-grace', '0']) as d:
        conf = os.path.join(d.dir, 'fpm-consumer.toml')
        with open(conf, 'w') as f:
            f.write('audit-history = 2\nmirror-ceiling = "20m"\n'
                    'mirror-ceiling-packets = "2k"\n')
        d.args += ['--config', conf]
        d.start_feed(SESSIONS, ['--feed-version', '4'])
        d.start()
        s = wait_for(d, lambda s: s['feed']['state'] == 'synced'
                     and len(s['sessions'].get('session', [])) == 3
                     and len(s['entries'].get('entry', [])) == 2, 'the sessions and entries')
        check(s['feed'].get('version') == 4, 'feed version %s' % s['feed'].get('version'))
        by_id = {x['collector-id']: x for x in s['sessions']['session']}
        check(by_id[9]['status'] == 'active' and by_id[9]['import-state'] == 'installed',
              'c9 %s' % by_id[9])
        check(by_id[10]['status'] == 'denied'
              and by_id[10]['import-reason'] == 'rule 10 deny (collector prefix-list LAB)',
              'c10 %s' % by_id[10])
        check(by_id[11]['status'] == 'over-limit', 'c11 %s' % by_id[11])
        for e in s['entries']['entry']:
            check(e['collector-id'] == 9, 'an entry of a held session: %s' % e)

        log = open(d.log).read()
        check('mirror ceiling 20000000 bit/s' in log, 'ceiling from the file: %s' % log[-600:])
        check('2000 copies/s, burst 64 copies' in log,
              'packet ceiling from the file: %s' % log[-600:])
        for cid, kind in ((9, 'install'), (10, 'deny'), (11, 'refuse')):
            line = [ln for ln in log.splitlines()
                    if 'audit: %s session 10.0.0.1/100/c%d/' % (kind, cid) in ln]
            check(len(line) == 1, 'audit line of c%d: %s' % (cid, log[-800:]))
            check('originator 10.0.0.1 vni 100 host %s - dest collector %d 10.9.0.%d'
                  % (HOST, cid, cid - 8) in line[0], 'audit line %s' % line[0])

        hist = json.loads(ctl(d, '--json', 'history'))['evpn-monitor:fpm-consumer']['audit']
        check(hist['capacity'] == 2 and hist['events-total'] == '3', 'history %s' % hist)
        check([e['event'] for e in hist['event']] == ['deny', 'refuse'] or
              [e['event'] for e in hist['event']] == ['refuse', 'deny'], 'history %s' % hist)
        one = json.loads(ctl(d, '--json', 'history', '1'))['evpn-monitor:fpm-consumer']['audit']
        check(len(one['event']) == 1 and one['event'][0] == hist['event'][-1], 'history 1 %s' % one)
        text = ctl(d, 'history')
        check(text.startswith('2 event(s) shown, 3 recorded since start, 2 kept'), 'text %s' % text)
        check('reason: maximum-sessions 1 reached' in text, 'text %s' % text)
        out = ctl(d, 'sessions')
        check('not installed: denied, rule 10 deny (collector prefix-list LAB)' in out,
              'evpnmon-ctl sessions: %s' % out)

        status, _, body = d.scrape()
        check(status == 200, 'scrape status %s' % status)
        fams, errors = parse_exposition(body)
        check(not errors, 'exposition: %s' % errors[:5])
        check(sample(fams, 'evpnmon_sessions', state='denied') == 1, 'metric denied')
        check(sample(fams, 'evpnmon_sessions', state='over-limit') == 1, 'metric over-limit')
        check(sample(fams, 'evpnmon_sessions_installed') == 1, 'metric installed')
        check(sample(fams, 'evpnmon_audit_events_total') == 3, 'metric audit events')
        check(sample(fams, 'evpnmon_audit_denials_total') == 1, 'metric denials')
        for fam in ('evpnmon_decap_drops_unknown_source_total',
                    'evpnmon_mirror_ceiling_dropped_packets_total',
                    'evpnmon_mirror_ceiling_dropped_by_packet_rate_total',
                    'evpnmon_decap_sources'):
            check(fam in fams, 'family %s' % fam)

        # "status": gates, FPM, feed and counters without the sessions and
        # entries (what monitoring polls); the counters are the state's
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as so:
            so.settimeout(10)
            so.connect(d.sock)
            so.sendall(b'status\n')
            raw = b''
            while chunk := so.recv(65536):
                raw += chunk
        status = json.loads(raw)['evpn-monitor:fpm-consumer']
        full = json.loads(ctl(d, '--json'))['evpn-monitor:fpm-consumer']
        check(sorted(status) == ['counters', 'feed', 'fpm', 'gates'],
              'status parts: %s' % sorted(status))
        check(full['sessions']['session'], 'the full state lists the sessions')
        names = lambda doc: sorted(c['name'] for c in doc['counters']['counter'])  # noqa: E731
        check(names(status) == names(full), 'status counters are the state counters')
        check(json.loads(ctl(d, '--json', 'counters'))['evpn-monitor:fpm-consumer']['counters']
              ['counter'], 'evpnmon-ctl counters from the status answer')

        if shutil.which('yanglint'):
            for name, doc in (('state', ctl(d, '--json')), ('history', ctl(d, '--json', 'history')),
                              ('status', json.dumps({'evpn-monitor:fpm-consumer': status}))):
                js = os.path.join(d.dir, name + '.json')
                with open(js, 'w') as f:
                    f.write(doc)
                r = subprocess.run(['yanglint', '-p', YANG, '-t', 'data',
                                    os.path.join(YANG, 'evpn-monitor.yang'), js],
                                   capture_output=True, text=True, timeout=30)
                check(r.returncode == 0, 'yanglint %s: %s' % (name, (r.stdout + r.stderr)[-800:]))
        print('held sessions shown and never installed, audited once each, history ring of 2, '
              'metrics, ceiling from --config')


if __name__ == '__main__':
    run(main)
