#!/usr/bin/env bash
# Installs the Debian packages dinx builds with, when any is missing. Needs root (or sudo).
#   --fuzz   also clang and its runtime, for the libFuzzer targets
set -euo pipefail

packages=(
  build-essential cmake util-linux
  libasio-dev libcereal-dev libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev libcli11-dev libssl-dev
)
[ "${1:-}" = "--fuzz" ] && packages+=(clang libclang-rt-14-dev)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
