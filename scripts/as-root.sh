# Sourced by the README's two commands: go on as root. A fresh Debian 12
# root shell has no sudo; a user shell goes through sudo when it exists
# (-E keeps EVPNMON_* and CI for the build and the tests).
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E "$PWD/scripts/$(basename "$0")" "$@"
  fi
  echo "$(basename "$0"): run as root (network namespaces, BPF, FRR), e.g. from 'su -'" >&2
  exit 1
fi
