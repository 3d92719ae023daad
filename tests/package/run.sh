#!/usr/bin/env bash
# dinx as a library: installs dinx from a build dir into a temporary prefix, builds
# examples/hello against it the way an application outside this repository would
# (find_package(dinx)), runs the example's unit test, then starts it on a free loopback port and
# checks that one frame gets the expected reply and that SIGTERM stops it cleanly.
#
#   tests/package/run.sh [BUILD_DIR]    BUILD_DIR (default: build) must be built already
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/dinx-package.XXXXXX")
hello_pid=
cleanup() {
    if [ -n "$hello_pid" ]; then
        kill -KILL "$hello_pid" 2>/dev/null || true
        wait "$hello_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

fail() {
    echo "package: FAILED: $*" >&2
    if [ -f "$scratch/hello.log" ]; then sed 's/^/  hello: /' "$scratch/hello.log" >&2; fi
    exit 1
}

# True once process $1 has exited (gone, or a zombie not yet waited for).
exited() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$state" ] || [ "$state" = Z ]
}

# Waits up to $2 seconds for process $1 to exit and sets $status to its exit code; fails after.
reap() {
    local deadline=$((SECONDS + $2))
    until exited "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "hello still runs after $2 s"
        sleep 0.05
    done
    status=0
    wait "$1" || status=$?
    hello_pid=
}

echo "=== package: install $build into a temporary prefix, build examples/hello against it"
prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S examples/hello -B "$scratch/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# The example must have found the package just installed, not another dinx on the machine.
grep -q "^dinx_DIR:PATH=$prefix/" "$scratch/build/CMakeCache.txt" ||
    fail "find_package(dinx) did not use $prefix"
cmake --build "$scratch/build" -j"$(nproc)" >/dev/null
ctest --test-dir "$scratch/build" --output-on-failure --no-tests=error

# Any free port: the kernel names one, hello gets it in its dinx.toml. Another process may take
# it in between; hello then exits 1 (cannot start) and the next attempt takes another port.
echo "=== package: run hello, send one frame"
port=
for attempt in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$scratch/conf"
    cp -r examples/hello/conf "$scratch/conf"
    sed -i "s/^port = [0-9]*/port = $port/" "$scratch/conf/dinx.toml"
    "$scratch/build/hello" --conf "$scratch/conf" >"$scratch/hello.log" 2>&1 &
    hello_pid=$!
    deadline=$((SECONDS + 10))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if exited "$hello_pid"; then
            reap "$hello_pid" 1
            [ "$status" -eq 1 ] || fail "hello exited with status $status"
            break
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "hello does not accept on port $port after 10 s"
        sleep 0.05
    done
    [ -n "$hello_pid" ] && break
    [ "$attempt" -lt 3 ] || fail "hello could not start in 3 attempts"
done

# One zinx TLV frame ([msgID u32 big-endian][dataLen u32 big-endian][data]) and its reply.
python3 - "$port" <<'EOF' || fail "wrong or no reply"
import socket, struct, sys

def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            sys.exit(f"the connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data

with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as sock:
    payload = b"dinx"
    sock.sendall(struct.pack(">II", 1, len(payload)) + payload)
    msg_id, data_len = struct.unpack(">II", read_exactly(sock, 8))
    reply = read_exactly(sock, data_len)
print(f"-> 1 {payload.decode()}\n<- {msg_id} {reply.decode(errors='replace')}")
if (msg_id, reply) != (1, b"hello, " + payload):
    sys.exit(f"expected: 1 hello, {payload.decode()}")
EOF

# SIGTERM drains, then exits 0 (the drain gives up after 3 s).
kill -TERM "$hello_pid"
reap "$hello_pid" 10
[ "$status" -eq 0 ] || fail "hello exited with status $status after SIGTERM"
echo "=== package: passed"
