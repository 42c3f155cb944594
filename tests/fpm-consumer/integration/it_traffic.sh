#!/usr/bin/env bash
# End-to-end exactly-once check on real packets: two leaves (stock FRR 8.4.4
# EVPN), a consumer with the linux dataplane (TC eBPF) on each, one session:
# host H (leaf1) monitored by server X (leaf2, HOST ID 7). The monitoring
# server's port is captured; it must see exactly one copy of every packet to
# or from H, and nothing else:
#   a. H <-> K (K on leaf2):      copies of requests (entry 1, VXLAN-GBP) and
#                                 replies (entry 2 at leaf2, local port)
#   b. G <-> H (G on leaf1 too):  host-to-host inside one VTEP (entry 2 at
#                                 leaf1 plus entry 1 at leaf1)
#   c. K <-> G (not monitored):   no copy
# Sessions come from a fake bgpd feed, or, with FRR_PREFIX=<prefix of
# frr-plugin/build-frr.sh>, from the real chain: the session is configured
# on leaf1 only (`monitor server/host`), travels as EVPN route type 254 to
# leaf2, and each leaf's bgpd module feeds its consumer.
# usage: [FRR_PREFIX=...] it_traffic.sh BUILD_DIR   (root; bounded time; cleans up)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build dir}" && pwd)
consumer=$build/fpm-consumer/fpm-consumer
ctl=$build/fpm-consumer/evpnmon-ctl
feedtool=$build/fpm-consumer/tests/fpmc-fake-feed
H=02:00:00:00:01:01 G=02:00:00:00:01:02 K=02:00:00:00:02:03 X=02:00:00:00:02:20
if [ -n "${FRR_PREFIX:-}" ]; then
	[ -x "$FRR_PREFIX/sbin/bgpd" ] || { echo "no bgpd in $FRR_PREFIX" >&2; exit 1; }
fi
. "$here/lab.sh"

BPFFS=$LAB_DIR-bpffs
FEED=ipc://$LAB_DIR/feed.ipc
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	lab_down
	umount "$BPFFS" 2>/dev/null
	rmdir "$BPFFS" 2>/dev/null
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for l in 1 2; do echo "--- consumer leaf$l" >&2; tail -15 "$LAB_DIR/c$l.log" >&2; done
	if [ -n "${FRR_PREFIX:-}" ]; then
		ls "$LAB_DIR/leaf1" >&2
		grep -i "monitor\|evpn_mon\|error" "$LAB_DIR/leaf1/bgpd.log" | tail -10 >&2
	fi
	exit 1
}
entries() { # leaf
	"$ctl" -s "$LAB_DIR/c$1.sock" --json entries 2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; d=json.load(sys.stdin)["evpn-monitor:fpm-consumer"]; print(" ".join(sorted(e["kind"]+"/"+e["action"]["type"] for e in d["entries"].get("entry",[]))))'
}
host_ip() { lab_ns "${LAB_ID}-h-$1" ip addr add "$2/24" dev eth0; }
# The ICMP messages seen on X's port while running a command, as
# "COPIES/DISTINCT": every ICMP frame captured, and the different echo
# requests and replies (id, seq) among them; a message copied twice shows
# as fewer distinct than copies. With WANT > 0 it waits until WANT copies
# are there (at most 10 s), then 0.5 s more for a late duplicate; with
# WANT = 0 it watches for 1 s after the command (an absence needs a window).
copies() { # want cmd...
	local want=$1 cap
	shift
	cap=$(mktemp -p "$LAB_DIR" x.XXXXXX.pcap)
	# Not through lab_ns: a shell function in the background is a subshell,
	# and its pid would not be tcpdump's (timeout hands SIGTERM on). Not
	# our stdout either: this runs inside $(...), which would wait for it.
	# --immediate-mode: a frame is in the file when it arrives, not with
	# its ring block up to a second later (the windows below count on it)
	ip netns exec "${LAB_ID}-h-hx" timeout 30 tcpdump -nn -i eth0 -U --immediate-mode -w "$cap" icmp \
		>/dev/null 2>"$cap.err" &
	local t=$!
	# wait until tcpdump listens, not a fixed time
	for _ in $(seq 100); do grep -q listening "$cap.err" && break; sleep 0.05; done
	grep -q listening "$cap.err" || fail "tcpdump on hx did not start"
	"$@" >/dev/null || { echo "traffic failed: $*" >&2; kill -TERM $t 2>/dev/null; exit 1; }
	if [ "$want" != 0 ]; then
		for _ in $(seq 100); do
			[ "$(tcpdump -nn -r "$cap" 2>/dev/null | wc -l)" -ge "$want" ] && break
			sleep 0.1
		done
		sleep 0.5
	else
		sleep 1
	fi
	kill -TERM $t 2>/dev/null; wait $t 2>/dev/null || true
	local all msgs
	all=$(tcpdump -nn -r "$cap" 2>/dev/null | wc -l)
	msgs=$(tcpdump -nn -r "$cap" 2>/dev/null | grep -oE 'ICMP echo (request|reply), id [0-9]+, seq [0-9]+' || true)
	echo "$all/$(printf '%s' "$msgs" | sort -u | grep -c . || true)"
}

