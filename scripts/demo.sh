#!/usr/bin/env bash
# The main job (README.md): install what is missing, build, bring up the demo
# fabric in network namespaces, configure the monitoring of VM210 by SERV21
# with vtysh, send traffic, show what SERV21 receives, move VM210 then SERV21,
# and print the convergence times. Tears down everything it created, also on
# Ctrl-C (scripts/demo.py does the fabric part).
#
# usage: scripts/demo.sh [--out DIR] [--prefix NAME]
#        (pcap files go to DIR, default /tmp/evpnmon-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
echo "== [1/3] dependencies"; scripts/setup-deps.sh
build=${EVPNMON_BUILD_DIR:-build}
echo "== [2/3] build (patched FRR comes from the cache when unchanged)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "== [3/3] demo fabric"
export EVPNMON_FRR_PREFIX="$PWD/$build/frr" EVPNMON_BUILD_DIR="$PWD/$build"
exec /usr/bin/python3 scripts/demo.py "$@"
