#!/usr/bin/env bash
# Talks to a dinx gate with zinx's own Go client (znet.NewClient, heartbeat on): the demo
# conversation, an unrouted msgID, and a quiet spell that only heartbeats bridge. Proves the
# client protocol is zinx's byte for byte, with zinx's code rather than our reading of it.
# Not run by CI: it needs zinx's source, which CI machines cannot download.
#
#   tests/zinx/run.sh [ZINX_GIT]   ZINX_GIT: a clone (bare or not) of github.com/aceld/zinx;
#                                  its HEAD is used (default: clone it into a temporary dir)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

./scripts/install-deps.sh --zinx
work=$(mktemp -d)
gate_pid=""
cleanup() {
  if [ -n "$gate_pid" ]; then
    kill -TERM "$gate_pid" 2>/dev/null || true
    wait "$gate_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# zinx's go.mod asks for a newer Go than Debian's and for modules from the internet; GOPATH
# mode builds the same sources against Debian's packaged libraries instead.
zinx_dir=$work/gopath/src/github.com/aceld/zinx
mkdir -p "$(dirname "$zinx_dir")" "$work/gopath/src/zinxcheck"
zinx_src=${1:-$work/zinx.git}
[ -n "${1:-}" ] || git clone -q --bare --depth 1 https://github.com/aceld/zinx "$zinx_src"
# The committed tree (a bare mirror has no other).
mkdir -p "$zinx_dir"
git -C "$zinx_src" archive HEAD | tar -x -C "$zinx_dir"
echo "zinx: $(git -C "$zinx_src" log -1 --format='%h of %cs')"
cp tests/zinx/main.go "$work/gopath/src/zinxcheck/"
(cd "$work/gopath/src/zinxcheck" &&
  GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOFLAGS='' go build -o "$work/zinx-client" .)

build_dir=${DINX_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target dinx-demo >/dev/null

# The demo cluster in one process, on ports of its own.
sed -e 's/= 10000/= 10400/' -e 's/= 10100/= 10500/' -e 's/= 20000/= 20400/' -e 's/= 21000/= 21400/' \
  -e 's/= 10001/= 10401/' -e 's/= 10101/= 10501/' \
  -e 's/= 22000/= 22400/' -e 's/= 23000/= 23400/' -e 's/= 24000/= 24400/' \
  -e 's/^metrics_port = 91/metrics_port = 94/' -e 's/^admin_port = 92/admin_port = 95/' \
  conf/dinx.toml >"$work/dinx.toml"
cp conf/route.toml "$work/"
"$root/$build_dir/demo/dinx-demo" --conf "$work" --log-level warn >"$work/cluster.log" 2>&1 &
gate_pid=$!
for attempt in $(seq 100); do
  timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/10400' 2>/dev/null && break
  if [ "$attempt" -eq 100 ] || ! kill -0 "$gate_pid" 2>/dev/null; then
    echo "zinx: the demo cluster did not start:" >&2
    cat "$work/cluster.log" >&2
    exit 1
  fi
  sleep 0.1
done

# zinx logs its own start-up at INFO and complains that it has no zinx.json; keep the talk.
status=0
(cd "$work" && ./zinx-client -port 10400) >"$work/client.log" 2>&1 || status=$?
grep -E '^(>|<|  |\(|[0-9]+/[0-9]+ )' "$work/client.log" || true
if [ "$status" -ne 0 ]; then
  echo "zinx: the zinx client failed (exit code $status); its whole output:" >&2
  cat "$work/client.log" >&2
fi
exit "$status"
