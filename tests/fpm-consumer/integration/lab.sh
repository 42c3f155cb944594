#!/usr/bin/env bash
# Two-leaf EVPN lab in network namespaces with stock FRR 8.4.4:
#   $L1 (leaf1, VTEP 10.0.0.1) --- veth 10.1.0.0/30 --- $L2 (leaf2, VTEP 10.0.0.2)
# Each leaf: bridge br100 + vxlan100 (VNI 100, nolearning), eBGP l2vpn evpn
# with advertise-all-vni, VTEP /32 on lo advertised in ipv4 unicast.
# leaf1's zebra runs -M dplane_fpm_nl towards 127.0.0.1:$FPM_PORT in $L1.
# Hosts are veth ports of br100 whose far end sits in its own namespace.
# Source this file; call lab_up / lab_down (lab_down is safe to call twice).
set -euo pipefail

LAB_ID=${LAB_ID:-fpmc$$}
L1=${LAB_ID}-l1
L2=${LAB_ID}-l2
LAB_DIR=${LAB_DIR:-/tmp/${LAB_ID}}
FPM_PORT=${FPM_PORT:-2620}
# FRR binaries: stock Debian by default; FRR_PREFIX=<frr-plugin/build-frr.sh
# prefix> runs the patched zebra/bgpd with the evpn-monitor module instead.
if [ -n "${FRR_PREFIX:-}" ]; then
	FRR=$FRR_PREFIX/sbin
	BGPD_ARGS=${BGPD_ARGS:--M evpn_mon}
else
	FRR=/usr/lib/frr
fi
BGPD_ARGS=${BGPD_ARGS:-}
# leaf1's zebra and FPM module (a patched build can be tested:
# ZEBRA1=<tree>/zebra/zebra FPM_MODULE=<tree>/zebra/.libs/dplane_fpm_nl.so)
ZEBRA1=${ZEBRA1:-$FRR/zebra}
FPM_MODULE=${FPM_MODULE:-dplane_fpm_nl}
# The tests' heap settings, as the lab runner's tests have them
# (tests/lab/clabns.py: TEST_FRR_ENV, TEST_CONSUMER_ENV): freed memory is
# filled with a pattern, so that a read of it reads garbage and fails.
# `env` words; set to empty to run without them.
lab_test_env() { # clabns constant
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import clabns
print(" ".join(f"{k}={v}" for k, v in getattr(clabns, sys.argv[2]).items()))' \
		"$(dirname "${BASH_SOURCE[0]}")/../../lab" "$1"
}
LAB_FRR_ENV=${LAB_FRR_ENV-$(lab_test_env TEST_FRR_ENV)}
LAB_CONSUMER_ENV=${LAB_CONSUMER_ENV-$(lab_test_env TEST_CONSUMER_ENV)}

lab_ns() { ip netns exec "$@"; }

lab_leaf_conf() { # name asn peer_ip vtep [zebra extra] [evpn AF extra]
	local d=$LAB_DIR/$1
	mkdir -p "$d"
	cat >"$d/zebra.conf" <<CONF
hostname $1
log file $d/zebra.log
${5:-}
CONF
	cat >"$d/bgpd.conf" <<CONF
hostname $1
log file $d/bgpd.log
router bgp $2
 bgp router-id $4
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 timers bgp 1 3
 neighbor $3 remote-as external
 neighbor $3 timers connect 1
 address-family ipv4 unicast
  neighbor $3 activate
  network $4/32
 exit-address-family
 address-family l2vpn evpn
  neighbor $3 activate
  advertise-all-vni
${6:-}
 exit-address-family
CONF
	chown -R frr:frr "$d"
}

lab_net() { # ns vtep p2p_ip
	local ns=$1
	ip netns add "$ns"
	lab_ns "$ns" ip link set lo up
	lab_ns "$ns" ip addr add "$2/32" dev lo
	lab_ns "$ns" ip link add br100 type bridge
	lab_ns "$ns" ip link set br100 addrgenmode none
	lab_ns "$ns" ip link add vxlan100 type vxlan id 100 local "$2" dstport 4789 nolearning
	lab_ns "$ns" ip link set vxlan100 master br100 addrgenmode none
	lab_ns "$ns" ip link set vxlan100 up
	lab_ns "$ns" ip link set br100 up
}

