#!/usr/bin/env bash
# Where a cluster round trip's CPU goes: runs cluster-1im (a gate and one im node, one process
# each, io_threads = 1) under dinx-load at one load, and prints for each process the CPU
# microseconds it spent per round trip, split into user and kernel time (from /proc), shared out
# over what the time went to (system calls, allocation, envelope codec, pending requests, frames,
# routing, dispatch...) by perf's call stacks, and the functions with the most self time. perf
# (Debian's linux-perf) samples the CPU clock, which needs no hardware counters. The stacks need
# frame pointers, so build for it first:
#
#   cmake -S . -B build-prof -DCMAKE_BUILD_TYPE=Release -DDINX_BUILD_TESTS=OFF \
#     -DCMAKE_CXX_FLAGS="-fno-omit-frame-pointer -g1"
#   cmake --build build-prof --target dinx-demo dinx-load
#   DINX_BENCH_BUILD=build-prof bench/profile.sh [CONNS DEPTH [SECONDS]]    default: 64 16 5
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-64} depth=${2:-16} seconds=${3:-5}
build=${DINX_BENCH_BUILD:-build-release}
demo=$build/demo/dinx-demo load=$build/bench/dinx-load
command -v perf >/dev/null || { echo "profile: perf is not installed (apt install linux-perf)" >&2; exit 2; }
[ -x "$demo" ] && [ -x "$load" ] || { echo "profile: build $demo and $load first (bench/run.sh does)" >&2; exit 2; }

work=$(mktemp -d /tmp/dinx-profile.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
base=17500
mkdir -p "$work/conf"
cat >"$work/conf/dinx.toml" <<EOF
[cluster]
io_threads = 1

[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = $base
link_port = $((base + 100))

[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = $((base + 1))
EOF
printf '[[im]]\nmsg_id = 6\nname = "echo"\n' >"$work/conf/route.toml"
for id in 1 2; do
  "$demo" --conf "$work/conf" --id "$id" --log-level warn 2>>"$work/nodes.log" &
  pids+=($!)
done
for port in $base $((base + 1)); do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
gate=${pids[0]} im=${pids[1]}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
"$load" --port "$base" -c "$conns" -d "$depth" -s 64 --warmup 1 --duration "$seconds" >"$work/load.out" &
load_pid=$!
sleep 1  # the warm-up
read -r gate_user0 gate_sys0 < <(cpu_ticks "$gate")
read -r im_user0 im_sys0 < <(cpu_ticks "$im")
perf record -q -g -e cpu-clock -F 2000 -p "$gate" -o "$work/gate.data" -- sleep $((seconds - 1)) 2>/dev/null &
gate_perf=$!
perf record -q -g -e cpu-clock -F 2000 -p "$im" -o "$work/im.data" -- sleep $((seconds - 1)) 2>/dev/null &
im_perf=$!
wait "$gate_perf" "$im_perf" || true
read -r gate_user1 gate_sys1 < <(cpu_ticks "$gate")
read -r im_user1 im_sys1 < <(cpu_ticks "$im")
wait "$load_pid"
rps=$(grep '^RESULT' "$work/load.out" | sed 's/.*rps=\([0-9.]*\).*/\1/')
grep '^RESULT' "$work/load.out"

hz=$(getconf CLK_TCK)
measured=$((seconds - 1))
# CPU microseconds per round trip of a process: "total user kernel busy%".
per_request() {  # per_request USER0 SYS0 USER1 SYS1
  awk -v u=$(($3 - $1)) -v s=$(($4 - $2)) -v hz="$hz" -v t="$measured" -v rps="$rps" 'BEGIN {
      us = 1e6 / hz / (rps * t)
      printf "%.3f %.3f %.3f %.0f\n", (u + s) * us, u * us, s * us, (u + s) * 100 / hz / t }'
}

# Each sample goes to the category of the innermost frame of its stack that names one (so a
# memcpy inside the envelope writer counts as the envelope's, a malloc anywhere as allocation),
# and the process's CPU time per round trip is shared out in those proportions. Stacks need frame
# pointers: build with -fno-omit-frame-pointer (see below) or the user frames are cut short.
categories() {  # categories PERF_DATA US_PER_ROUND_TRIP
  perf script -i "$1" -F ip,sym,dso 2>/dev/null | awk -v us="$2" '
    function category(frame) {
      if (frame ~ /\[kernel/) return "kernel: system calls (send, recv, epoll) and interrupts"
      if (frame ~ /(malloc|_int_free|cfree|[^a-z]free[^a-z]|operator new|operator delete|tcache)/) return "allocation (malloc, free)"
      if (frame ~ /(write_envelope|read_envelope)/) return "envelope encode/decode"
      if (frame ~ /(PendingWindow|pending_)/) return "pending-request tracking"
      if (frame ~ /(FrameReader|frame_codec|encode_frame|SendQueue)/) return "client frames: decode, encode, send queues"
      if (frame ~ /(Topology|ClientRouter|pick_node|rendezvous|LinkTable|RoutePin)/) return "routing: tables, pins, node choice, links"
      if (frame ~ /(Handler|handler|RequestContext|Dispatch|dispatch|MethodTable|Delivery)/) return "handler dispatch and delivery"
      if (frame ~ /(Metrics|metrics|steady_clock|clock_gettime)/) return "metrics and clocks"
      if (frame ~ /(sendmsg|recvmsg|__libc_recv|__libc_send|writev|epoll)/) return "system call wrappers (libc)"
      if (frame ~ /asio::detail/) return "asio: reactor, scheduler, handlers"
      return ""
    }
    BEGIN { RS = ""; FS = "\n" }
    {
      found = ""
      for (i = 1; i <= NF && found == ""; i++) found = category($i)
      if (found == "") found = ($1 ~ /dinx-demo/) ? "other dinx code" : "other"
      count[found]++; total++
    }
    END {
      for (c in count) printf "  %6.3f us  %5.1f%%  %s\n", us * count[c] / total, 100 * count[c] / total, c
    }' | sort -rn
}

for node in gate im; do
  if [ "$node" = gate ]; then
    read -r total user kernel busy < <(per_request "$gate_user0" "$gate_sys0" "$gate_user1" "$gate_sys1")
  else
    read -r total user kernel busy < <(per_request "$im_user0" "$im_sys0" "$im_user1" "$im_sys1")
  fi
  echo
  echo "== $node: $total us of CPU per round trip ($user user, $kernel kernel; busy $busy% of a core)"
  categories "$work/$node.data" "$total"
  echo "   top user-space functions (self time, share of all the samples):"
  perf report -i "$work/$node.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
    grep -v "^#" | grep -v "^$" | grep -v "\[k\]" | head -15 | sed "s/  *$//; s/^/  /"  || true  # (head closes the pipe early)
done
