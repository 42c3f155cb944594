#!/usr/bin/env bash
# Record a real FPM stream from stock zebra 8.4.4 (leaf1) for the replay
# tests. Timeline (all MACs behind leaf2 = VTEP 10.0.0.2 unless noted):
#   1. MAC A 02:00:00:00:02:10 appears right away: installed on leaf1 before
#      zebra's FPM client connects (about 3 s after start) -> FRR 8.4.4 never
#      sends it (the L2VNI replay gap).
#   2. FPM connected: MAC B 02:00:00:00:02:20 appears -> RTM_NEWNEIGH.
#   3. MAC B moves to leaf1 (local there) -> RTM_DELNEIGH.
#   4. MAC A disappears -> RTM_DELNEIGH of a MAC the stream never announced.
# Writes $out (default tests/fpm-consumer/data/zebra-8.4.4-evpn.fpm) and
# $out.meta. Run as root; bounded time; everything is cleaned up on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab.sh"
trap lab_down EXIT
out=${1:-$here/../data/zebra-8.4.4-evpn.fpm}
rm -f "$out" "$out.connected"
lab_up
timeout 60 ip netns exec "$L1" /usr/bin/python3 "$here/record_fpm.py" "$FPM_PORT" "$out" 40 &
rec=$!
sleep 0.3
lab_start_frr
lab_host "$L2" hpa 02:00:00:00:02:10
wait_for "lab_ns $L1 bridge fdb show dev vxlan100 | grep -q 02:00:00:00:02:10" 20
wait_for "test -e $out.connected" 20
sleep 2
lab_host "$L2" hpb 02:00:00:00:02:20
wait_for "lab_ns $L1 bridge fdb show dev vxlan100 | grep -q 02:00:00:00:02:20" 20
sleep 1
# B moves to leaf1
lab_ns "$L2" bridge fdb del 02:00:00:00:02:20 dev hpb master static
ip netns del "${LAB_ID}-h-hpb"
lab_host "$L1" hpc 02:00:00:00:02:20
wait_for "! lab_ns $L1 bridge fdb show dev vxlan100 | grep -q 02:00:00:00:02:20" 20
sleep 1
lab_ns "$L2" bridge fdb del 02:00:00:00:02:10 dev hpa master static
wait_for "! lab_ns $L1 bridge fdb show dev vxlan100 | grep -q 02:00:00:00:02:10" 20
sleep 1
lab_kill leaf1 zebra # closes the FPM connection: the recorder stops
wait $rec || true
rm -f "$out.connected"
ifx=$(lab_ns "$L1" cat /sys/class/net/vxlan100/ifindex 2>/dev/null || echo 3)
echo "vxlan100_ifindex=$ifx vni=100 remote_vtep=10.0.0.2" >"${out%.fpm}.meta"
ls -l "$out"
