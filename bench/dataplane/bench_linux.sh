#!/usr/bin/env bash
# Linux backend, end to end: CPU per frame through host port -> bridge ->
# host port, and what the TC programs add to it.
#   s  the sender alone: the same frames into a veth whose peer is in no
#      bridge (received and dropped by the stack: the sender's syscall,
#      AF_PACKET, veth transmit and the receive softirq up to the protocol
#      handler), the part every row shares and bridging does not add;
#   a  no program (bridged);  n  the same with bridge-nf-call-iptables=0
#      in this namespace (per network namespace on this kernel): a - n is
#      br_netfilter's share;
#   e  an empty program on a clsact filter, x  the same on a tcx link
#      (each mechanism's own cost; both attached by the backend's code,
#      evpnmon-hookattach);
#   b0 the programs as the backend attaches them (tcx links where the
#      kernel has them), the VNI without any entry: evpnmon_mirror at the
#      ingress port; no port receives copies, so no egress program;
#   b  the same, no matching entry: entries 1 and 2 of another MAC in the
#      VNI (as a MAC-keyed session installs) copying to p3, so the egress
#      program sits on p3 only, not on the output port;
#   bc b with the programs on clsact filters (--tc-hook clsact, as on
#      kernels before 6.6);
#   c  every frame mirrored to a local port;  d  as a VXLAN-GBP copy.
# Scenarios interleaved, REPS runs of SECS each, sender pinned to one CPU.
# CPU per frame = (sender's CPU time, which without IRQ time accounting
# includes the bridging softirq run on its syscall exit, + ksoftirqd's on
# that CPU) / frames: robust against other processes taking the CPU. Each
# scenario's cost over "no program" is the median of the differences
# within one round of the interleaving (paired), so slow drifts of the
# shared machine cancel; "bridging alone" = a - s. Prints markdown.
# Usage: bench_linux.sh DPCTL PKTBLAST [SECS] [REPS]   (root)
set -euo pipefail
DPCTL=$1 BLAST=$2 SECS=${3:-2} REPS=${4:-3}
HOOKATTACH=$(dirname "$BLAST")/evpnmon-hookattach
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
# The sink: a veth pair outside the bridge.
n ip link add p0 type veth peer name p0x
n ip link set p0 up; n ip link set p0x up
n ip link set br100 up
SRC=02:00:00:00:0b:01 DST=02:00:00:00:0b:02
n bridge fdb add $SRC dev p1 master static
n bridge fdb add $DST dev p2 master static
n ip link add ul0 type veth peer name ul1
n ip addr add 10.9.9.1/24 dev ul0; n ip link set ul0 up; n ip link set ul1 up
n ip neigh add 10.9.9.2 lladdr 02:99:00:00:00:01 dev ul0 nud permanent

start_dp() { # extra dpctl args...
  # `ip netns exec` directly (not via a function): $! must be dpctl itself.
  # The mirror ceiling on (its per-copy check is paid, as on a leaf) at
  # rates no blast reaches, so that every frame is still copied.
  ip netns exec $NS "$DPCTL" --bridge br100:vxlan100:100 --local-vtep 10.9.9.1 \
    --pin-dir "$PIN" --mirror-ceiling 1000000000g --mirror-ceiling-packets 1g "$@" \
    --run >/tmp/$NS.dp.out 2>&1 &
  DP_PID=$!
  for _ in $(seq 50); do grep -qs '^ready' /tmp/$NS.dp.out && return; sleep 0.1; done
  cat /tmp/$NS.dp.out >&2; exit 1
}
stop_dp() { kill "$DP_PID"; timeout 5 tail --pid="$DP_PID" -f /dev/null || true; DP_PID=; rm -f /tmp/$NS.dp.out; }
rx() { n cat /sys/class/net/$1/statistics/rx_packets; }
KSOFT=$(pgrep -x "ksoftirqd/$CPU" | head -1)
TCK=$(getconf CLK_TCK)
ksoft_ticks() { awk '{print $14 + $15}' /proc/$KSOFT/stat; }

