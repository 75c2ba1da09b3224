#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what cross-building toa for arm64 and booting an arm64 guest need, only what is
# missing: Debian's aarch64 cross binutils and gcc (NativeAOT links with clang
# --target=aarch64-linux-gnu against their libraries and strips with their objcopy), zlib
# and libbpf1 for arm64 (NativeAOT links them; arm64 is added as a foreign architecture for
# them), and qemu-system-aarch64. Needs root.
set -euo pipefail
missing=()
command -v aarch64-linux-gnu-objcopy >/dev/null || missing+=(binutils-aarch64-linux-gnu)
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
command -v clang >/dev/null || missing+=(clang)
[ "$(dpkg-query -W -f '${Status}' zlib1g-dev:arm64 2>/dev/null)" = "install ok installed" ] || missing+=(zlib1g-dev:arm64)
[ "$(dpkg-query -W -f '${Status}' libbpf1:arm64 2>/dev/null)" = "install ok installed" ] || missing+=(libbpf1:arm64)
[ ${#missing[@]} -gt 0 ] || exit 0
[ "$(id -u)" = 0 ] || { echo "arm64: missing packages: ${missing[*]}; install them as root" >&2; exit 1; }
echo "arm64: installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
