#!/usr/bin/env bash
# Integration test: fpm-consumer (linux dataplane) on leaf1 of a two-leaf
# stock-FRR EVPN lab, with a fake bgpd feed. Checked by observable state
# (evpnmon-ctl --json, validated against the YANG module):
#   1. consumer started BEFORE zebra/bgpd; server behind leaf2 -> entries 1+2
#      VXLAN to 10.0.0.2 (learnt from FPM and the kernel FDB)
#   2. zebra+bgpd restart (as watchfrr does): FPM reconnects and resyncs,
#      entries untouched (zebra flushes its kernel FDB entries on exit)
#   3. consumer restart: entries adopted, nothing re-installed or removed
#   4. server moves to leaf1 -> entries re-point to its port, entry 3 appears
#   5. feed lost -> sessions withdrawn after the hold time, entries removed
# usage: it_netns.sh BUILD_DIR   (root; bounded time; cleans up on exit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build dir}" && pwd)
consumer=$build/fpm-consumer/fpm-consumer
ctl=$build/fpm-consumer/evpnmon-ctl
feedtool=$build/fpm-consumer/tests/fpmc-fake-feed
yang=$here/../../../yang/evpn-monitor.yang
. "$here/lab.sh"

# `ip netns exec` remounts /sys in a private mount namespace, so pins under
# /sys/fs/bpf would not outlive the process: use a bpffs of our own.
BPFFS=$LAB_DIR-bpffs
PIN=$BPFFS/evpnmon
SOCK=$LAB_DIR/consumer.sock
FEED=ipc://$LAB_DIR/feed.ipc
HOST=02:00:00:00:01:01
SERVER=02:00:00:00:02:20
cpid=
fpid=
cleanup() {
	set +e
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	# the dataplane keeps its state on exit by design: remove it here
	$consumer --version >/dev/null 2>&1
	lab_down
	umount "$BPFFS" 2>/dev/null
	rmdir "$BPFFS" 2>/dev/null
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$LAB_DIR/consumer.log" ] && tail -30 "$LAB_DIR/consumer.log" >&2
	"$ctl" -s "$SOCK" sessions >&2 2>/dev/null
	"$ctl" -s "$SOCK" counters 2>/dev/null | grep -E "macs|neigh|local-mac" >&2
	lab_ns "$L1" bridge fdb show br br100 | grep -v permanent >&2
	exit 1
}
state() { "$ctl" -s "$SOCK" --json 2>/dev/null; }
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['evpn-monitor:fpm-consumer']; $1"; }
entries() { state | jq_py 'print(" ".join(sorted(e["kind"]+"/"+e["action"]["type"]+"/"+str(e["action"].get("remote-vtep",e["action"].get("port",""))) for e in d["entries"].get("entry",[]))))'; }
counter() { state | jq_py "print({c['name']:c['value'] for c in d['counters']['counter']}['$1'])"; }

start_consumer() {
	# shellcheck disable=SC2086
	ip netns exec "$L1" env $LAB_CONSUMER_ENV "$consumer" --backend linux --l2vni br100:vxlan100:100 \
		--local-vtep 10.0.0.1 --bpf-pin-dir "$PIN" --state-socket "$SOCK" \
		--feed "$FEED" --feed-hold-time 6 --fpm-resync-time 5 --startup-grace 20 --audit-interval 5 \
		--log-level debug >>"$LAB_DIR/consumer.log" 2>&1 &
	cpid=$!
	wait_for "test -S $SOCK && state" 10 || fail "consumer did not start"
}

lab_up
mkdir -p "$BPFFS"
mount -t bpf bpf "$BPFFS"
lab_host "$L1" hp1 "$HOST"
lab_host "$L2" hsrv "$SERVER"
"$feedtool" --bind "$FEED" --session "100,$HOST,7,$SERVER" &
fpid=$!

