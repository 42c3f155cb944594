#!/usr/bin/env bash
# Fetch FRR 8.4.4 (Debian's source package), apply frr-plugin/patches in
# order, add the evpn-monitor bgpd module, build zebra, bgpd, staticd,
# vtysh, watchfrr and dplane_fpm_nl with ZeroMQ, and install into a prefix
# in CACHE_DIR keyed by the hash of everything that goes into the build.
# An unchanged FRR is never rebuilt. OUT_LINK (in the build tree) points at
# the prefix.
#
# usage: build-frr.sh CACHE_DIR OUT_LINK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${1:?cache dir}
out=${2:?output link}
jobs=${EVPNMON_FRR_JOBS:-$(( $(nproc) + 1 ))}

inputs=( "$here"/patches/*.patch "$here"/module/*.[ch] "$top/proto/monitor_feed.proto" "$here/build-frr.sh" )
hash=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
prefix="$cache/frr-$hash"

if [ -f "$prefix/.complete" ]; then
  ln -sfn "$prefix" "$out"
  echo "frr: cached build $prefix"
  exit 0
fi

command -v apt-get >/dev/null || { echo "frr: needs apt-get source (Debian)" >&2; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/work-$hash.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
echo "frr: building patched FRR 8.4.4 into $prefix (log: $cache/frr-$hash.log)"

cd "$work"
if ! apt-get source -qq frr >"$log" 2>&1; then
  echo "frr: 'apt-get source frr' failed (is deb-src enabled? run scripts/setup-deps.sh)" >&2
  tail -5 "$log" >&2; cp "$log" "$cache/frr-$hash.log"; exit 1
fi
src=$(find "$work" -maxdepth 1 -type d -name 'frr-8.4.4*' | head -1)
cd "$src"
for p in "$here"/patches/*.patch; do
  patch -p1 --forward --quiet < "$p" || { echo "frr: patch $(basename "$p") does not apply" >&2; exit 1; }
done
cp "$here"/module/*.[ch] bgpd/
protoc-c --c_out=bgpd -I"$top/proto" "$top/proto/monitor_feed.proto"

{
  ./bootstrap.sh
  ./configure --prefix="$prefix" --sysconfdir="$prefix/etc" --localstatedir="$prefix/var" \
    --enable-user=frr --enable-group=frr --enable-vty-group=frrvty --enable-multipath=64 \
    --disable-ripd --disable-ripngd --disable-ospfd --disable-ospf6d --disable-ldpd --disable-nhrpd \
    --disable-eigrpd --disable-babeld --disable-isisd --disable-fabricd --disable-pimd --disable-pim6d \
    --disable-pbrd --disable-vrrpd --disable-pathd --disable-bfdd --disable-sharpd \
    --disable-ospfapi --disable-ospfclient --disable-doc --disable-snmp --disable-rpki --disable-scripting \
    --disable-bgp-vnc --disable-fpm --disable-protobuf --disable-bgp-bmp --enable-zeromq
  make -j"$jobs"
  rm -rf "$prefix"
  make install
} >>"$log" 2>&1 || { echo "frr: build failed, see $cache/frr-$hash.log" >&2; cp "$log" "$cache/frr-$hash.log"; exit 1; }

test -x "$prefix/sbin/bgpd" -a -f "$prefix/lib/frr/modules/bgpd_evpn_mon.so" \
  -a -f "$prefix/lib/frr/modules/dplane_fpm_nl.so" -a -x "$prefix/bin/vtysh" \
  || { echo "frr: install is missing daemons or modules" >&2; exit 1; }
cp "$log" "$cache/frr-$hash.log"
touch "$prefix/.complete"
ln -sfn "$prefix" "$out"
# keep the cache small: drop other prefixes built more than 7 days ago
find "$cache" -maxdepth 1 -name 'frr-*' -type d ! -path "$prefix" -mtime +7 -exec rm -rf {} + 2>/dev/null || true
echo "frr: built $prefix"
