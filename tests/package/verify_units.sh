#!/usr/bin/env bash
# `systemd-analyze verify` on every systemd unit evpn-monitor installs.
#
# The units are checked as installed: `cmake --install BUILD_DIR --prefix /usr
# --component Unspecified` (what the evpn-monitor .deb carries) into a
# temporary root, with a copy of this machine's /lib/systemd/system next to
# them (sysinit.target, frr.service, ... which the units refer to), and
# `systemd-analyze verify --root=ROOT <unit>`; a template (name@.service) is
# checked as the instance name@verify.service. systemd-analyze exits 0 on
# mere warnings (an unknown key, an unparsable value), so any output line
# that names the unit fails the check too. Two deliberately broken copies
# (an unknown key, a missing ExecStart binary) must fail the same check,
# so a check that accepts everything is caught. Also checked: each
# fpm-consumer unit has Restart=on-failure and After=/Wants=frr.service.
#
# usage: verify_units.sh BUILD_DIR      (no root needed; about 1 s)
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
command -v systemd-analyze >/dev/null || { echo "FAIL: no systemd-analyze (package systemd)" >&2; exit 1; }
root=$(mktemp -d "${TMPDIR:-/tmp}/evpnmon-units.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/lib/systemd" "$root/etc/systemd/system"
cp -a /lib/systemd/system "$root/lib/systemd/"
DESTDIR=$root cmake --install "$build" --prefix /usr --component Unspecified >"$root.install.log" 2>&1 \
  || { cat "$root.install.log" >&2; rm -f "$root.install.log"; echo "FAIL: cmake --install" >&2; exit 1; }
rm -f "$root.install.log"
unitdir=$root/usr/lib/systemd/system

# check_unit FILE: 0 if systemd-analyze accepts the unit without a word about it
check_unit() {
  local f=$1 name inst out rc
  name=$(basename "$f")
  inst=$name
  case "$name" in *@.*) inst="${name%%@.*}@verify.${name##*.}" ;; esac
  set +e
  out=$(systemd-analyze verify --root="$root" "$inst" 2>&1)
  rc=$?
  set -e
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
  [ "$rc" = 0 ] || return 1
  ! printf '%s\n' "$out" | grep -qF -e "${name%%@*}" -e "$f"
}

units=$(find "$unitdir" -maxdepth 1 -type f \( -name '*.service' -o -name '*.socket' \
        -o -name '*.timer' -o -name '*.path' -o -name '*.target' \) | sort)
[ -n "$units" ] || { echo "FAIL: no systemd unit installed under /usr/lib/systemd/system" >&2; exit 1; }
fail=0
for u in $units; do
  if check_unit "$u"; then echo "ok:   $(basename "$u")"; else echo "FAIL: $(basename "$u")"; fail=1; fi
  case "$(basename "$u")" in
    evpnmon-fpm-consumer*)
      for want in '^Restart=on-failure$' '^After=.*frr\.service' '^Wants=.*frr\.service'; do
        grep -qE "$want" "$u" || { echo "FAIL: $(basename "$u") lacks $want"; fail=1; }
      done ;;
  esac
done

# the check itself must reject broken units
first=$(printf '%s\n' $units | head -1)
b1=$unitdir/evpnmon-selftest-key@.service
sed 's/^Restart=/Restrt=/' "$first" >"$b1"
grep -q '^Restrt=' "$b1" || echo 'Restrt=on-failure' >>"$b1"
b2=$unitdir/evpnmon-selftest-exec@.service
sed -E 's|^ExecStart=([^ ]+)|ExecStart=\1-does-not-exist|' "$first" >"$b2"
for b in "$b1" "$b2"; do
  if check_unit "$b" >/dev/null 2>&1; then
    echo "FAIL: the check accepted the broken $(basename "$b")"; fail=1
  else
    echo "ok:   broken $(basename "$b") rejected"
  fi
  rm -f "$b"
done
[ "$fail" = 0 ] && echo PASS || { echo FAIL; exit 1; }