lab_up
mkdir -p "$BPFFS"
mount -t bpf bpf "$BPFFS"
lab_host "$L1" hh "$H"; host_ip hh 192.168.100.11
lab_host "$L1" hg "$G"; host_ip hg 192.168.100.12
lab_host "$L2" hk "$K"; host_ip hk 192.168.100.23
lab_host "$L2" hx "$X"; host_ip hx 192.168.100.20
if [ -z "${FRR_PREFIX:-}" ]; then
	"$feedtool" --bind "$FEED" --session "100,$H,7,$X" &
	pids+=($!)
fi
# the bgpd module binds next to zebra's API socket of its instance
feed_of() { if [ -n "${FRR_PREFIX:-}" ]; then echo "ipc://$LAB_DIR/leaf$1/evpnmon-feed.sock"; else echo "$FEED"; fi; }
lab_start_frr
if [ -n "${FRR_PREFIX:-}" ]; then
	# configured at run time: from bgpd.conf (-f) the module refuses
	# `monitor host` for a VNI zebra has not reported yet (reported)
	vt() { "$FRR_PREFIX/bin/vtysh" --vty_socket "$LAB_DIR/leaf1" "$@" 2>/dev/null; }
	mon_cfg() {
		vt -c 'conf t' -c 'router bgp 65001' -c 'address-family l2vpn evpn' \
			-c "monitor server 7 mac $X ip 192.168.100.20" -c "monitor host vni 100 mac $H server 7" >/dev/null
		vt -c 'show bgp l2vpn evpn monitor' | grep -q advertised
	}
	wait_for mon_cfg 30 || fail "monitor configuration not accepted"
fi
for l in 1 2; do
	# shellcheck disable=SC2086
	lab_ns "${LAB_ID}-l$l" env $LAB_CONSUMER_ENV "$consumer" --backend linux --l2vni br100:vxlan100:100 \
		--local-vtep "10.0.0.$l" --bpf-pin-dir "$BPFFS/leaf$l" --state-socket "$LAB_DIR/c$l.sock" \
		--feed "$(feed_of $l)" --fpm-resync-time 2 --startup-grace 15 --cleanup-on-exit \
		>"$LAB_DIR/c$l.log" 2>&1 &
	pids+=($!)
done
wait_for "[ \"\$(entries 1)\" = 'mirror-dest/vxlan mirror-source/vxlan' ]" 40 || fail "leaf1 entries: $(entries 1)"
wait_for "[ \"\$(entries 2)\" = 'decap/local-port mirror-dest/local-port mirror-source/local-port' ]" 40 || fail "leaf2 entries: $(entries 2)"
# EVPN data path up (warms ARP caches too)
ping_from() { lab_ns "${LAB_ID}-h-$1" ping -c "$3" -i 0.2 -W 1 "$2"; }
wait_for "ping_from hh 192.168.100.23 1" 30 || fail "no EVPN connectivity leaf1 -> leaf2"
ping_from hg 192.168.100.11 1 >/dev/null
ping_from hk 192.168.100.12 1 >/dev/null
counter() { # leaf name
	"$ctl" -s "$LAB_DIR/c$1.sock" --json counters 2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; d=json.load(sys.stdin)["evpn-monitor:fpm-consumer"]; print({c["name"]: c["value"] for c in d["counters"]["counter"]}.get(sys.argv[1], "absent"))' "$2"
}
# A copy of the warm-up above may reach leaf2 before leaf1's IMET route has
# made leaf1 one of the VNI's VTEPs there (convergence; docs/dataplane.md):
# only the counted phase below must have no stranger.
forged0=$(counter 2 decap-drops-unknown-source)
N=5
a=$(copies $((2 * N)) ping_from hh 192.168.100.23 $N)
b=$(copies $((2 * N)) ping_from hg 192.168.100.11 $N)
c=$(copies 0 ping_from hk 192.168.100.12 $N)
echo "copies/distinct at X: H<->K $a, G<->H $b (want $((2 * N))/$((2 * N)): each request and reply once), K<->G $c (want 0/0)"
[ "$a" = "$((2 * N))/$((2 * N))" ] || fail "H<->K: $a copies/distinct"
[ "$b" = "$((2 * N))/$((2 * N))" ] || fail "G<->H (same VTEP): $b copies/distinct"
[ "$c" = 0/0 ] || fail "K<->G: $c copies/distinct"
# The copies from leaf1 were decapsulated on leaf2 because leaf1 is one of
# the VNI's VTEPs there (zebra's flood entry -> the consumer -> the
# dataplane's decapsulation sources), and none was dropped as a stranger.
[ "$(counter 2 decap-sources)" = 1 ] || fail "leaf2 decap-sources: $(counter 2 decap-sources)"
[ "$(counter 2 decap-drops-unknown-source)" = "$forged0" ] || fail "leaf2 unknown-source drops while counting: $forged0 -> $(counter 2 decap-drops-unknown-source)"
echo PASS
