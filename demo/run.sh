#!/usr/bin/env bash
# Installs what is missing, builds dinx-demo, starts the demo cluster of conf/ as one process per
# node, runs the scripted demo client against the first gate and shows the conversation, then,
# when conf/ has a second gate, the two-gate conversation (--port2). The nodes are stopped with
# SIGTERM when the script ends, however it ends; the exit code is the clients'.
#
#   ./demo/run.sh          run the demo once
#   ./demo/run.sh --keep   leave the cluster running afterwards, to talk to it yourself
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
case "${1:-}" in
  "") ;;
  --keep) keep=true ;;
  -h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [--keep]" >&2
    exit 2
    ;;
esac

conf=conf
build_dir=${DINX_BUILD_DIR:-build}
demo=$build_dir/demo/dinx-demo
logs=$build_dir/demo-logs

./scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target dinx-demo

# One line per node of dinx.toml: "id name type host port link_port metrics_port admin_port"
# ("-" for a backend's link_port, and for a node without a metrics_port or an admin_port).
# A small reader for the demo's flat tables; dinx-demo itself validates the file properly.
read_nodes() {
  awk '
    function value(line) { sub(/^[^=]*=[ \t]*/, "", line); sub(/[ \t]*#.*$/, "", line)
                           gsub(/"/, "", line); return line }
    function flush() { if (id != "") print id, name, type, host, port, (link == "" ? "-" : link),
                                           (metrics == "" ? "-" : metrics), (admin == "" ? "-" : admin)
                       id = name = type = host = port = link = metrics = admin = "" }
    /^[ \t]*\[/                  { flush() }
    /^[ \t]*id[ \t]*=/           { id = value($0) }
    /^[ \t]*name[ \t]*=/         { name = value($0) }
    /^[ \t]*type[ \t]*=/         { type = value($0) }
    /^[ \t]*host[ \t]*=/         { host = value($0) }
    /^[ \t]*port[ \t]*=/         { port = value($0) }
    /^[ \t]*link_port[ \t]*=/    { link = value($0) }
    /^[ \t]*metrics_port[ \t]*=/ { metrics = value($0) }
    /^[ \t]*admin_port[ \t]*=/   { admin = value($0) }
    END                          { flush() }
  ' "$conf/dinx.toml"
}

# True when something accepts TCP connections on host:port now.
accepts() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

ids=() names=() hosts=() ports=() metrics_urls=() gate_port="" gate2_port=""
while read -r id name type host port link_port metrics_port admin_port; do
  ids+=("$id") names+=("$name")
  hosts+=("$host") ports+=("$port")
  if [ "$link_port" != "-" ]; then hosts+=("$host") ports+=("$link_port"); fi
  # (metrics_host and admin_host are loopback unless the conf says otherwise; the demo's does not)
  if [ "$metrics_port" != "-" ]; then
    hosts+=(127.0.0.1) ports+=("$metrics_port") metrics_urls+=("http://127.0.0.1:$metrics_port/metrics")
  fi
  if [ "$admin_port" != "-" ]; then hosts+=(127.0.0.1) ports+=("$admin_port"); fi
  if [ "$type" = frontend ] && [ -n "$gate_port" ] && [ -z "$gate2_port" ]; then
    gate2_port=$port gate2_host=$host
  fi
  if [ "$type" = frontend ] && [ -z "$gate_port" ]; then gate_port=$port gate_host=$host; fi
done < <(read_nodes)
if [ -z "$gate_port" ]; then
  echo "demo: $conf/dinx.toml has no frontend node to connect to" >&2
  exit 2
fi

# A taken port would stop a node at start-up with a terse error: name it up front instead.
taken=()
for i in "${!ports[@]}"; do
  accepts "${hosts[$i]}" "${ports[$i]}" && taken+=("${hosts[$i]}:${ports[$i]}")
done
if [ ${#taken[@]} -gt 0 ]; then
  echo "demo: port(s) of $conf/dinx.toml already taken: ${taken[*]}" >&2
  echo "      is a demo cluster still running (./demo/run.sh --keep)? see: ss -ltnp" >&2
  exit 1
fi

pids=()
stop_nodes() {
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # dinx nodes stop within 5 s of SIGTERM; one that does not is killed, not waited for forever.
  for _ in $(seq 50); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} still running 5 s after SIGTERM; killing it" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    status=0
    wait "${pids[$i]}" 2>/dev/null || status=$?
    [ "$status" -eq 0 ] || echo "demo: ${names[$i]} exited with code $status (log: $logs/${names[$i]}.log)" >&2
  done
  pids=()
}
trap stop_nodes EXIT
# Without these, a Ctrl-C or kill of this script could skip the EXIT trap on some shells.
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() {
  echo "---- $logs/$1.log" >&2
  tail -n 20 "$logs/$1.log" >&2 || true
}

mkdir -p "$logs"
for i in "${!ids[@]}"; do
  "$demo" --conf "$conf" --id "${ids[$i]}" >"$logs/${names[$i]}.log" 2>&1 &
  pids+=($!)
done
echo "started ${names[*]} (pids ${pids[*]}); logs in $logs/"
[ ${#metrics_urls[@]} -eq 0 ] || echo "Prometheus metrics: ${metrics_urls[*]}"

# Wait (bounded) until every node listens; a node that exits meanwhile is reported at once.
for attempt in $(seq 100); do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} exited during start-up" >&2
      show_log "${names[$i]}"
      exit 1
    fi
  done
  all_up=true
  for i in "${!ports[@]}"; do accepts "${hosts[$i]}" "${ports[$i]}" || { all_up=false; break; }; done
  $all_up && break
  if [ "$attempt" -eq 100 ]; then
    echo "demo: the nodes did not open their ports within 10 s" >&2
    for name in "${names[@]}"; do show_log "$name"; done
    exit 1
  fi
  sleep 0.1
done

echo
# With account and rank nodes in the conf, the script also signs in, scores and reads the
# leaderboard: handlers on the gate that call those services.
services=()
for name in "${names[@]}"; do [[ "$name" == rank-* ]] && services=(--services); done
echo "$ $demo client --script ${services[*]} --host $gate_host --port $gate_port"
client_status=0
"$demo" client --script "${services[@]}" --host "$gate_host" --port "$gate_port" || client_status=$?
echo
# With a second gate (and the gates on one host, as the client takes one --host): players on
# both gates whisper, share a room, and one is replaced by a newer login on the other gate.
if [ "$client_status" -eq 0 ] && [ -n "$gate2_port" ] && [ "$gate2_host" = "$gate_host" ]; then
  echo "$ $demo client --script --host $gate_host --port $gate_port --port2 $gate2_port"
  "$demo" client --script --host "$gate_host" --port "$gate_port" --port2 "$gate2_port" ||
    client_status=$?
  echo
fi
if [ "$client_status" -ne 0 ]; then
  echo "demo: the scripted client failed (exit code $client_status); the nodes' logs:" >&2
  for name in "${names[@]}"; do show_log "$name"; done
fi

if $keep; then
  trap - EXIT
  echo "the demo cluster keeps running (pids ${pids[*]}); logs in $logs/"
  echo "talk to it:  $demo client --host $gate_host --port $gate_port"
  echo "             then type \`<msgID> <payload>\` lines, e.g. \`1 bob\`, \`3 hello\`; Ctrl-D quits"
  echo "operate it:  $demo ctl --conf $conf status   (also: routes, reload, drain NODE, kick UID)"
  echo "             edit $conf/route.toml, then $demo ctl --conf $conf reload (or kill -HUP the pids)"
  echo "stop it:     kill ${pids[*]}"
else
  stop_nodes
  echo "demo cluster stopped"
fi
exit "$client_status"
