#!/usr/bin/env bash
# Maintainer tool: re-export frr-plugin/patches from a git-tracked FRR tree
# (Debian's `apt-get source frr`, committed as the base, then edited).
# Keeps each patch's description (the text before its first "diff --git").
# The module's files (frr-plugin/module, proto/session) are left out:
# the build copies them in.
#
# usage: refresh-patches.sh FRR_TREE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:?FRR tree}
cd "$tree"
git add -N bgpd/bgp_evpn_ext.c bgpd/bgp_evpn_ext.h
export_patch() { # file, pathspecs...
  local f="$here/patches/$1"; shift
  local head; head=$(sed '/^diff --git/,$d' "$f" 2>/dev/null || true)
  { printf '%s\n' "$head"; git -c diff.noprefix=false diff --no-color -- "$@"; } > "$f.new"
  mv "$f.new" "$f"
}
export_patch 0001-lib-EVPN-extension-route-type-key-and-text-form.patch lib/prefix.h lib/prefix.c lib/command.h
export_patch 0002-bgpd-EVPN-extension-route-type-registry.patch bgpd ':!bgpd/subdir.am' ':!bgpd/bgp_evpn_mon*' ':!bgpd/evpn_mon_*' ':!bgpd/monitor_feed.pb-c.*'
export_patch 0003-bgpd-build-the-evpn-monitor-module.patch bgpd/subdir.am
export_patch 0101-lib-hooks-on-prefix-list-and-access-list-changes.patch \
  lib/filter.c lib/filter.h lib/filter_nb.c lib/plist.c lib/plist.h
git diff --stat
