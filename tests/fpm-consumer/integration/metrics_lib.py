"""Helpers of the daemon's integration tests without root (it_metrics.py,
it_metrics_http.py, it_collectors.py, it_trust.py, it_audit_spacing.py):
run the real fpm-consumer (memory backend, loopback), wait on its state read
with evpnmon-ctl --json, scrape its metrics endpoint, and parse the
Prometheus text format 0.0.4 strictly."""
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', 'data')


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Daemon:
    """fpm-consumer --backend memory, metrics on 127.0.0.1:<ephemeral>."""

    def __init__(self, build, extra_args=(), feed=None):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix='fpmc-metrics.')
        self.sock = os.path.join(self.dir, 'c.sock')
        self.log = os.path.join(self.dir, 'c.log')
        self.feed_endpoint = feed or 'ipc://%s/none.sock' % self.dir
        self.procs = []
        self.consumer = os.path.join(build, 'fpm-consumer', 'fpm-consumer')
        self.ctl = os.path.join(build, 'fpm-consumer', 'evpnmon-ctl')
        self.args = [self.consumer, '--backend', 'memory', '--l2vni', 'br100:@3:100',
                     '--fpm-port', '0', '--state-socket', self.sock, '--feed', self.feed_endpoint,
                     '--no-kernel-fdb', '--metrics', '127.0.0.1:0'] + list(extra_args)
        self.proc = None
        self.metrics_port = None

    def start_feed(self, sessions, extra_args=()):
        """fpmc-fake-feed serving `sessions` (VNI,HOSTMAC,HOSTID,SERVERMAC)."""
        tool = os.path.join(self.build, 'fpm-consumer', 'tests', 'fpmc-fake-feed')
        args = [tool, '--bind', self.feed_endpoint] + list(extra_args)
        for s in sessions:
            args += ['--session', s]
        self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(self.dir, 'feed.log'), 'w')))

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=open(self.log, 'w'), stderr=subprocess.STDOUT)
        self.procs.append(self.proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            check(self.proc.poll() is None, 'daemon exited at start (rc %s)' % self.proc.returncode)
            m = re.search(r'metrics: listening on 127\.0\.0\.1:(\d+)', open(self.log).read())
            if m and os.path.exists(self.sock):
                self.metrics_port = int(m.group(1))
                return
            time.sleep(0.05)
        raise Fail('no metrics endpoint / state socket after 10 s')

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def state(self):
        out = subprocess.run([self.ctl, '-s', self.sock, '--json'], check=True,
                             capture_output=True, text=True, timeout=10).stdout
        return json.loads(out)['evpn-monitor:fpm-consumer']

    def counters(self):
        return {c['name']: int(c['value']) for c in self.state()['counters']['counter']}

    def fpm_port(self):
        return int(self.state()['fpm']['listen'].split(':')[1])

    def url(self, path='/metrics'):
        return 'http://127.0.0.1:%d%s' % (self.metrics_port, path)

    def scrape(self, path='/metrics'):
        """(status, content type, body) of GET `path` with urllib (never
        through a proxy from the environment)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url(path), timeout=10) as r:
                return r.status, r.headers.get('Content-Type'), r.read().decode('utf-8')
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get('Content-Type'), e.read().decode('utf-8')

    def stop(self):
        """SIGTERM everything started; returns the daemon's exit status
        (0: a clean stop)."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return self.proc.returncode if self.proc else None

    def tail_log(self, n=30):
        try:
            return ''.join(open(self.log).readlines()[-n:])
        except OSError:
            return ''


@contextlib.contextmanager
def daemon(build, extra_args=(), feed=None):
    """A Daemon for the `with` body, which starts its feed and itself. On a
    failure its log is printed; at the end it must still run and then stop
    cleanly on SIGTERM; whatever it started is stopped and its directory
    removed in any case."""
    d = Daemon(build, extra_args, feed)
    try:
        yield d
        check(d.alive(), 'daemon died')
        rc = d.stop()
        check(rc == 0, 'the daemon did not stop cleanly on SIGTERM (rc %s)' % rc)
    except Exception:
        print(d.tail_log())
        raise
    finally:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)


