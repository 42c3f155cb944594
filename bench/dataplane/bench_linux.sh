#!/usr/bin/env bash
# Linux backend throughput: frames/s through host port -> bridge -> host port
#   (a) no program, (e) reference: an empty TC program (hook cost alone),
#   (b) program attached and no matching entry,
#   (c) every frame mirrored to a local port, (d) every frame mirrored as a
#   VXLAN-GBP copy. Scenarios interleaved, REPS runs of SECS each, sender
#   pinned to one CPU; median and min-max; ratios against (a) of the same
#   run. Because the CPUs are shared with other work, the table also gives
#   CPU nanoseconds per forwarded frame: the sender's CPU time (which, without
#   IRQ time accounting, includes the bridging softirq run on its syscall
#   exit) plus ksoftirqd's on that CPU, divided by the forwarded frames; that
#   ratio is robust against other processes taking the CPU. Prints markdown.
# Usage: bench_linux.sh DPCTL PKTBLAST [SECS] [REPS]   (root)
set -euo pipefail
DPCTL=$1 BLAST=$2 SECS=${3:-2} REPS=${4:-3}
NS=dpbench$$
HERE=$(cd "$(dirname "$0")" && pwd)
EMPTY=$(mktemp /tmp/evpnmon-empty.XXXXXX.o)
clang -O2 -target bpf -I/usr/include/$(uname -m)-linux-gnu -c "$HERE/empty.bpf.c" -o "$EMPTY"
CPU=$(( $(nproc) - 1 ))
PIN=/sys/fs/bpf/evpnmon-$NS
DP_PID=
cleanup() {
  [ -n "$DP_PID" ] && kill "$DP_PID" 2>/dev/null && timeout 5 tail --pid="$DP_PID" -f /dev/null || true
  ip netns del $NS 2>/dev/null || true
  rm -rf "$PIN" "$EMPTY"
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
  for _ in $(seq 50); do grep -qs '^ready' /tmp/$NS.dp.out && return; sleep 0.1; done
  cat /tmp/$NS.dp.out >&2; exit 1
}
stop_dp() { kill "$DP_PID"; timeout 5 tail --pid="$DP_PID" -f /dev/null || true; DP_PID=; rm -f /tmp/$NS.dp.out; }
rx() { n cat /sys/class/net/$1/statistics/rx_packets; }
KSOFT=$(pgrep -x "ksoftirqd/$CPU" | head -1)
TCK=$(getconf CLK_TCK)
ksoft_ticks() { awk '{print $14 + $15}' /proc/$KSOFT/stat; }

one() { # scenario -> prints "fwd_pps copy_pps"
  case $1 in
    a) ;;
    e) n tc qdisc add dev p1 clsact
       n tc filter add dev p1 ingress bpf da obj "$EMPTY" sec tc ;;
    b) start_dp --entry "src vni=100 mac=02:00:00:00:0c:01 host-id=1 port=p3" ;;
    c) start_dp --entry "src vni=100 mac=$SRC host-id=1 port=p3" ;;
    d) start_dp --entry "src vni=100 mac=$SRC host-id=1 vxlan=10.9.9.2/100/1" ;;
  esac
  local r2 r3 u1 sent cpu k0 k1
  r2=$(rx p2x); r3=$(rx p3x); u1=$(rx ul1); k0=$(ksoft_ticks)
  read -r sent cpu < <(n taskset -c $CPU "$BLAST" p1x $SRC $DST "$SECS" 64)
  sleep 0.2
  k1=$(ksoft_ticks)
  local f=$(( ($(rx p2x) - r2) )) c=$(( ($(rx p3x) - r3) + ($(rx ul1) - u1) ))
  case $1 in
    a) ;;
    e) n tc qdisc del dev p1 clsact ;;
    *) stop_dp ;;
  esac
  awk -v f="$f" -v c="$c" -v s="$SECS" -v t="$sent" -v cpu="$cpu" -v k=$((k1 - k0)) -v tck="$TCK" \
    'BEGIN{printf "%.0f %.0f %.0f %.1f\n", f/s, c/s, t/s, (f ? (cpu + k/tck)*1e9/f : 0)}'
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
spread() { sort -n | awk '{a[NR]=$1} END{printf "%.0f–%.0f k", a[1]/1000, a[NR]/1000}'; }

declare -A F C N
for r in $(seq "$REPS"); do
  for s in a e b c d; do
    read -r f c t ns < <(one $s)
    F[$s]+="$f "; C[$s]+="$c "; N[$s]+="$ns "
    echo "run $r scenario $s: forwarded $f/s copies $c/s (offered $t/s) cpu $ns ns/frame" >&2
  done
done
base=$(echo ${F[a]} | tr ' ' '\n' | median)
nbase=$(echo ${N[a]} | tr ' ' '\n' | median)
echo "| path | forwarded frames/s (median of $REPS × ${SECS}s) | min–max | ratio to no program | mirror copies/s | CPU ns per frame (median) | CPU ratio: no program / this |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in a e b c d; do
  case $s in
    a) name="no program" ;;
    e) name="(reference) empty TC program: hook cost alone" ;;
    b) name="program, no matching entry" ;;
    c) name="every frame mirrored (local port copy)" ;;
    d) name="every frame mirrored (VXLAN-GBP copy)" ;;
  esac
  f=$(echo ${F[$s]} | tr ' ' '\n' | median); c=$(echo ${C[$s]} | tr ' ' '\n' | median)
  sp=$(echo ${F[$s]} | tr ' ' '\n' | spread)
  ns=$(echo ${N[$s]} | tr ' ' '\n' | median)
  awk -v n="$name" -v f="$f" -v b="$base" -v c="$c" -v sp="$sp" -v ns="$ns" -v nb="$nbase" \
    'BEGIN{printf "| %s | %.0f | %s | %.2f | %.0f | %.0f | %.2f |\n", n, f, sp, f/b, c, ns, (ns ? nb/ns : 0)}'
done
