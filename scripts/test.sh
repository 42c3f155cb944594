#!/usr/bin/env bash
# The test command (README.md; .ci/run calls exactly this): install what is
# missing, build everything (patched FRR from cache when unchanged), run every
# test: doctest units, fuzzers for a bounded time, and the integration tests in
# network namespaces with real FRR daemons and real packets.
#
# usage: scripts/test.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh

scripts/setup-deps.sh
build=${EVPNMON_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
# Serial: the lab tests each run a whole fabric on a 2-core machine.
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