def wait_for(d, cond, what, timeout=15):
    """Polls cond(state) every 0.1 s until it is true and returns the state
    (evpnmon-ctl --json); the daemon must stay alive meanwhile."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        check(d.alive(), 'daemon died: %s' % d.tail_log())
        s = d.state()
        if cond(s):
            return s
        time.sleep(0.1)
    raise Fail('timeout waiting for %s' % what)


def fpm_frame(payload, version=1):
    return struct.pack('>BBH', version, 1, len(payload) + 4) + payload


def capture(name='zebra-8.4.4-evpn'):
    return open(os.path.join(DATA, name + '.fpm'), 'rb').read()


# --- Prometheus text format 0.0.4, strictly --------------------------------

NAME = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')


def _value(text):
    if text in ('+Inf', '-Inf', 'NaN'):
        return float(text.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.match(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$', text):
        raise ValueError(text)
    return float(text)


def _labels(s, errors, ln):
    """Parse 'a="x",b="y"' (without braces); returns dict."""
    out, i = {}, 0
    while i < len(s):
        eq = s.find('=', i)
        if eq < 0 or eq + 1 >= len(s) or s[eq + 1] != '"':
            errors.append('line %d: bad label set' % ln)
            return out
        name = s[i:eq]
        if not LABEL.match(name) or name.startswith('__'):
            errors.append('line %d: bad label name %r' % (ln, name))
        j, val = eq + 2, ''
        while j < len(s) and s[j] != '"':
            if s[j] == '\\':
                j += 1
                esc = s[j] if j < len(s) else ''
                if esc == 'n':
                    val += '\n'
                elif esc in ('\\', '"'):
                    val += esc
                else:
                    errors.append('line %d: bad escape' % ln)
            else:
                val += s[j]
            j += 1
        if j >= len(s):
            errors.append('line %d: unterminated label value' % ln)
            return out
        if name in out:
            errors.append('line %d: label %s twice' % (ln, name))
        out[name] = val
        i = j + 1
        if i < len(s):
            if s[i] != ',':
                errors.append('line %d: expected , in label set' % ln)
                return out
            i += 1
    return out


def parse_exposition(text):
    """-> (families {name: {'type','help','samples':[(name, labels, value, raw)]}}, errors)"""
    errors, families, order, closed, series = [], {}, [], set(), set()
    cur = None
    if text and not text.endswith('\n'):
        errors.append('no final newline')
    for ln, line in enumerate(text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'), 1):
        if line.startswith('#'):
            m = re.match(r'^# (HELP|TYPE) (\S+)(?: (.*))?$', line)
            if not m:
                errors.append('line %d: unexpected comment %r' % (ln, line))
                continue
            kw, name, rest = m.group(1), m.group(2), m.group(3) or ''
            if not NAME.match(name):
                errors.append('line %d: bad metric name %r' % (ln, name))
            if cur != name:
                if cur:
                    closed.add(cur)
                if name in closed:
                    errors.append('line %d: family %s not contiguous' % (ln, name))
                cur = name
                families.setdefault(name, {'type': None, 'help': None, 'samples': []})
                order.append(name)
            f = families[name]
            if f['samples']:
                errors.append('line %d: %s after samples of %s' % (ln, kw, name))
            if kw == 'HELP':
                if f['help'] is not None:
                    errors.append('line %d: second HELP for %s' % (ln, name))
                if re.search(r'\\[^\\n]|\\$', rest):
                    errors.append('line %d: bad escape in HELP' % ln)
                f['help'] = rest
            else:
                if f['type'] is not None:
                    errors.append('line %d: second TYPE for %s' % (ln, name))
                if rest not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
                    errors.append('line %d: bad TYPE %r' % (ln, rest))
                f['type'] = rest
            continue
        m = re.match(r'^([^{ ]+)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$', line)
        if not m:
            errors.append('line %d: not a sample: %r' % (ln, line))
            continue
        name, lab, raw = m.group(1), m.group(2) or '', m.group(3)
        if not NAME.match(name):
            errors.append('line %d: bad sample name %r' % (ln, name))
        labels = _labels(lab, errors, ln)
        try:
            value = _value(raw)
        except ValueError:
            errors.append('line %d: bad value %r' % (ln, raw))
            value = float('nan')
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            errors.append('line %d: duplicate series %r' % (ln, key))
        series.add(key)
        f = families.get(cur)
        if f is None or f['type'] is None:
            errors.append('line %d: sample %s before its TYPE' % (ln, name))
            continue
        ok = name == cur or (f['type'] == 'histogram' and name in (cur + '_bucket', cur + '_sum', cur + '_count'))
        if not ok:
            errors.append('line %d: sample %s outside its family %s' % (ln, name, cur))
        f['samples'].append((name, labels, value, raw))
    for name, f in families.items():
        if f['help'] is None or f['type'] is None:
            errors.append('%s: no HELP or no TYPE' % name)
        if f['type'] == 'counter' and not name.endswith('_total'):
            errors.append('counter %s does not end in _total' % name)
        if f['type'] == 'histogram':
            buckets = [(_value(l['le']), v) for n, l, v, _ in f['samples'] if n == name + '_bucket']
            les = [b[0] for b in buckets]
            counts = [b[1] for b in buckets]
            if les != sorted(les) or len(set(les)) != len(les):
                errors.append('%s: le not increasing' % name)
            if counts != sorted(counts):
                errors.append('%s: buckets not cumulative' % name)
            if not les or not math.isinf(les[-1]):
                errors.append('%s: no +Inf bucket' % name)
            sums = [v for n, l, v, _ in f['samples'] if n == name + '_sum']
            cnts = [v for n, l, v, _ in f['samples'] if n == name + '_count']
            if len(sums) != 1 or len(cnts) != 1:
                errors.append('%s: no _sum or _count' % name)
            elif counts and counts[-1] != cnts[0]:
                errors.append('%s: +Inf bucket != _count' % name)
    return families, errors


def sample(families, name, **labels):
    """Value of one sample (labels must match exactly), or None."""
    for f in families.values():
        for n, l, v, _ in f['samples']:
            if n == name and l == labels:
                return v
    return None


def metric_name(counter, type_):
    return 'evpnmon_' + counter.replace('-', '_') + ('_total' if type_ == 'counter' else '')


def run(main):
    """Run main(build_dir) and print PASS, or FAIL with the reason."""
    build = os.path.abspath(sys.argv[1])
    try:
        main(build)
    except Fail as e:
        print('FAIL: %s' % e, file=sys.stderr)
        sys.exit(1)
    print('PASS')
