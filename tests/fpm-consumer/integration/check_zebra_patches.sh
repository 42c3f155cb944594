#!/usr/bin/env bash
# Functional check of frr-plugin/patches/0201 and 0202 with a zebra built
# from the patched tree (only zebra + libfrr need to be built):
#   ZEBRA1=<tree>/zebra/zebra FPM_MODULE=<tree>/zebra/.libs/dplane_fpm_nl.so \
#     check_zebra_patches.sh
# 0202: a remote MAC installed before the FPM connection must now be sent
#       (stock 8.4.4 never sends it: see data/zebra-8.4.4-evpn.fpm).
# 0201: zebra must exit promptly on SIGTERM while its FPM connection flaps
#       (the FPM pthread is then often in fpm_reconnect()).
# Root; bounded time; cleans up on exit. Prints PASS or FAIL lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${ZEBRA1:?patched zebra}" "${FPM_MODULE:?patched dplane_fpm_nl.so}"
. "$here/lab.sh"
trap lab_down EXIT
out=$LAB_DIR/replay.fpm
rc=0

lab_up
# MAC A appears before zebra even starts its FPM client
lab_host "$L2" hpa 02:00:00:00:02:10
timeout 60 ip netns exec "$L1" /usr/bin/python3 "$here/record_fpm.py" "$FPM_PORT" "$out" 20 &
rec=$!
wait_for "lab_ns $L1 ss -Hltn sport = :$FPM_PORT | grep -q ." 10 # the recorder listens
lab_start_frr
wait_for "lab_ns $L1 bridge fdb show dev vxlan100 | grep -q 02:00:00:00:02:10" 30
wait_for "test -e $out.connected" 20
# The stream (written as it arrives) holds an RTM_NEWNEIGH for MAC A: zebra
# replayed it. 15 s at most; then the check below says FAIL.
cat >"$LAB_DIR/has_neigh.py" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
o, found = 0, False
while o + 4 <= len(d):
    l = struct.unpack('>H', d[o+2:o+4])[0]
    if l < 4:
        break
    p = d[o+4:o+l]
    if len(p) >= 16 and struct.unpack('<H', p[4:6])[0] == 28 and bytes.fromhex('020000000210') in p:
        found = True
    o += l
sys.exit(0 if found else 1)
PY
wait_for "/usr/bin/python3 $LAB_DIR/has_neigh.py $out" 15 || true
lab_kill leaf1 zebra
wait $rec || true
[ -n "${KEEP_CAPTURE:-}" ] && cp "$out" "$KEEP_CAPTURE"
if /usr/bin/python3 "$LAB_DIR/has_neigh.py" "$out"
then echo "PASS 0202: RTM_NEWNEIGH for a MAC installed before the FPM connection was replayed"
else echo "FAIL 0202: no RTM_NEWNEIGH for 02:00:00:00:02:10 in the stream"; rc=1; fi

# 0201: flapping FPM server, SIGTERM, bounded wait
# (one line per accepted connection in $accepts)
accepts=$LAB_DIR/flap.accepts
: >"$accepts"
cat >"$LAB_DIR/flap.py" <<'PY'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
with open(sys.argv[2], "a") as log:
    while True:
        c, _ = s.accept(); log.write("accept\n"); log.flush(); time.sleep(0.05); c.close()
PY
ip netns exec "$L1" /usr/bin/python3 "$LAB_DIR/flap.py" "$FPM_PORT" "$accepts" &
flap=$!
hung=0
flapped=0
for i in 1 2 3 4 5; do
	n0=$(wc -l <"$accepts")
	lab_start_zebra1
	# this zebra connected, was dropped and reconnected (it went through
	# fpm_reconnect()); then a jitter, so that SIGTERM lands at another
	# point of the reconnect cycle each run
	if wait_for "[ \$(wc -l <$accepts) -ge $((n0 + 2)) ]" 20; then
		flapped=$((flapped + 1))
	fi
	sleep "0.$((i * 2))"
	pid=$(cat "$LAB_DIR/leaf1/zebra.pid")
	kill "$pid"
	ok=0
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { ok=1; break; }; sleep 0.1; done
	if [ $ok = 0 ]; then hung=$((hung + 1)); kill -9 "$pid"; fi
	rm -f "$LAB_DIR/leaf1/zebra.pid"
done
kill $flap 2>/dev/null || true
if [ $flapped != 5 ]; then echo "FAIL 0201: the FPM connection flapped in only $flapped/5 runs (not tested)"; rc=1
elif [ $hung = 0 ]; then echo "PASS 0201: zebra exited within 10 s on SIGTERM in 5/5 flapping-FPM runs"
else echo "FAIL 0201: zebra hung on SIGTERM in $hung/5 runs"; rc=1; fi
exit $rc
