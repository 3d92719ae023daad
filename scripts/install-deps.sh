#!/usr/bin/env bash
# Installs the Debian packages dinx builds with, when any is missing. Needs root (or sudo).
#   --fuzz   also clang and its runtime, for the libFuzzer targets
#   --zinx   also Go and the libraries zinx's client needs, for tests/zinx/run.sh
set -euo pipefail

packages=(
  build-essential cmake util-linux python3
  libasio-dev libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev libcli11-dev libssl-dev
  nlohmann-json3-dev  # the admin endpoint and ctl speak JSON; also the typed JSON adapter (cluster/typed/json.hpp)
  libprotobuf-dev protobuf-compiler  # optional for dinx itself: the protobuf adapter (cluster/typed/protobuf.hpp)
  python3-websockets openssl  # for tests only: the external-client tests (tests/external/*.py)
  python3-prometheus-client  # for tests only: tests/external/metrics_scrape.py parses /metrics with it
  chromium  # for tests only: the browser demo's test (tests/browser/chat_test.py)
)
for option in "$@"; do
  case "$option" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --zinx) packages+=(golang-go golang-github-gorilla-websocket-dev golang-github-xtaci-kcp-dev golang-golang-x-net-dev) ;;
    *) echo "usage: $0 [--fuzz] [--zinx]" >&2; exit 2 ;;
  esac
done

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