lab_zebra() { # ns name [extra zebra args]
	local ns=$1 d=$LAB_DIR/$2 bin=$FRR/zebra
	[ "$2" = leaf1 ] && bin=$ZEBRA1
	shift 2
	# shellcheck disable=SC2086
	lab_ns "$ns" env $LAB_FRR_ENV "$bin" -d -f "$d/zebra.conf" -i "$d/zebra.pid" \
		-z "$d/zserv.api" --vty_socket "$d" -P 0 "$@"
}

lab_bgpd() { # ns name
	local d=$LAB_DIR/$2
	# With the evpn-monitor module, bgpd runs in the foreground: its ZeroMQ
	# context is created in frr_late_init, before -d forks, and its I/O
	# threads do not survive the fork (reported to the frr-plugin owner).
	if [ -n "$BGPD_ARGS" ]; then
		# shellcheck disable=SC2086
		lab_ns "$1" env $LAB_FRR_ENV $FRR/bgpd -f "$d/bgpd.conf" -i "$d/bgpd.pid" \
			-z "$d/zserv.api" --vty_socket "$d" -P 0 $BGPD_ARGS >"$d/bgpd.out" 2>&1 &
		wait_for "test -s $d/bgpd.pid" 10
	else
		# shellcheck disable=SC2086
		lab_ns "$1" env $LAB_FRR_ENV $FRR/bgpd -d -f "$d/bgpd.conf" -i "$d/bgpd.pid" \
			-z "$d/zserv.api" --vty_socket "$d" -P 0
	fi
}

lab_kill() { # name daemon
	local pidf=$LAB_DIR/$1/$2.pid
	[ -f "$pidf" ] || return 0
	local pid
	pid=$(cat "$pidf")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidf"
}

lab_up() {
	mkdir -p "$LAB_DIR"
	chown frr:frr "$LAB_DIR"
	lab_net "$L1" 10.0.0.1
	lab_net "$L2" 10.0.0.2
	# created under their final names inside the namespaces: a name built
	# from LAB_ID (fpmc<pid>...) can pass IFNAMSIZ once pids reach 7 digits
	ip link add p2p netns "$L1" type veth peer name p2p netns "$L2"
	lab_ns "$L1" ip addr add 10.1.0.1/30 dev p2p
	lab_ns "$L2" ip addr add 10.1.0.2/30 dev p2p
	lab_ns "$L1" ip link set p2p up
	lab_ns "$L2" ip link set p2p up
	lab_leaf_conf leaf1 65001 10.1.0.2 10.0.0.1 "fpm address 127.0.0.1 port $FPM_PORT" \
		"${LEAF1_EVPN_CONF:-}"
	lab_leaf_conf leaf2 65002 10.1.0.1 10.0.0.2 "fpm address 127.0.0.1 port $FPM_PORT"
}

# lab_start_frr: zebra (leaf1 with FPM) + bgpd on both leaves
lab_start_zebra1() { lab_zebra "$L1" leaf1 -M "$FPM_MODULE"; }
lab_start_frr() {
	lab_start_zebra1
	lab_zebra "$L2" leaf2 -M dplane_fpm_nl
	lab_bgpd "$L1" leaf1
	lab_bgpd "$L2" leaf2
}

# lab_host ns port mac: a host behind bridge port $port of leaf ns
lab_host() {
	local ns=$1 port=$2 mac=$3 hns=${LAB_ID}-h-$2
	ip netns add "$hns"
	ip link add "$port" netns "$ns" type veth peer name eth0 netns "$hns"
	lab_ns "$ns" ip link set "$port" master br100 up
	lab_ns "$hns" ip link set eth0 address "$mac" up
	# announce the MAC (the bridge learns it; zebra sees a local MAC)
	lab_ns "$ns" bridge fdb replace "$mac" dev "$port" master static
}

lab_down() {
	set +e
	for n in leaf1 leaf2; do lab_kill $n bgpd; lab_kill $n zebra; done
	for ns in $(ip netns list | awk '{print $1}' | grep "^${LAB_ID}-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns"
	done
	rm -rf "$LAB_DIR"
	set -e
}

# wait_for 'cmd' seconds: poll until cmd succeeds
wait_for() {
	local cmd=$1 t=${2:-20}
	for _ in $(seq $((t * 10))); do
		if eval "$cmd" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "timeout waiting for: $cmd" >&2
	return 1
}
