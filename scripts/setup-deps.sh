#!/usr/bin/env bash
# Install everything evpn-monitor needs on a fresh Debian 12 (bookworm) machine.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "setup-deps.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

# deb-src for `apt-get source frr` / `apt-get build-dep frr`.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && \
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
  cat > /etc/apt/sources.list.d/evpn-monitor-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  stamp_update=1
fi

pkgs=(
  build-essential cmake ninja-build pkg-config git dpkg-dev quilt
  # FRR build (plus `apt-get build-dep frr` below)
  libyang2-dev libzmq3-dev protobuf-c-compiler libprotobuf-c-dev
  libreadline-dev libjson-c-dev libcap-dev libelf-dev libpcre2-dev libc-ares-dev
  bison flex texinfo python3-dev python3-pytest
  # evpn-monitor C++
  libprotobuf-dev protobuf-compiler cppzmq-dev libzmq3-dev libcli11-dev doctest-dev
  libbpf-dev bpftool clang llvm libfuzzer-14-dev libjemalloc-dev libyang2-tools libmnl-dev libnl-3-dev libnl-route-3-dev nlohmann-json3-dev
  # lab and tests
  iproute2 iputils-ping tcpdump tshark exabgp python3-yaml python3-zmq python3-protobuf python3-scapy
  # stock FRR 8.4.4 for the interop leaf
  frr
  # Debian packages: frr .debs from Debian's source package
  # (dpkg-buildpackage, quilt above), the install test's clean root
  # (mmdebstrap), `systemd-analyze verify` of the units (systemd)
  mmdebstrap systemd
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ -n "${stamp_update:-}" ]; then
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  [ "${#missing[@]}" -gt 0 ] && apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's frr is installed only as the stock peer of the interop tests:
  # do not leave its service running in the root namespace.
  if printf '%s\n' "${missing[@]}" | grep -qx frr && command -v systemctl >/dev/null \
     && [ -d /run/systemd/system ]; then
    systemctl disable --now frr >/dev/null 2>&1 || true
  fi
fi
# FRR's own build dependencies (cheap no-op when already satisfied).
if ! dpkg-query -W -f='${Status}' libsnmp-dev 2>/dev/null | grep -q 'install ok installed'; then
  apt-get update -qq
  apt-get build-dep -y -qq frr
fi
getent group frr >/dev/null || groupadd -r frr
getent group frrvty >/dev/null || groupadd -r frrvty
id frr >/dev/null 2>&1 || useradd -r -g frr -G frrvty -d /nonexistent -s /usr/sbin/nologin frr
echo "setup-deps: done"
