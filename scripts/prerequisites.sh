#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what building and testing toa needs, only when something is missing:
# clang/llvm and libbpf headers to compile the eBPF programs, libbpf1 to load
# them, and the tools the demo and tests drive (iproute2, tcpdump, tshark, ethtool, gcc,
# promtool to check the metrics, systemd-analyze to check the boot unit, haproxy as
# an independent PROXY protocol peer; dpkg-deb, dpkg-shlibdeps and lintian to build and
# check the Debian package, debootstrap for the fresh Debian root its tests install it into).
set -euo pipefail

quiet=${1:-}
say() { [ "$quiet" = "--quiet" ] || echo "$@" >&2; }

# command -> Debian package
declare -A needs=(
  [clang]=clang [llvm-strip]=llvm [bpftool]=bpftool [ip]=iproute2 [nsenter]=util-linux
  [tcpdump]=tcpdump [tshark]=tshark [ethtool]=ethtool [gcc]=gcc [socat]=socat [curl]=curl
  [promtool]=prometheus [systemd-analyze]=systemd [haproxy]=haproxy
  [dpkg-shlibdeps]=dpkg-dev [lintian]=lintian [debootstrap]=debootstrap [readelf]=binutils
)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
[ -f /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
ldconfig -p 2>/dev/null | grep -q 'libbpf.so.1 ' || missing+=(libbpf1)
python3 -c 'import scapy' >/dev/null 2>&1 || [ -d /usr/lib/python3/dist-packages/scapy ] || missing+=(python3-scapy)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "toa: missing packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "toa: installing ${missing[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # The prometheus package is here for promtool alone: not the server it starts.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  # Likewise haproxy: tests start their own with their own configuration.
  if [[ " ${missing[*]} " == *" haproxy "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now haproxy.service >/dev/null 2>&1 || true
  fi
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "toa: the .NET 10 SDK is missing: install it from https://dot.net (dotnet-sdk-10.0)" >&2
  exit 1
fi
say "toa: prerequisites present"
