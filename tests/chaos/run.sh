#!/usr/bin/env bash
# The full chaos test: 60 seconds (or $1) of SIGKILL, SIGSTOP/SIGCONT and SIGTERM on the
# backends (3 im nodes and the demo's services: account-1, rank-1, rank-2) and SIGKILL on the
# gates (one at a time; their clients reconnect) of a 2-gate cluster under 200 clients sending
# echo and relay requests mixed with sign in, score and leaderboard (coroutine handlers on the
# gates that call the account and rank services), then the count of outcomes by kind (requests
# cut by a gate kill apart). Extra arguments go to dinx-chaos (e.g. --seed N to replay a run).
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/install-deps.sh
build_dir=${DINX_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target dinx-chaos dinx-demo >/dev/null
duration=${1:-60}
shift || true
exec "$build_dir/tests/dinx-chaos" --duration "$duration" "$@"