echo "== 1. consumer first, then FRR"
start_consumer
lab_start_frr
want1="mirror-dest/vxlan/10.0.0.2 mirror-source/vxlan/10.0.0.2"
wait_for "[ \"\$(entries)\" = \"$want1\" ]" 40 || fail "step 1 entries: $(entries)"
state >"$LAB_DIR/s1.json"
yanglint -t data "$yang" "$LAB_DIR/s1.json" || fail "step 1 JSON does not validate"
echo "ok: $(entries)"
"$ctl" -s "$SOCK" roles

echo "== 2. zebra+bgpd restart keeps entries"
inst=$(counter entries-installed)
rem=$(counter entries-removed)
moves=$(counter server-moves)
conns=$(counter fpm-connections)
lab_kill leaf1 zebra # zebra dies; watchfrr then restarts zebra and bgpd
lab_kill leaf1 bgpd
wait_for "[ \"\$(state | jq_py 'print(d[\"fpm\"][\"connected\"])')\" = False ]" 10 || fail "FPM not seen down"
lab_start_zebra1
lab_bgpd "$L1" leaf1
wait_for "[ \$(counter fpm-connections) -gt $conns ]" 30 || fail "zebra did not reconnect"
wait_for "[ \"\$(state | jq_py 'print(d[\"fpm\"][\"resyncing\"])')\" = False ]" 20 || fail "no resync end"
[ "$(entries)" = "$want1" ] || fail "entries changed across zebra restart: $(entries)"
[ "$(counter entries-removed)" = "$rem" ] || fail "entries removed during zebra restart"
[ "$(counter entries-installed)" = "$inst" ] || fail "entries re-installed during zebra restart"
# a server without a target for a moment would show here only (its entries stay)
[ "$(counter server-moves)" = "$moves" ] || fail "server targets changed during zebra restart"
echo "ok: untouched"

echo "== 3. consumer restart adopts entries"
kill "$cpid"; wait "$cpid" || true; cpid=
start_consumer
wait_for "[ \"\$(state | jq_py 'print(all(d[\"gates\"].values()))')\" = True ]" 30 || fail "gates did not open"
wait_for "[ \$(counter reconciles) -ge 1 ]" 10 || fail "no reconcile after restart"
[ "$(entries)" = "$want1" ] || fail "entries after consumer restart: $(entries)"
[ "$(counter entries-installed)" = 0 ] || fail "restart re-installed $(counter entries-installed) entries"
[ "$(counter entries-removed)" = 0 ] || fail "restart removed entries"
echo "ok: adopted"

echo "== 4. server moves to leaf1"
lab_ns "$L2" bridge fdb del "$SERVER" dev hsrv master static
ip netns del "${LAB_ID}-h-hsrv"
lab_host "$L1" hsrv2 "$SERVER"
want4="decap/local-port/hsrv2 mirror-dest/local-port/hsrv2 mirror-source/local-port/hsrv2"
wait_for "[ \"\$(entries)\" = \"$want4\" ]" 30 || fail "step 4 entries: $(entries)"
state >"$LAB_DIR/s4.json"
yanglint -t data "$yang" "$LAB_DIR/s4.json" || fail "step 4 JSON does not validate"
echo "ok: $(entries) (local MAC audit fixes: $(counter local-mac-audit-fixes))"

echo "== 5. feed lost -> withdrawn after hold time"
# hold time 6 s from the last heartbeat (one per second): the withdrawal
# comes 5 to 6 s after the kill, never within the first 4 s
t_kill=$(date +%s.%N)
kill "$fpid"; wait "$fpid" || true; fpid=
sleep 1
[ -n "$(entries)" ] || fail "withdrawn before the hold time"
wait_for "[ -z \"\$(entries)\" ]" 20 || fail "entries not withdrawn: $(entries)"
held=$(awk -v a="$t_kill" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v h="$held" 'BEGIN { exit !(h >= 4) }' || fail "withdrawn after ${held}s, hold time is 6s"
echo "ok: withdrawn after ${held}s"
echo "PASS"