one() { # scenario -> prints "fwd_pps copy_pps sent_pps cpu_ns_per_frame"
  local dev=p1x
  case $1 in
    s) dev=p0x ;;
    a) ;;
    n) n sysctl -qw net.bridge.bridge-nf-call-iptables=0 ;;
    e|x) exec {HOOK_IN}> >(ip netns exec $NS "$HOOKATTACH" "$EMPTY" p1 \
                         "$([ "$1" = e ] && echo clsact || echo tcx)" "$PIN-hook" >/tmp/$NS.hook.out 2>&1)
       HOOK_PID=$!
       for _ in $(seq 50); do grep -qs '^ready' /tmp/$NS.hook.out && break; sleep 0.1; done
       grep -qs '^ready' /tmp/$NS.hook.out || { cat /tmp/$NS.hook.out >&2; exit 1; } ;;
    b0) start_dp ;;
    b|bc|bn) start_dp --entry "src vni=100 mac=02:00:00:00:0c:01 host-id=1 port=p3" \
                --entry "dst vni=100 mac=02:00:00:00:0c:01 host-id=1 port=p3" \
                $([ "$1" = bc ] && echo --tc-hook clsact) \
                $([ "$1" = bn ] && echo --no-flow-cache)
 ;;
    c) start_dp --entry "src vni=100 mac=$SRC host-id=1 port=p3" ;;
    d) start_dp --entry "src vni=100 mac=$SRC host-id=1 vxlan=10.9.9.2/100/1" ;;
  esac
  local r2 r3 u1 r0 sent cpu k0 k1
  r2=$(rx p2x); r3=$(rx p3x); u1=$(rx ul1); r0=$(rx p0); k0=$(ksoft_ticks)
  read -r sent cpu < <(n taskset -c $CPU "$BLAST" $dev $SRC $DST "$SECS" 64)
  sleep 0.2
  k1=$(ksoft_ticks)
  local f=$(( ($(rx p2x) - r2) )) c=$(( ($(rx p3x) - r3) + ($(rx ul1) - u1) ))
  [ "$1" = s ] && f=$(( $(rx p0) - r0 ))
  case $1 in
    s|a) ;;
    n) n sysctl -qw net.bridge.bridge-nf-call-iptables=1 ;;
    e|x) exec {HOOK_IN}>&-
       # Detached when it has exited (its bpffs is private to its `ip netns exec`).
       timeout 5 tail --pid="$HOOK_PID" -f /dev/null || true
       rm -f /tmp/$NS.hook.out ;;
    *) stop_dp ;;
  esac
  awk -v f="$f" -v c="$c" -v s="$SECS" -v t="$sent" -v cpu="$cpu" -v k=$((k1 - k0)) -v tck="$TCK" \
    'BEGIN{printf "%.0f %.0f %.0f %.1f\n", f/s, c/s, t/s, (f ? (cpu + k/tck)*1e9/f : 0)}'
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
spread() { sort -n | awk '{a[NR]=$1} END{printf "%.0f–%.0f k", a[1]/1000, a[NR]/1000}'; }

SCEN="s a n e x b0 b bn bc c d"
declare -A F C N D Q
for r in $(seq "$REPS"); do
  declare -A R=()
  for s in $SCEN; do
    read -r f c t ns < <(one $s)
    F[$s]+="$f "; C[$s]+="$c "; N[$s]+="$ns "; R[$s]=$ns
    echo "run $r scenario $s: received $f/s copies $c/s (offered $t/s) cpu $ns ns/frame" >&2
  done
  for s in $SCEN; do
    D[$s]+="$(awk -v x="${R[$s]}" -v a="${R[a]}" 'BEGIN{print x - a}') "
    # The same difference as a share of this round's bridging alone: a
    # busy machine inflates both alike, so the share is steadier.
    Q[$s]+="$(awk -v x="${R[$s]}" -v a="${R[a]}" -v s0="${R[s]}" 'BEGIN{print (a - s0 > 0 ? 100 * (x - a) / (a - s0) : 0)}') "
  done
  D[bridge]+="$(awk -v a="${R[a]}" -v s="${R[s]}" 'BEGIN{print a - s}') "
  D[bridge_nf0]+="$(awk -v a="${R[n]}" -v s="${R[s]}" 'BEGIN{print a - s}') "
