#!/usr/bin/env bash
# The test command (README.md; .ci/run calls exactly this): install what is
# missing, build everything (patched FRR from cache when unchanged), run every
# test: doctest units (the consumer's also with libstdc++'s debug containers),
# fuzzers for a bounded time, and the integration tests in network namespaces
# with real FRR daemons and real packets.
#
# usage: scripts/test.sh [extra ctest arguments, e.g. -L unit: for the main
# tree; the debug-containers run is always whole]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh

scripts/setup-deps.sh
build=${EVPNMON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
# The consumer's unit tests once more with libstdc++'s debug containers
# (an iterator or node used after its container let it go aborts), in a
# tree of their own: the containers' layout differs. Always all of them,
# whatever ctest arguments are given. A failure, of their build too, is
# reported at the end: the other tests still run.
debug="$build/debug-containers"
debug_rc=0
{ cmake -S . -B "$debug" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVPNMON_DEBUG_CONTAINERS=ON \
    -DEVPNMON_BUILD_FRR=OFF -DEVPNMON_FUZZ=OFF &&
  cmake --build "$debug" -j "$(nproc)" --target fpmc-debug-containers &&
  ctest --test-dir "$debug" --output-on-failure --timeout 900 -L debug-containers; } || debug_rc=$?
# Serial: the lab tests each run a whole fabric on a 2-core machine.
rc=0
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@" || rc=$?
if [ "$debug_rc" -ne 0 ]; then
  echo "the unit tests with debug containers failed (above, $debug)" >&2
fi
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
exit "$debug_rc"
