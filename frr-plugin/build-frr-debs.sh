#!/usr/bin/env bash
# Build the patched FRR 8.4.4 as Debian packages, from Debian's own source
# package, cached outside the source tree.
#
#   1. `apt-get source frr=<V>`: V is the newest 8.4.4 Debian revision apt
#      knows (deb-src), or $EVPNMON_FRR_DEB_BASE;
#   2. our series goes into debian/patches/evpn-monitor/ and at the end of
#      debian/patches/series (quilt, applied with --fuzz=0):
#        0001-0003  frr-plugin/patches (EVPN extension route-type registry,
#                   the module's build rules)
#        0004       generated here: the module sources frr-plugin/module/*.[ch],
#                   proto/session/evpn_mon_{codec,options}.[ch]
#                   and the protoc-c output of proto/monitor_feed.proto, added
#                   to bgpd/
#        0101       frr-plugin/patches (lib: hooks on prefix-list and
#                   access-list changes, for the module's import policy)
#        0201-0203  frr-plugin/patches (zebra FPM fixes)
#   3. debian/rules: --enable-zeromq instead of --disable-zeromq (the module's
#      feed uses libfrrzmq); nodoc also drops the HTML manual (only the
#      arch:all frr-doc package ships it, and this is an arch-only build);
#      debian/control: Build-Depends libzmq3-dev, libprotobuf-c-dev;
#      debian/frr.install: libfrrzmq and modules/bgpd_evpn_mon.so, so the
#      module ships in the frr package, next to dplane_fpm_nl.so
#      (/usr/lib/<multiarch>/frr/modules);
#   4. debian/changelog: a new entry V+evpnmon1 (the local suffix, see
#      docs/operator-guide.md "Installing from packages"): it sorts above
#      Debian's V and below Debian's next update of the same release
#      (checked below with dpkg --compare-versions);
#   5. dpkg-buildpackage --build=source,any (the patched source package and
#      the arch-specific .debs; the arch:all frr-doc and frr-pythontools are
#      not rebuilt: Debian's frr-pythontools accepts our version) with
#      DEB_BUILD_OPTIONS "nocheck nodoc parallel=<nproc>" and
#      DEB_BUILD_PROFILES.
#
# Cache: CACHE_DIR/debs-<hash>/ holds the .debs, .buildinfo, .changes,
# build.log, frr-version and source/ (.dsc, .debian.tar.xz, .orig.tar.xz:
# the source of what the .debs contain); <hash> covers the patches, the module sources,
# the .proto, this script, V, the suffix, the build options (without
# parallel=) and the profiles. Unchanged: nothing is rebuilt (<1 s). The
# build tree is removed after a successful build (EVPNMON_FRR_DEB_KEEP_TREE=1
# keeps it).
#
# Output: OUT_DIR gets the .debs (hard links or copies; older frr*.deb there
# are removed first), OUT_DIR/frr-source/ and OUT_DIR/frr-deb-version (the frr package version,
# read by CPack for evpn-monitor's `frr (= ...)` dependency).
#
# usage: build-frr-debs.sh CACHE_DIR OUT_DIR
# env:   EVPNMON_FRR_DEB_BASE           Debian source version (default: newest 8.4.4-*)
#        EVPNMON_FRR_DEB_SUFFIX         local version suffix (default +evpnmon1)
#        EVPNMON_FRR_DEB_BUILD_OPTIONS  (default "nocheck nodoc parallel=$(nproc)")
#        EVPNMON_FRR_DEB_PROFILES       DEB_BUILD_PROFILES (default: none, see docs)
set -euo pipefail
# Debian's tools only: a python3 earlier in PATH (pyenv, venv) lacks sphinx
# and the other build dependencies that debian/rules expects of python3.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
mkdir -p "${1:?cache dir}" "${2:?output dir}"
cache=$(cd "$1" && pwd)
out=$(cd "$2" && pwd)
suffix=${EVPNMON_FRR_DEB_SUFFIX:-+evpnmon1}
options=${EVPNMON_FRR_DEB_BUILD_OPTIONS:-nocheck nodoc parallel=$(nproc)}
profiles=${EVPNMON_FRR_DEB_PROFILES:-}
upstream=8.4.4       # what frr-plugin/patches are made for

say() { echo "frr-debs: $*"; }
die() { echo "frr-debs: $*" >&2; exit 1; }

# --- which Debian source
base_ver=${EVPNMON_FRR_DEB_BASE:-}
if [ -z "$base_ver" ]; then
  for v in $(apt-cache showsrc frr 2>/dev/null | awk '/^Version:/ {print $2}'); do
    case "$v" in "$upstream"-*) ;; *) continue ;; esac
    if [ -z "$base_ver" ] || dpkg --compare-versions "$v" gt "$base_ver"; then base_ver=$v; fi
  done
  [ -n "$base_ver" ] || die "apt knows no frr $upstream source (deb-src enabled? run scripts/setup-deps.sh)"