done
med() { echo ${1} | tr ' ' '\n' | median; }
bridge=$(med "${D[bridge]}") bridge0=$(med "${D[bridge_nf0]}")
echo "| path | frames/s received (median of $REPS × ${SECS}s) | min–max | mirror copies/s | CPU ns per frame (median) | over no program: ns per frame (median of paired differences) | over no program / bridging alone (median of per-round ratios) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in $SCEN; do
  case $s in
    s) name="sender alone (veth peer in no bridge; not bridged)" ;;
    a) name="no program (bridged; br_netfilter on, as on this host)" ;;
    n) name="no program, bridge-nf-call-iptables=0 (this namespace)" ;;
    e) name="(reference) empty program, clsact filter: the hook's own cost" ;;
    x) name="(reference) empty program, tcx link: the hook's own cost" ;;
    b0) name="programs attached, VNI without entries (the mirror program at the ingress port; no port receives copies, so no egress program)" ;;
    b) name="programs attached, no matching entry (MAC entries of another host in the VNI, copies to p3: the egress program on p3 only); one flow, so the flow cache reuses its lookups" ;;
    bn) name="the same without the flow cache (--no-flow-cache: every frame looked up, as when flows interleave)" ;;
    bc) name="the same on clsact filters (--tc-hook clsact, as on kernels before 6.6)" ;;
    c) name="every frame mirrored (local port copy)" ;;
    d) name="every frame mirrored (VXLAN-GBP copy)" ;;
  esac
  f=$(med "${F[$s]}"); c=$(med "${C[$s]}"); sp=$(echo ${F[$s]} | tr ' ' '\n' | spread)
  ns=$(med "${N[$s]}"); d=$(med "${D[$s]}")
  case $s in
    s|a) dcol="—"; rcol="—" ;;
    *) dcol=$(awk -v d="$d" 'BEGIN{printf "%+.0f", d}')
       rcol=$(awk -v q="$(med "${Q[$s]}")" 'BEGIN{printf "%+.1f %%", q}') ;;
  esac
  echo "| $name | $f | $sp | $c | $ns | $dcol | $rcol |"
done
echo
awk -v b="$bridge" -v b0="$bridge0" -v a="$(med "${N[a]}")" -v s="$(med "${N[s]}")" \
    -v nf="$(med "${D[n]}")" -v p="$(med "${D[b]}")" -v p0="$(med "${D[b0]}")" 'BEGIN{
  printf "Bridging alone (no program − sender alone, paired): %.0f ns per frame of the %.0f measured; ", b, a
  printf "the sender alone: %.0f ns. br_netfilter (bridge-nf-call-iptables 1 − 0): %.0f ns per frame ", s, -nf
  printf "(%.0f %% of bridging alone; bridging alone without it: %.0f ns). ", (b ? -100*nf/b : 0), b0
  printf "No matching entry: %+.0f ns per frame = %.1f %% of bridging alone (%.1f %% of it without br_netfilter); ", p, (b ? 100*p/b : 0), (b0 ? 100*p/b0 : 0)
  printf "VNI without entries: %+.0f ns = %.1f %% (target for no match: <= 5 %%). ", p0, (b ? 100*p0/b : 0)
  printf "(Ratios of medians here; the table gives medians of per-round ratios.)\n"
}'
