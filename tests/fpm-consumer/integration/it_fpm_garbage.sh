#!/usr/bin/env bash
# The daemon survives hostile FPM input (loopback only, memory backend):
#   1. the recorded stock-zebra stream is decoded (counters move)
#   2. a frame with a broken netlink message is skipped and counted; the
#      connection stays up and the next good frame is still decoded
#   3. a lost framing (bad version) resets that connection only
#   4. a new connection after the reset is served again
#   5. a truncated stream followed by close is harmless
# Its state JSON validates against the YANG module throughout.
# usage: it_fpm_garbage.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build dir}" && pwd)
data=$here/../data
yang=$here/../../../yang/evpn-monitor.yang
dir=$(mktemp -d /tmp/fpmc-garbage.XXXXXX)
sock=$dir/c.sock
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$dir/c.log" >&2; exit 1; }

"$build/fpm-consumer/fpm-consumer" --backend memory --l2vni br100:@3:100 --fpm-port 0 \
	--state-socket "$sock" --feed "ipc://$dir/none.sock" --no-kernel-fdb --log-level debug \
	>"$dir/c.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "no state socket after 10 s"
js() { "$build/fpm-consumer/evpnmon-ctl" -s "$sock" --json; }
get() { js | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['evpn-monitor:fpm-consumer']; c={x['name']:int(x['value']) for x in d['counters']['counter']}; print(eval(sys.argv[1]))" "$1"; }
port=$(js | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['evpn-monitor:fpm-consumer']['fpm']['listen'].split(':')[1])")

/usr/bin/python3 - "$port" "$data/zebra-8.4.4-evpn.fpm" "$build/fpm-consumer/evpnmon-ctl" "$sock" <<'PY' || fail "a step was not read as expected"
import json, socket, struct, subprocess, sys, time
port, cap, ctl, sock = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), sys.argv[3], sys.argv[4]
def counters():
    out = subprocess.run([ctl, '-s', sock, '--json'], capture_output=True, text=True,
                         check=True, timeout=10).stdout
    d = json.loads(out)['evpn-monitor:fpm-consumer']
    return {x['name']: int(x['value']) for x in d['counters']['counter']}
def wait(pred, what):
    """Each step is read before the next is sent (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        c = counters()
        if pred(c):
            return
        time.sleep(0.05)
    sys.exit(f"FAIL: {what}; counters {dict((k, v) for k, v in c.items() if k.startswith('fpm-'))}")
def conn(n):
    s = socket.create_connection(("127.0.0.1", port))
    wait(lambda c: c['fpm-connections'] == n, f"connection {n} accepted")
    return s
def frame(payload, version=1):
    return struct.pack('>BBH', version, 1, len(payload) + 4) + payload
# 1+2: good stream, then a frame whose netlink length is broken, then a good frame
s = conn(1)
s.sendall(cap)
first = cap[4:struct.unpack('>H', cap[2:4])[0]]          # first netlink message
broken = bytearray(first); broken[0:4] = struct.pack('<I', 9999)
s.sendall(frame(bytes(broken)) + frame(first))
wait(lambda c: c['fpm-broken-frames'] >= 1 and c['fpm-malformed-messages'] >= 1
     and c['fpm-messages'] >= 13, "the broken frame skipped, the good one after it decoded")
# 3: lost framing on the same connection: that connection is reset
s.sendall(b'\x07\x01\x00\x10' + b'\x00' * 12)
wait(lambda c: c['fpm-framing-resets'] == 1 and c['fpm-disconnections'] == 1,
     "the connection reset for its lost framing")
try:
    s.sendall(frame(first)); s.sendall(frame(first))
except OSError:
    pass
s.close()
# 4: a new connection is served
s = conn(2); s.sendall(cap)
wait(lambda c: c['fpm-messages'] >= 25, "the second connection's stream decoded")
# 5: truncated frame, then close
s.sendall(cap[:7]); s.close()
wait(lambda c: c['fpm-disconnections'] == 2, "the truncated stream's connection closed")
PY
# every step was read before the next was sent (the waits above)
kill -0 "$pid" 2>/dev/null || fail "daemon died"
js >"$dir/state.json"
yanglint -t data "$yang" "$dir/state.json" || fail "state JSON does not validate"
[ "$(get "c['fpm-connections']")" = 2 ] || fail "connections: $(get "c['fpm-connections']")"
[ "$(get "c['fpm-disconnections']")" = 2 ] || fail "disconnections: $(get "c['fpm-disconnections']")"
[ "$(get "c['fpm-framing-resets']")" = 1 ] || fail "framing resets: $(get "c['fpm-framing-resets']")"
[ "$(get "c['fpm-broken-frames']")" -ge 1 ] || fail "broken frame not counted"
[ "$(get "c['fpm-malformed-messages']")" -ge 1 ] || fail "malformed message not counted"
# both full replays decoded: 2 x 12 messages, plus the good frame after the broken one
[ "$(get "c['fpm-messages']")" -ge 25 ] || fail "messages: $(get "c['fpm-messages']")"
echo "counters: $(get "{k:v for k,v in c.items() if k.startswith('fpm-')}")"
echo PASS
