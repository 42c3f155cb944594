#!/usr/bin/env bash
# A/B check of frr-plugin/patches/0201 (FRR PR #17504 backport): zebra with
# dplane_fpm_nl receives SIGTERM at the moment its FPM peer goes away, as when
# a whole leaf is stopped at once (zebra and the fpm-consumer together).
# The FPM pthread then runs fpm_reconnect() while the main pthread runs
# fpm_nl_finish_early(); without the patch the two can deadlock.
#
#   [FPM_MODULE=path/dplane_fpm_nl.so] check_zebra_shutdown.sh ZEBRA [RUNS]
#     ZEBRA: a zebra binary; its own dplane_fpm_nl is loaded (-M), e.g.
#            /usr/lib/frr/zebra (stock Debian) or build/frr/sbin/zebra,
#            unless FPM_MODULE names another build of the module
# Prints "hung H of RUNS" and exits 1 if any run hung (no exit within 10 s).
# BACKTRACE=FILE: write gdb's backtrace of every thread of a hung zebra there.
# Root; one private network namespace; bounded time; cleans up on exit.
set -euo pipefail
zebra=${1:?zebra binary}
runs=${2:-20}
id=zsd$$
ns=$id
dir=$(mktemp -d /tmp/$id.XXXXXX)
chown frr:frr "$dir"
port=2620
cleanup() {
	local rc=$?
	set +e
	for f in "$dir"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	[ -n "${srv:-}" ] && kill -9 "$srv" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
cat >"$dir/zebra.conf" <<CONF
log file $dir/zebra.log
fpm address 127.0.0.1 port $port
CONF
chown frr:frr "$dir/zebra.conf"
# FPM peer: accept, read, and exit at once on SIGTERM (the kernel closes the
# connection: zebra's FPM pthread sees EOF and runs fpm_reconnect())
cat >"$dir/fpm_peer.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept()
open(sys.argv[2], "w").close()
while c.recv(65536):
    pass
PY

hung=0
for i in $(seq "$runs"); do
	rm -f "$dir/connected" "$dir/zebra.pid" "$dir/zserv.api"
	ip netns exec "$ns" /usr/bin/python3 "$dir/fpm_peer.py" "$port" "$dir/connected" &
	srv=$!
	ip netns exec "$ns" "$zebra" -d -f "$dir/zebra.conf" -i "$dir/zebra.pid" \
		-z "$dir/zserv.api" --vty_socket "$dir" -P 0 -M "${FPM_MODULE:-dplane_fpm_nl}"
	for _ in $(seq 100); do [ -e "$dir/connected" ] && break; sleep 0.1; done
	[ -e "$dir/connected" ] || { echo "run $i: zebra never connected to the FPM peer" >&2; exit 2; }
	sleep 0.$((RANDOM % 5))
	zpid=$(cat "$dir/zebra.pid")
	kill -TERM "$srv" "$zpid"    # one kill(1): both signals within microseconds
	wait "$srv" 2>/dev/null || true
	srv=
	ok=0
	for _ in $(seq 100); do kill -0 "$zpid" 2>/dev/null || { ok=1; break; }; sleep 0.1; done
	if [ $ok = 0 ]; then
		hung=$((hung + 1))
		echo "run $i: zebra $zpid still running 10 s after SIGTERM" >&2
		if [ -n "${BACKTRACE:-}" ] && command -v gdb >/dev/null; then
			gdb -p "$zpid" -batch -ex "thread apply all bt" >"$BACKTRACE" 2>&1 || true
		fi
		kill -9 "$zpid" 2>/dev/null || true
	fi
done
echo "$zebra: hung $hung of $runs"
[ "$hung" = 0 ]
