#!/usr/bin/env bash
# Linux backend throughput: frames/s through host port -> bridge -> host port
#   (a) no program, (b) program attached and no matching entry,
#   (c) every frame mirrored to a local port, (d) every frame mirrored as a
#   VXLAN-GBP copy. Scenarios interleaved, REPS runs of SECS each, median;
#   ratios against (a) of the same run. Prints a markdown table.
# Usage: bench_linux.sh DPCTL PKTBLAST [SECS] [REPS]   (root)
set -euo pipefail
DPCTL=$1 BLAST=$2 SECS=${3:-2} REPS=${4:-3}
NS=dpbench$$
PIN=/sys/fs/bpf/evpnmon-$NS
DP_PID=
cleanup() {
  [ -n "$DP_PID" ] && kill "$DP_PID" 2>/dev/null && timeout 5 tail --pid="$DP_PID" -f /dev/null || true
  ip netns del $NS 2>/dev/null || true
  rm -rf "$PIN"
}
trap cleanup EXIT
n() { ip netns exec $NS "$@"; }
ip netns add $NS
n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
n ip link set lo up
n ip link add br100 type bridge
for p in p1 p2 p3; do
  n ip link add $p type veth peer name ${p}x
  n ip link set $p master br100 up; n ip link set ${p}x up
done
n ip link set br100 up
SRC=02:00:00:00:0b:01 DST=02:00:00:00:0b:02
n bridge fdb add $SRC dev p1 master static
n bridge fdb add $DST dev p2 master static
n ip link add ul0 type veth peer name ul1
n ip addr add 10.9.9.1/24 dev ul0; n ip link set ul0 up; n ip link set ul1 up
n ip neigh add 10.9.9.2 lladdr 02:99:00:00:00:01 dev ul0 nud permanent

start_dp() { # extra dpctl args...
  # `ip netns exec` directly (not via a function): $! must be dpctl itself.
  ip netns exec $NS "$DPCTL" --bridge br100:vxlan100:100 --local-vtep 10.9.9.1 \
    --pin-dir "$PIN" "$@" --run >/tmp/$NS.dp.out 2>&1 &
  DP_PID=$!
  for _ in $(seq 50); do grep -q '^ready' /tmp/$NS.dp.out && return; sleep 0.1; done
  cat /tmp/$NS.dp.out >&2; exit 1
}
stop_dp() { kill "$DP_PID"; timeout 5 tail --pid="$DP_PID" -f /dev/null || true; DP_PID=; rm -f /tmp/$NS.dp.out; }
rx() { n cat /sys/class/net/$1/statistics/rx_packets; }

one() { # scenario -> prints "fwd_pps copy_pps"
  case $1 in
    a) ;;
    b) start_dp --entry "src vni=100 mac=02:00:00:00:0c:01 host-id=1 port=p3" ;;
    c) start_dp --entry "src vni=100 mac=$SRC host-id=1 port=p3" ;;
    d) start_dp --entry "src vni=100 mac=$SRC host-id=1 vxlan=10.9.9.2/100/1" ;;
  esac
  local r2 r3 u1 sent
  r2=$(rx p2x); r3=$(rx p3x); u1=$(rx ul1)
  sent=$(n "$BLAST" p1x $SRC $DST "$SECS" 64)
  sleep 0.2
  local f=$(( ($(rx p2x) - r2) )) c=$(( ($(rx p3x) - r3) + ($(rx ul1) - u1) ))
  [ "$1" = a ] || stop_dp
  awk -v f="$f" -v c="$c" -v s="$SECS" -v t="$sent" 'BEGIN{printf "%.0f %.0f %.0f\n", f/s, c/s, t/s}'
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A F C
for r in $(seq "$REPS"); do
  for s in a b c d; do
    read -r f c t < <(one $s)
    F[$s]+="$f "; C[$s]+="$c "
    echo "run $r scenario $s: forwarded $f/s copies $c/s (offered $t/s)" >&2
  done
done
base=$(echo ${F[a]} | tr ' ' '\n' | median)
echo "| path | forwarded frames/s (median of $REPS × ${SECS}s) | ratio to no program | mirror copies/s |"
echo "|---|---:|---:|---:|"
for s in a b c d; do
  case $s in
    a) name="no program" ;;
    b) name="program, no matching entry" ;;
    c) name="every frame mirrored (local port copy)" ;;
    d) name="every frame mirrored (VXLAN-GBP copy)" ;;
  esac
  f=$(echo ${F[$s]} | tr ' ' '\n' | median); c=$(echo ${C[$s]} | tr ' ' '\n' | median)
  awk -v n="$name" -v f="$f" -v b="$base" -v c="$c" \
    'BEGIN{printf "| %s | %.0f | %.2f | %.0f |\n", n, f, f/b, c}'
done
