#!/usr/bin/python3
"""The metrics endpoint of the real fpm-consumer against hostile clients
(memory backend, loopback, no root). The daemon must answer each with the
right status or close it, count it, keep serving scrapes and its FPM
input, and never block on one:

  - garbage (binary, a TLS hello), a lower-case method, HTTP/0.9 -> 400;
  - an oversized request head (100 kB), a huge request target -> 431;
  - another path -> 404, another method -> 405;
  - a truncated request then close -> closed, counted;
  - 200 idle connections at once (limit 16): a scrape still gets 200 (the
    oldest idle connections are evicted and counted);
  - a slow client (one byte a second) -> closed after the request timeout,
    counted; scrapes are served meanwhile;
  - a client that sends its request and never reads -> scrapes are served
    meanwhile;
  - a half-closed client (request, then SHUT_WR) -> still answered.
Exact counts: metrics-requests, metrics-bad-requests, metrics-timeouts,
metrics-connections-over-limit in evpnmon-ctl --json and in the metrics.

usage: it_metrics_http.py BUILD_DIR"""
import os
import socket
import time

from metrics_lib import Fail, capture, check, daemon, parse_exposition, run, sample


def exchange(port, data, shut=False, wait=5.0):
    """Send `data`, read until the server closes; returns (reply bytes,
    'closed' | 'reset')."""
    s = socket.create_connection(('127.0.0.1', port), timeout=wait)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused early and closed
        if shut:
            s.shutdown(socket.SHUT_WR)
        reply = b''
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return reply, 'reset'
            except socket.timeout:
                raise Fail('server kept the connection open after %r...' % data[:40])
            if not chunk:
                return reply, 'closed'
            reply += chunk
    finally:
        s.close()


def status_of(reply):
    line = reply.split(b'\r\n', 1)[0]
    parts = line.split(b' ')
    return int(parts[1]) if len(parts) > 1 and parts[0] == b'HTTP/1.1' else None


