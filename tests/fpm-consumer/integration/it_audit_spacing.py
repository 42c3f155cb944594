#!/usr/bin/env python3
"""The audits' share of the daemon's time (--audit-max-load), through the
running daemon (memory backend, loopback, no root). A fake bgpd serves 2,000
collector sessions (4,000 entries); --audit-interval 1 asks for an audit
every second. An audit's steps hold the event loop (about 0.4 s in all at
100,000 sessions), so the next one waits at least their cost * 100 /
--audit-max-load:

  * --audit-max-load 0: an audit every second or so (the full-pass counter,
    one per audit's check, grows by 3 within 10 s);
  * --audit-max-load 0.001: after the first audit, one log line says when
    the next comes and why (at least 100,000 times its cost: minutes), and
    that the audit ran in steps (its longest step shorter than the whole);
    no second audit comes within the next 4 s; SIGUSR1 starts one from the
    next tick;
  * --audit-max-load 0.2 (500 times the cost: seconds): the next audit
    comes when the log line said, within a second or two, not never;
  * --audit-part 100: each audit re-reads its 4,000 entries in 20 parts
    of 200, a turn of the event loop each, its check decides the 2,000
    sessions in 20 more, and its repair compares and diffs their 4,000
    entries in 40 more (the audit-parts counter, at least 60 per audit; 3
    per audit with the default part of 4,096), and the audits still end
    and find nothing to repair; one audit asked with SIGUSR1 (no other for
    an hour) counts its 80 parts (61 with a re-read in one part: the
    three audits' bound is too loose to tell, the window's edges cut
    audits);
  * every daemon stops cleanly.

usage: it_audit_spacing.py BUILD_DIR"""
import contextlib
import re
import signal
import time

import metrics_lib
from metrics_lib import Fail, check, run

FEED = ['--generate', '2000,100,192.0.2.9']
ENTRIES = 4000
# An audit in parts of --audit-part 100: the re-read's 4,000 entries in 20,
# the check's 2,000 sessions in 20, the repair's 4,000 keys compared and
# 4,000 diffed in 40.
ONE_AUDIT_PARTS = 80


def wait_for(d, cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        check(d.alive(), 'daemon died: %s' % d.tail_log())
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise Fail('timeout waiting for %s' % what)


def full_passes(d):
    return d.counters()['full-passes']


def audit_parts(d):
    return d.counters()['audit-parts']


@contextlib.contextmanager
def daemon(build, load, extra=(), interval='1'):
    """The daemon at --audit-max-load `load` with its entries installed
    (metrics_lib.daemon: its log on a failure, a clean stop at the end)."""
    with metrics_lib.daemon(build, ['--startup-grace', '0', '--audit-interval', interval,
                                    '--audit-max-load', load, *extra]) as d:
        d.start_feed([], FEED)
        d.start()
        wait_for(d, lambda: len(d.state()['entries'].get('entry', [])) == ENTRIES,
                 'the %d entries' % ENTRIES, timeout=30)
        yield d


def every_interval(build):
    with daemon(build, '0') as d:
        p0, parts0 = full_passes(d), audit_parts(d)
        wait_for(d, lambda: full_passes(d) >= p0 + 3, 'three audits one second apart')
        check('--audit-max-load' not in open(d.log).read(), 'no spacing logged with 0')
        # 2,000 sessions, parts of 4,096: each re-read reads in one part,
        # each check decides in one, each repair in one (three more for an
        # audit under way at either end of the window).
        passes, parts = full_passes(d) - p0, audit_parts(d) - parts0
        check(3 * passes - 3 <= parts <= 3 * passes + 3, '%d audit parts for %d audits'
              % (parts, passes))


def in_parts(build):
    with daemon(build, '0', ['--audit-part', '100']) as d:
        p0, parts0 = full_passes(d), audit_parts(d)
        wait_for(d, lambda: full_passes(d) >= p0 + 3, 'three audits in parts')
        # Every audit counted but the first had its 80 parts in the window.
        passes, parts = full_passes(d) - p0, audit_parts(d) - parts0
        check(parts >= 60 * (passes - 1) and parts >= 120,
              '%d audit parts for %d audits of 2,000 sessions in parts of 100' % (parts, passes))
        check(d.counters()['full-pass-differences'] == 0, 'an audit in parts found differences')
        check(len(d.state()['entries'].get('entry', [])) == ENTRIES, 'entries lost')


def one_audit_in_parts(build):
    # No audit of its own for an hour: the one SIGUSR1 asks for is all the
    # counters see. Its 80 parts (20 of the re-read, 20 of the check, 40
    # of the repair); a re-read in one part would leave it at 61.
    with daemon(build, '0', ['--audit-part', '100'], interval='3600') as d:
        p0, parts0 = full_passes(d), audit_parts(d)
        d.proc.send_signal(signal.SIGUSR1)
        wait_for(d, lambda: full_passes(d) == p0 + 1, 'the audit SIGUSR1 asks for')
        wait_for(d, lambda: audit_parts(d) - parts0 >= ONE_AUDIT_PARTS,
                 'the %d parts of one audit' % ONE_AUDIT_PARTS)
        check(d.counters()['full-pass-differences'] == 0, 'the audit found differences')
        check(len(d.state()['entries'].get('entry', [])) == ENTRIES, 'entries lost')


def spaced(build):
    with daemon(build, '0.001') as d:
        line = wait_for(d, lambda: re.search(
            r'audit took ([\d.]+) ms \(longest step ([\d.]+) ms\): the next in ([\d.]+) s, so '
            r'that audits take at most 0\.001 % of the time \(--audit-max-load\)',
            open(d.log).read()), 'the spacing logged')
        check(float(line.group(3)) >= 10, 'the next audit in %s s' % line.group(3))
        check(float(line.group(2)) < float(line.group(1)), 'the audit in one step: %s'
              % line.group(0))
        p1 = full_passes(d)
        time.sleep(4)  # the absence of an audit can only be seen over a window
        check(full_passes(d) == p1, 'an audit came within 4 s: %d -> %d full passes'
              % (p1, full_passes(d)))
        d.proc.send_signal(signal.SIGUSR1)
        wait_for(d, lambda: full_passes(d) == p1 + 1, 'the audit SIGUSR1 asks for')


def spaced_then_due(build):
    with daemon(build, '0.2') as d:
        line = wait_for(d, lambda: re.search(
            r'audit took [\d.]+ ms \(longest step [\d.]+ ms\): the next in ([\d.]+) s, so that '
            r'audits take at most 0\.2 % ',
            open(d.log).read()), 'the spacing logged')
        seen, gap = time.monotonic(), float(line.group(1))
        print('spaced audit: the next in %.1f s' % gap)
        check(1 < gap <= 30, 'the next audit in %s s: the audit cost more than 60 ms or '
              'less than 2 ms' % gap)
        p1 = full_passes(d)
        wait_for(d, lambda: full_passes(d) > p1, 'the spaced audit', timeout=gap + 3)
        # the gap counts from the audit's start, a little before the line
        check(time.monotonic() - seen >= gap - 1.5, 'the audit came %.1f s after the line, '
              'not %.1f s' % (time.monotonic() - seen, gap))


def main(build):
    every_interval(build)
    in_parts(build)
    one_audit_in_parts(build)
    spaced(build)
    spaced_then_due(build)
    print('audits every --audit-interval at load 0; spaced by their cost at load 0.001 '
          '(logged, in steps, none within 4 s, SIGUSR1 starts one); at load 0.2 the spaced audit '
          'comes when logged; the re-read, the check and the repair in parts of --audit-part')


if __name__ == '__main__':
    run(main)
