#!/usr/bin/env bash
# Integration test of the linux backend with real traffic on two VTEPs.
#
#   H1, H2 -- [leaf A: br100 + vxlan100, VTEP 10.0.0.1] ==underlay==
#             [leaf B: br100 + vxlan100, VTEP 10.0.0.2] -- H3, SRV
#
# Monitored host: H1 (MAC), HOST ID 4242, VNI 100, monitoring server SRV on
# leaf B. Leaf A: entries 1+2 for H1 -> VXLAN-GBP copy to 10.0.0.2. Leaf B:
# entries 1+2 for H1 -> local copy to SRV's port; entry 3 (4242) -> SRV.
# Traffic: H1<->H2 (one VTEP), H1<->H3 (two VTEPs), H2<->H3 and SRV<->H3 (not
# monitored). Checked with tshark:
#  - SRV receives every frame H1 sent or received exactly once, byte for byte,
#    and nothing else (except replies to its own pings; its own traffic is
#    not mirrored);
#  - every copy on the underlay is VXLAN-GBP on UDP 4790 with Group Policy
#    ID 4242 and VNI 100, one per original frame entering at leaf A;
#  - the original traffic arrives unchanged (H1's frames to H3 == H3's).
# Then, as during a move (leaf B no longer knows H1's MAC, floods to A):
#  - H3's pings to H1 are flooded out of SRV's port too, and B's entry 2
#    copies them: SRV still gets each frame exactly once (the egress program
#    drops the flooded original), and H1 gets every request;
#  - SRV's MAC unknown at A and B: H1's frames to SRV are flooded to SRV's
#    port and delivered (frames to the server are never dropped).
# Usage: two_vteps.sh DPCTL   (root; cleans up everything it starts)
set -euo pipefail
DPCTL=${1:?usage: two_vteps.sh path/to/evpnmon-dpctl}
[ "$(id -u)" = 0 ] || { echo "two_vteps.sh: needs root" >&2; exit 1; }
PY=/usr/bin/python3
S=dp2v$$                       # unique suffix of our namespaces
A=$S-A B=$S-B H1=$S-h1 H2=$S-h2 H3=$S-h3 SRV=$S-srv
NSS=($A $B $H1 $H2 $H3 $SRV)
W=$(mktemp -d /tmp/evpnmon-dp-2v.XXXXXX)
PIDS=()
DPIDS=()
cleanup() {
  for p in "${PIDS[@]}" "${DPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" "${DPIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf /sys/fs/bpf/evpnmon-$S-A /sys/fs/bpf/evpnmon-$S-B
  [ -n "${KEEP_WORKDIR:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

MAC_H1=02:00:00:00:01:01 MAC_H2=02:00:00:00:01:02
MAC_H3=02:00:00:00:01:03 MAC_SRV=02:00:00:00:01:0a
IP_H1=10.100.0.1 IP_H2=10.100.0.2 IP_H3=10.100.0.3 IP_SRV=10.100.0.10

for n in "${NSS[@]}"; do
  ip netns add "$n"
  ip -n "$n" link set lo up
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

# Underlay: A uA 172.16.0.1/30 <-> B uB 172.16.0.2/30, VTEP IPs on lo.
ip link add uA netns $A type veth peer name uB netns $B
ip -n $A addr add 172.16.0.1/30 dev uA; ip -n $A link set uA up
ip -n $B addr add 172.16.0.2/30 dev uB; ip -n $B link set uB up
ip -n $A addr add 10.0.0.1/32 dev lo; ip -n $A route add 10.0.0.2/32 via 172.16.0.2
ip -n $B addr add 10.0.0.2/32 dev lo; ip -n $B route add 10.0.0.1/32 via 172.16.0.1

leaf() { # ns local_vtep
  ip -n "$1" link add br100 type bridge
  ip -n "$1" link add vxlan100 type vxlan id 100 local "$2" dstport 4789 nolearning
  ip -n "$1" link set vxlan100 master br100 up
  ip -n "$1" link set br100 up
}
leaf $A 10.0.0.1
leaf $B 10.0.0.2

host() { # leaf hostns port mac ip
  ip link add "$3" netns "$1" type veth peer name eth0 netns "$2"
  ip -n "$1" link set "$3" master br100 up
  ip -n "$2" link set eth0 address "$4" mtu 1450 up
  ip -n "$2" addr add "$5/24" dev eth0
  # Static FDB: no unknown-unicast flooding towards the server's port.
  bridge -n "$1" fdb add "$4" dev "$3" master static
}
host $A $H1 h1 $MAC_H1 $IP_H1
host $A $H2 h2 $MAC_H2 $IP_H2
host $B $H3 h3 $MAC_H3 $IP_H3
host $B $SRV srv $MAC_SRV $IP_SRV
remote() { # leaf mac vtep
  bridge -n "$1" fdb add "$2" dev vxlan100 master static
  bridge -n "$1" fdb add "$2" dev vxlan100 dst "$3" self permanent
}
remote $A $MAC_H3 10.0.0.2; remote $A $MAC_SRV 10.0.0.2
remote $B $MAC_H1 10.0.0.1; remote $B $MAC_H2 10.0.0.1
# Static neighbours: no ARP broadcasts.
for h in H1 H2 H3 SRV; do
  for o in H1 H2 H3 SRV; do
    [ $h = $o ] && continue
    ns=${!h}; ipv=IP_$o; macv=MAC_$o
    ip -n "$ns" neigh add "${!ipv}" lladdr "${!macv}" dev eth0 nud permanent
  done
done

# Dataplane on both leaves.
ready() { # file
  for _ in $(seq 200); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1" >&2; fail "dpctl did not start"
}
ip netns exec $A "$DPCTL" --bridge br100:vxlan100:100 --local-vtep 10.0.0.1 \
  --pin-dir /sys/fs/bpf/evpnmon-$S-A \
  --entry "src vni=100 mac=$MAC_H1 host-id=4242 vxlan=10.0.0.2/100/4242" \
  --entry "dst vni=100 mac=$MAC_H1 host-id=4242 vxlan=10.0.0.2/100/4242" \
  --run >"$W/dpA.out" 2>&1 &
PIDS+=($!)
ip netns exec $B "$DPCTL" --bridge br100:vxlan100:100 --local-vtep 10.0.0.2 \
  --pin-dir /sys/fs/bpf/evpnmon-$S-B \
  --entry "src vni=100 mac=$MAC_H1 host-id=4242 port=srv" \
  --entry "dst vni=100 mac=$MAC_H1 host-id=4242 port=srv" \
  --entry "decap vni=100 host-id=4242 port=srv" \
  --decap-source 100/10.0.0.1 \
  --run >"$W/dpB.out" 2>&1 &
PIDS+=($!)
ready "$W/dpA.out"; ready "$W/dpB.out"

# Captures.
cap() { # ns dev file [direction]; --immediate-mode: each frame reaches the
  # file when it arrives, not with its ring block up to a second later
  ip netns exec "$1" tcpdump -i "$2" -U --immediate-mode -n -s 0 ${4:+-Q $4} -w "$W/$3" 2>"$W/$3.err" &
  PIDS+=($!)
  for _ in $(seq 50); do grep -q listening "$W/$3.err" && return 0; sleep 0.1; done
  fail "tcpdump on $1/$2 did not start"
}
# Waits until none of the files has grown for 0.5 s (10 s at most): the
# last frames and copies in flight have landed.
quiet() { # file...
  local last= now since end
  since=$(date +%s%N); end=$((since + 10000000000))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    now=$(stat -c %s "$@" 2>/dev/null | tr '\n' ' ')
    if [ "$now" != "$last" ]; then last=$now; since=$(date +%s%N)
    elif [ $(($(date +%s%N) - since)) -ge 500000000 ]; then return 0; fi
    sleep 0.05
  done
}
DPIDS=("${PIDS[@]}"); PIDS=()
cap $SRV eth0 srv.pcap in
cap $A uA underlay.pcap out
cap $H3 eth0 h3.pcap
cap $H1 eth0 h1.pcap

p() { ip netns exec "$1" timeout 10 ping -q -c "$3" -i 0.05 -W 1 "$2" >/dev/null || fail "ping $2 from $1"; }
p $H1 $IP_H2 5     # one VTEP
p $H1 $IP_H3 5     # two VTEPs
p $H2 $IP_H1 3
p $H3 $IP_H1 3
p $H2 $IP_H3 3     # not monitored
p $SRV $IP_H3 3    # the server's own traffic
ip netns exec $H1 timeout 10 ping -q -c 2 -s 1300 -W 1 $IP_H3 >/dev/null || fail "large ping"
quiet "$W/srv.pcap" "$W/underlay.pcap" "$W/h3.pcap" "$W/h1.pcap"
stop() { # stop the captures (the dataplanes keep running)
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null || true; done
  PIDS=()
}
stop

# Raw frames (hex, one per line) with tshark.
frames() { # file [display filter]
  tshark -r "$W/$1" ${2:+-Y "$2"} -T json -x 2>/dev/null |
    $PY -c 'import json,sys; [print(p["_source"]["layers"]["frame_raw"][0]) for p in json.load(sys.stdin)]'
}
# IGMP reports the hosts' kernels send at random times are left out of the
# comparison (they are mirrored too, but may precede a capture's start).
frames h1.pcap "!igmp" | sort >"$W/h1.frames"
frames srv.pcap "!igmp && !(eth.addr == $MAC_SRV)" | sort >"$W/srv.frames"
n_h1=$(wc -l <"$W/h1.frames"); n_srv=$(wc -l <"$W/srv.frames")
echo "frames at H1: $n_h1, mirrored frames at SRV: $n_srv"
[ "$n_h1" -eq 36 ] || fail "expected 36 frames at H1, got $n_h1"
diff -q "$W/h1.frames" "$W/srv.frames" >/dev/null ||
  { diff "$W/h1.frames" "$W/srv.frames" | head -5 >&2; fail "SRV did not get H1's frames exactly once"; }
[ -z "$(uniq -d "$W/srv.frames")" ] || fail "duplicate frames at SRV"
own_out=$(tshark -r "$W/srv.pcap" -Y "eth.src == $MAC_SRV" 2>/dev/null | wc -l)
own_in=$(tshark -r "$W/srv.pcap" -Y "eth.dst == $MAC_SRV" 2>/dev/null | wc -l)
[ "$own_out" -eq 0 ] || fail "SRV's own frames were mirrored back ($own_out)"
[ "$own_in" -eq 3 ] || fail "expected 3 replies to SRV, got $own_in"

# Underlay: every UDP/4790 packet is VXLAN-GBP, GBP = HOST ID, VNI = 100.
tshark -r "$W/underlay.pcap" -d udp.port==4790,vxlan -Y "udp.dstport == 4790 && !igmp" \
  -T fields -E occurrence=f -e vxlan.flag_g -e vxlan.gbp -e vxlan.vni -e ip.src -e ip.dst 2>/dev/null \
  | sort | uniq -c >"$W/gbp.txt"
cat "$W/gbp.txt"
# Copies entering at A: H1<->H2 10, H1->H3 5+2, H2->H1 6, H1->H3 replies 3.
[ "$(wc -l <"$W/gbp.txt")" -eq 1 ] || fail "copies with differing VXLAN fields"
read -r cnt g gbp vni src dst <"$W/gbp.txt"
[ "$cnt" -eq 26 ] || fail "expected 26 VXLAN copies, got $cnt"
[ "$g" = True ] || [ "$g" = 1 ] || fail "GBP flag not set ($g)"
[ "$gbp" -eq 4242 ] || fail "Group Policy ID $gbp != 4242"
[ "$vni" -eq 100 ] || fail "VNI $vni != 100"
[ "$src" = 10.0.0.1 ] && [ "$dst" = 10.0.0.2 ] || fail "outer IPs $src -> $dst"

# Originals unchanged: what H1 sent to H3 is what H3 received.
frames h1.pcap "eth.src == $MAC_H1 && eth.dst == $MAC_H3" | sort >"$W/h1to3"
frames h3.pcap "eth.src == $MAC_H1 && eth.dst == $MAC_H3" | sort >"$W/h3from1"
[ "$(wc -l <"$W/h1to3")" -eq 10 ] || fail "H1->H3 frames: $(wc -l <"$W/h1to3")"
cmp -s "$W/h1to3" "$W/h3from1" || fail "original H1->H3 frames changed in transit"

# --- Flooding, as during a move: B no longer knows H1 (nor learns it) and
# floods unknown unicast to A; nobody knows SRV's MAC any more.
bridge -n $B fdb del $MAC_H1 dev vxlan100 master
bridge -n $B fdb del $MAC_H1 dev vxlan100 self
bridge -n $B fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.1 self permanent
bridge -n $B link set dev vxlan100 learning off
bridge -n $B link set dev srv learning off
bridge -n $B fdb del $MAC_SRV dev srv master
bridge -n $A fdb del $MAC_SRV dev vxlan100 master
bridge -n $A link set dev vxlan100 learning off
cap $SRV eth0 srv2.pcap in
cap $B uB underlay2.pcap out
cap $H1 eth0 h1b.pcap
p $H3 $IP_H1 10    # requests flooded at B (also out of SRV's port)
p $H1 $IP_SRV 3    # to the server, flooded at A (to B) and at B
quiet "$W/srv2.pcap" "$W/underlay2.pcap" "$W/h1b.pcap"
stop
frames h1b.pcap "icmp && eth.addr == $MAC_H3" | sort >"$W/h1b.frames"
frames srv2.pcap "icmp && eth.addr == $MAC_H3" | sort >"$W/srv2.frames"
flooded=$(tshark -r "$W/underlay2.pcap" -d udp.port==4789,vxlan \
  -Y "udp.dstport == 4789 && eth.dst == $MAC_H1 && eth.src == $MAC_H3" 2>/dev/null | wc -l)
echo "flooded H3->H1 frames on B's underlay: $flooded; H1<->H3 frames at H1:" \
  "$(wc -l <"$W/h1b.frames"), at SRV: $(wc -l <"$W/srv2.frames")"
[ "$flooded" -eq 10 ] || fail "expected 10 flooded frames to H1 from B, got $flooded"
[ "$(wc -l <"$W/h1b.frames")" -eq 20 ] || fail "H1 did not get/answer all flooded requests"
[ -z "$(uniq -d "$W/srv2.frames")" ] ||
  fail "duplicate frames at SRV while B floods ($(uniq -d "$W/srv2.frames" | wc -l))"
cmp -s "$W/h1b.frames" "$W/srv2.frames" || fail "SRV did not get H1<->H3 exactly once while flooding"
to_srv=$(tshark -r "$W/srv2.pcap" -Y "icmp.type == 8 && eth.dst == $MAC_SRV && eth.src == $MAC_H1" 2>/dev/null | wc -l)
# 3 originals (flooded, addressed to SRV) + 3 copies (B's decap of A's copies)
[ "$to_srv" -eq 6 ] || fail "expected 3 pings to SRV + 3 copies, got $to_srv"

# Stop the dataplanes: they print their counters.
for p in "${DPIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
for p in "${DPIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null || true; done
DPIDS=()
grep -E '^(counters|global|dropped|decap_drops|ceiling)' "$W/dpA.out" "$W/dpB.out"
# 26 + 10 replies H1->H3 + 3 pings H1->SRV (enter at A; the rest enters at B)
grep -q "decap vni=100 host-id=4242 port=srv packets=39 " "$W/dpB.out" ||
  fail "decap counter on leaf B"
grep -q "global unknown_host_id_packets=0 drops=0" "$W/dpB.out" || fail "drops on B"
grep -q "decap_drops no_tunnel_metadata=0 unknown_source=0 unknown_host_id=0" "$W/dpB.out" ||
  fail "decap drops on B: A (10.0.0.1) is a listed source of VNI 100"
# Every copy A emitted passed its mirror ceiling (the default, 1 Gbit/s).
grep -q "ceiling passed_packets=39 .* dropped_packets=0 " "$W/dpA.out" ||
  fail "leaf A's ceiling should have passed its 39 copies"
grep -q "dropped_originals packets=10 " "$W/dpB.out" ||
  fail "leaf B should have dropped the 10 flooded originals at SRV's port"
echo "PASS: two VTEPs, exactly-once mirroring, VXLAN-GBP HOST ID, originals unchanged, no duplicate while flooding"