def main(build):
    good = 0     # 200 answers expected
    bad = 0      # metrics-bad-requests expected
    with daemon(build) as d:
        d.start()
        port = d.metrics_port

        def scrape_ok():
            nonlocal good
            status, _, body = d.scrape()
            check(status == 200, 'scrape: status %s' % status)
            _, errors = parse_exposition(body)
            check(not errors, 'scrape: %s' % errors[:5])
            good += 1
            return body

        scrape_ok()

        # refused requests: status and count
        cases = [
            (bytes(range(256)) * 4, 400, 'binary garbage'),
            (bytes.fromhex('1603010200010001fc0303') + os.urandom(64), 400, 'a TLS client hello'),
            (b'get /metrics HTTP/1.1\r\n\r\n', 400, 'lower-case method'),
            (b'GET /metrics\r\n\r\n', 400, 'HTTP/0.9'),
            (b'GET /metrics HTTP/1.1\r\nX-Pad: ' + b'a' * 100000 + b'\r\n\r\n', 431, 'a 100 kB header'),
            (b'GET /' + b'm' * 20000 + b' HTTP/1.1\r\n\r\n', 431, 'a 20 kB target'),
            (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'another path'),
            (b'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n', 405, 'another method'),
        ]
        for data, want, what in cases:
            reply, how = exchange(port, data)
            got = status_of(reply)
            # a refused client that is still sending may see a reset instead
            check(got == want or (got is None and how == 'reset' and want == 431),
                  '%s: got %r (%s), want %d' % (what, reply[:60], how, want))
            bad += 1
        print('garbage, oversized, wrong path/method: answered 400/431/404/405')

        # truncated request, then close: counted, nothing sent back
        reply, _ = exchange(port, b'GET /metrics HTT', shut=True)
        check(reply == b'', 'truncated request answered: %r' % reply[:60])
        bad += 1

        # half-closed client with a complete request: answered
        reply, _ = exchange(port, b'GET /metrics HTTP/1.0\r\n\r\n', shut=True)
        check(status_of(reply) == 200 and b'evpnmon_sessions' in reply, 'half-closed client: %r' % reply[:80])
        good += 1

        # many idle connections: a scrape still gets through
        idle = []
        for _ in range(200):
            idle.append(socket.create_connection(('127.0.0.1', port), timeout=5))
        # the table is full (those over its 16 closed) before the scrape
        deadline = time.monotonic() + 5
        while (d.counters()['metrics-connections-over-limit'] < 200 - 16
               and time.monotonic() < deadline):
            time.sleep(0.05)
        scrape_ok()
        for s in idle:
            s.close()
        c = d.counters()
        check(c['metrics-connections-over-limit'] >= 200 - 16,
              'over-limit connections: %d' % c['metrics-connections-over-limit'])
        check(c['metrics-timeouts'] == 0, 'timeouts: %d' % c['metrics-timeouts'])
        print('200 idle connections: scrape served, %d closed over the limit'
              % c['metrics-connections-over-limit'])

        # a slow client: closed after the request timeout (5 s); a client
        # that never reads its response; scrapes meanwhile
        slow = socket.create_connection(('127.0.0.1', port), timeout=15)
        deaf = socket.socket()
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        deaf.connect(('127.0.0.1', port))
        deaf.sendall(b'GET /metrics HTTP/1.1\r\n\r\n')
        good += 1
        t0 = time.time()
        closed_after = None
        req = b'GET /metrics HTTP/1.1\r\nX-Slow: ' + b'z' * 20
        for i, byte in enumerate(req):
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.time() - t0
                break
            slow.settimeout(1.0)
            try:
                if slow.recv(100) == b'':
                    closed_after = time.time() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_after = time.time() - t0
                break
            if i % 3 == 0:
                t = time.time()
                scrape_ok()
                check(time.time() - t < 2, 'a scrape took %.1f s while a slow client was there'
                      % (time.time() - t))
        slow.close()
        deaf.close()
        check(closed_after is not None and 4 <= closed_after <= 8,
              'slow client closed after %s s (request timeout 5 s)' % closed_after)
        print('slow client closed after %.1f s; scrapes served meanwhile' % closed_after)

        # still alive, FPM input still served, everything counted
        check(d.alive(), 'daemon died')
        fpm = socket.create_connection(('127.0.0.1', d.fpm_port()))
        fpm.sendall(capture())
        deadline = time.time() + 10
        while d.counters()['fpm-messages'] < 12:
            check(time.time() < deadline, 'FPM stream not decoded after the metrics abuse')
            time.sleep(0.1)
        fpm.close()
        body = scrape_ok()
        c = d.counters()
        check(c['metrics-requests'] == good, 'metrics-requests %d, want %d' % (c['metrics-requests'], good))
        check(c['metrics-bad-requests'] == bad, 'metrics-bad-requests %d, want %d' % (c['metrics-bad-requests'], bad))
        check(c['metrics-timeouts'] == 1, 'metrics-timeouts %d, want 1' % c['metrics-timeouts'])
        check(c['event-handler-errors'] == 0, 'event handler errors: %d' % c['event-handler-errors'])
        fams, _ = parse_exposition(body)
        check(sample(fams, 'evpnmon_metrics_bad_requests_total') == bad, 'bad requests in the metrics')
        check(sample(fams, 'evpnmon_metrics_timeouts_total') == 1, 'timeouts in the metrics')
        check(sample(fams, 'evpnmon_metrics_requests_total') == good - 1,
              'requests in the metrics (the scrape itself is counted after it)')
        print('counters: requests %d, bad %d, timeouts %d, over limit %d, connections %d'
              % (c['metrics-requests'], c['metrics-bad-requests'], c['metrics-timeouts'],
                 c['metrics-connections-over-limit'], c['metrics-connections']))


if __name__ == '__main__':
    run(main)