fi
case "$base_ver" in "$upstream"-*) ;; *) die "frr $base_ver is not $upstream: the series is made for $upstream" ;; esac
version=$base_ver$suffix

# The local version must sort above Debian's and below Debian's next update
# of the same release (e.g. ~deb12u2 -> ~deb12u3), so that apt never takes
# one for the other and a Debian security update is seen as newer.
next_ver=$(printf '%s\n' "$base_ver" | perl -pe 's/(\d+)$/$1+1/e')
dpkg --compare-versions "$version" gt "$base_ver" || die "$version does not sort above $base_ver"
dpkg --compare-versions "$version" lt "$next_ver" || die "$version does not sort below $next_ver"

module_files=("$here"/module/*.[ch] "$top"/proto/session/evpn_mon_codec.[ch]
              "$top"/proto/session/evpn_mon_options.[ch])
hash=$( { cat "$here"/patches/*.patch "${module_files[@]}" "$top/proto/monitor_feed.proto" \
            "$here/build-frr-debs.sh"
          printf '%s\n' "$version" "$(printf '%s\n' $options | grep -v '^parallel=' | sort | tr '\n' ' ')" \
            "$profiles"; } | sha256sum | cut -c1-16)
base="$cache/debs-$hash"
log="$base/build.log"
mkdir -p "$base"
exec 9>"$base.lock"
flock 9   # one build per key at a time

copy_out() {
  mkdir -p "$out"
  rm -rf "$out"/frr_*.deb "$out"/frr-*_*.deb "$out/frr-deb-version" "$out/frr-source"
  mkdir -p "$out/frr-source"
  for f in "$base"/*.deb; do
    ln -f "$f" "$out/" 2>/dev/null || cp -f "$f" "$out/"
  done
  for f in "$base"/source/*; do
    ln -f "$f" "$out/frr-source/" 2>/dev/null || cp -f "$f" "$out/frr-source/"
  done
  cp "$base/frr-version" "$out/frr-deb-version"
}

if [ -f "$base/.complete" ]; then
  copy_out
  say "up to date: frr $(cat "$base/frr-version") ($base)"
  exit 0
fi

fail() { echo "frr-debs: $*; log: $log" >&2; tail -25 "$log" >&2 || true; exit 1; }
t0=$(date +%s)
say "building frr $version .debs in $base (DEB_BUILD_OPTIONS='$options'${profiles:+, profiles '$profiles'})"
rm -rf "$base/work" "$base/source" "$base"/*.deb "$base"/*.buildinfo "$base"/*.changes
mkdir -p "$base/work"
: >"$log"
( cd "$base/work" && apt-get source -q "frr=$base_ver" ) >>"$log" 2>&1 \
  || fail "'apt-get source frr=$base_ver' failed (deb-src enabled and current? run scripts/setup-deps.sh and apt-get update; or set EVPNMON_FRR_DEB_BASE)"
src=$(find "$base/work" -maxdepth 1 -type d -name "frr-$upstream*" | head -1)
[ -n "$src" ] || fail "no frr-$upstream tree after apt-get source"
cd "$src"
[ "$(dpkg-parsechangelog -S Version)" = "$base_ver" ] || fail "source is $(dpkg-parsechangelog -S Version), not $base_ver"

# --- 2. the series
pdir=debian/patches/evpn-monitor
mkdir -p "$pdir"
cp "$here"/patches/*.patch "$pdir/"
module_patch=0004-bgpd-add-the-evpn-monitor-module-sources.patch
gen=$(mktemp -d)
protoc-c --c_out="$gen" -I"$top/proto" "$top/proto/monitor_feed.proto" >>"$log" 2>&1 \
  || fail "protoc-c failed"
{
  cat <<'HDR'
Description: bgpd: add the evpn-monitor module sources
 Generated by evpn-monitor's frr-plugin/build-frr-debs.sh: the bgpd module
 bgpd_evpn_mon (frr-plugin/module/*.[ch], proto/session/evpn_mon_codec.[ch],
 proto/session/evpn_mon_options.[ch]) and the protoc-c output of
 proto/monitor_feed.proto, added to bgpd/. Built by the rules of
 0003-bgpd-build-the-evpn-monitor-module.patch (needs --enable-zeromq).
Author: evpn-monitor developers
Forwarded: not-needed
---
HDR
  for f in "${module_files[@]}" "$gen"/*.[ch]; do
    n=$(basename "$f")
    diff -u --label /dev/null --label "b/bgpd/$n" /dev/null "$f" || [ $? -eq 1 ]
  done
} >"$pdir/$module_patch"
rm -rf "$gen"
for p in 0001 0002 0003; do ls "$pdir/$p"-*.patch >/dev/null 2>&1 || fail "missing patch $p"; done
{
  echo "# evpn-monitor (frr-plugin/build-frr-debs.sh)"
  for p in "$pdir"/000[1-3]-*.patch "$pdir/$module_patch" "$pdir"/01[0-9][0-9]-*.patch \
           "$pdir"/02[0-9][0-9]-*.patch; do
    echo "evpn-monitor/$(basename "$p")"
  done
} >>debian/patches/series
QUILT_PATCHES=debian/patches QUILT_PC=.pc quilt --quiltrc=- push -a --fuzz=0 >>"$log" 2>&1 \
  || fail "the series does not apply to frr $base_ver (quilt push --fuzz=0)"

# --- 3. packaging changes
sed -i 's/--disable-zeromq/--enable-zeromq/' debian/rules
grep -q -- '--enable-zeromq' debian/rules || fail "debian/rules: no --disable-zeromq to turn into --enable-zeromq"
sed -i 's/^\(\t\t\)--enable-doc-html \\$/\1$(CONF_DOC_HTML) \\/' debian/rules
grep -q 'CONF_DOC_HTML' debian/rules || fail "debian/rules: no --enable-doc-html line"
sed -i 's/^export PYTHON=python3$/# evpn-monitor: nodoc drops the HTML manual (arch:all frr-doc only)\
ifeq ($(filter nodoc,$(DEB_BUILD_OPTIONS) $(DEB_BUILD_PROFILES)),)\
  CONF_DOC_HTML=--enable-doc-html\
else\
  CONF_DOC_HTML=--disable-doc-html\
endif\
\
&/' debian/rules
grep -q '^  CONF_DOC_HTML=--disable-doc-html' debian/rules || fail "debian/rules: cannot add CONF_DOC_HTML"
sed -i 's/^\( *\)libyang2-dev,$/&\n\1libzmq3-dev,\n\1libprotobuf-c-dev,/' debian/control
grep -q '^ *libzmq3-dev,$' debian/control || fail "debian/control: cannot add Build-Depends"
printf '%s\n' 'usr/lib/*/frr/libfrrzmq.*' 'usr/lib/*/frr/modules/bgpd_evpn_mon.so' >>debian/frr.install

# --- 4. version
{
  cat <<EOF
frr ($version) bookworm; urgency=medium

  * Local build by evpn-monitor (not a Debian upload), series $hash:
    - debian/patches/evpn-monitor: EVPN extension route-type registry
      (0001-0003), the evpn-monitor bgpd module sources (0004), lib hooks on
      prefix-list and access-list changes (0101), zebra FPM fixes
      (0201-0203).
    - debian/rules: --enable-zeromq; nodoc also drops the HTML manual.
    - debian/control: Build-Depends libzmq3-dev, libprotobuf-c-dev.
    - debian/frr.install: libfrrzmq, modules/bgpd_evpn_mon.so.

 -- evpn-monitor developers <evpn-monitor@localhost>  $(date -R)

EOF
  cat debian/changelog
} >debian/changelog.new
mv debian/changelog.new debian/changelog
[ "$(dpkg-parsechangelog -S Version)" = "$version" ] || fail "changelog version is not $version"

# --- 5. build
say "dpkg-buildpackage (log: $log)"
export DEB_BUILD_OPTIONS="$options"
export DEB_BUILD_PROFILES="$profiles"
[ -n "$profiles" ] || unset DEB_BUILD_PROFILES
dpkg-buildpackage --build=source,any -uc -us >>"$log" 2>&1 \
  || fail "dpkg-buildpackage failed (build dependencies: scripts/setup-deps.sh)"
cd "$base"
mv work/*.deb work/*.buildinfo work/*.changes "$base/"
mkdir -p "$base/source"
mv work/*.dsc work/*.debian.tar.* work/*.orig.tar.* "$base/source/"
frr_deb=$(ls "$base"/frr_"${version#*:}"_*.deb 2>/dev/null | head -1)
[ -n "$frr_deb" ] || fail "no frr_${version}_*.deb"
contents=$(dpkg-deb -c "$frr_deb")
for m in bgpd_evpn_mon.so dplane_fpm_nl.so; do
  grep -q "/frr/modules/$m\$" <<<"$contents" || fail "frr .deb lacks modules/$m"
done
dpkg-deb -f "$frr_deb" Version >"$base/frr-version"
[ "$(cat "$base/frr-version")" = "$version" ] || fail "frr .deb has version $(cat "$base/frr-version")"
[ "${EVPNMON_FRR_DEB_KEEP_TREE:-0}" = 1 ] || rm -rf "$base/work"
t1=$(date +%s)
echo "built in $((t1 - t0)) s (DEB_BUILD_OPTIONS='$options' DEB_BUILD_PROFILES='$profiles')" \
  | tee -a "$log" >"$base/build-time"
touch "$base/.complete"
copy_out
# drop package caches of other series unused for 14 days
find "$cache" -maxdepth 1 -name 'debs-*' -type d ! -path "$base" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
say "built frr $version in $((t1 - t0)) s: $(cd "$base" && ls *.deb | tr '\n' ' ')"
