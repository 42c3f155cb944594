#!/usr/bin/env bash
# Build the patched FRR 8.4.4 with the evpn-monitor bgpd module, cached
# outside the source tree.
#
#   CACHE_DIR/frr-<series hash>/src     Debian's `apt-get source frr` with
#                                       frr-plugin/patches applied, configured
#   CACHE_DIR/frr-<series hash>/prefix  installed zebra, bgpd, staticd, vtysh,
#                                       watchfrr, dplane_fpm_nl, bgpd_evpn_mon
#
# <series hash> covers the patch series and this script; the module sources
# (frr-plugin/module and, from proto/session, the NLRI codec and the session
# options) and the .proto are hashed too (prefix/.evpnmon-build). Nothing changed:
# nothing is rebuilt. Only the module changed: it is recompiled in the kept
# tree (seconds). The series changed: a new tree (about 5 minutes).
# OUT_LINK (inside the build tree) points at the prefix.
#
# usage: build-frr.sh CACHE_DIR OUT_LINK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${1:?cache dir}
out=${2:?output link}
jobs=${EVPNMON_FRR_JOBS:-$(( $(nproc) + 1 ))}

# What is copied into bgpd/ (patch 0003 builds it): the module and the
# session code it shares with the consumer and the tests.
module_files=("$here"/module/*.[ch] "$top"/proto/session/evpn_mon_codec.[ch]
              "$top"/proto/session/evpn_mon_options.[ch])
series_hash=$(cat "$here"/patches/*.patch "$here/build-frr.sh" | sha256sum | cut -c1-16)
full_hash=$(cat "$here"/patches/*.patch "$here/build-frr.sh" "${module_files[@]}" \
            "$top/proto/monitor_feed.proto" | sha256sum | cut -c1-16)
base="$cache/frr-$series_hash"
src="$base/src"
prefix="$base/prefix"
log="$base/build.log"
mkdir -p "$base"

exec 9>"$base.lock"
flock 9   # one build per tree at a time

if [ "$(cat "$prefix/.evpnmon-build" 2>/dev/null)" = "$full_hash" ]; then
  ln -sfn "$prefix" "$out"
  echo "frr: up to date ($prefix)"
  exit 0
fi

fail() { echo "frr: $*; log: $log" >&2; tail -20 "$log" >&2 || true; exit 1; }

# Copy a file only if its content changed (keeps make's view of mtimes).
sync_file() { cmp -s "$1" "$2" || cp "$1" "$2"; }

add_module() {
  for f in "${module_files[@]}"; do sync_file "$f" "$src/bgpd/$(basename "$f")"; done
  local tmp; tmp=$(mktemp -d)
  protoc-c --c_out="$tmp" -I"$top/proto" "$top/proto/monitor_feed.proto"
  for f in "$tmp"/*; do sync_file "$f" "$src/bgpd/$(basename "$f")"; done
  rm -rf "$tmp"
}

if [ ! -f "$src/config.status" ]; then
  echo "frr: new tree for this patch series: $base (about 5 minutes)"
  rm -rf "$src" "$prefix"
  work=$(mktemp -d "$base/fetch.XXXXXX")
  ( cd "$work" && apt-get source -qq frr ) >"$log" 2>&1 \
    || fail "'apt-get source frr' failed (deb-src enabled? run scripts/setup-deps.sh)"
  d=$(find "$work" -maxdepth 1 -type d -name 'frr-8.4.4*' | head -1)
  [ -n "$d" ] || fail "no frr-8.4.4 source in $(ls "$work")"
  mv "$d" "$src"
  rm -rf "$work"
  for p in "$here"/patches/*.patch; do
    ( cd "$src" && patch -p1 --forward --quiet ) < "$p" >>"$log" 2>&1 \
      || fail "patch $(basename "$p") does not apply"
  done
  add_module
  ( cd "$src" && ./bootstrap.sh && ./configure \
      --prefix="$prefix" --sysconfdir="$prefix/etc" --localstatedir="$prefix/var" \
      --enable-user=frr --enable-group=frr --enable-vty-group=frrvty --enable-multipath=64 \
      --disable-ripd --disable-ripngd --disable-ospfd --disable-ospf6d --disable-ldpd --disable-nhrpd \
      --disable-eigrpd --disable-babeld --disable-isisd --disable-fabricd --disable-pimd --disable-pim6d \
      --disable-pbrd --disable-vrrpd --disable-pathd --disable-bfdd --disable-sharpd \
      --disable-ospfapi --disable-ospfclient --disable-doc --disable-snmp --disable-rpki --disable-scripting \
      --disable-bgp-vnc --disable-fpm --disable-protobuf --disable-bgp-bmp --enable-zeromq \
    ) >>"$log" 2>&1 || fail "configure failed"
else
  echo "frr: module changed, rebuilding it in $src"
  add_module
fi

( cd "$src" && make -j"$jobs" && make install ) >>"$log" 2>&1 || fail "build failed"
# vtysh reads SYSCONFDIR/vtysh.conf at every start and complains on stderr
# when it is missing, which scripts take for a failed command.
mkdir -p "$prefix/etc"
[ -e "$prefix/etc/vtysh.conf" ] || cat > "$prefix/etc/vtysh.conf" <<'CONF'
! vtysh's own settings (empty: FRR's defaults); the daemons' configuration
! is elsewhere.
CONF
for f in sbin/zebra sbin/bgpd sbin/staticd sbin/watchfrr bin/vtysh etc/vtysh.conf \
         lib/frr/modules/bgpd_evpn_mon.so lib/frr/modules/dplane_fpm_nl.so; do
  [ -e "$prefix/$f" ] || fail "install lacks $f"
done
echo "$full_hash" > "$prefix/.evpnmon-build"
ln -sfn "$prefix" "$out"
# drop trees of other patch series unused for 14 days
find "$cache" -maxdepth 1 -name 'frr-*' -type d ! -path "$base" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
echo "frr: built $prefix"
