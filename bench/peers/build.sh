#!/usr/bin/env bash
# Builds the peers that bench/run.sh can measure beside dinx, from their public sources, into a
# directory outside the repository (their code is theirs: only our small programs that use
# their APIs live here, in bench/peers/zinx and bench/peers/skynet):
#   zinx-echo   zinx's server (github.com/aceld/zinx) answering msgID 6 with its payload,
#               GOMAXPROCS=1 (bench/peers/zinx/main.go)
#   skynet/     skynet (github.com/cloudwu/skynet) without jemalloc, with our services and
#               config (thread = 1) in skynet/dinx/: echo_node, cluster_front, cluster_back
# then prints the commit each was built from and the bench/run.sh options that use them.
#
#   bench/peers/build.sh OUT_DIR [ZINX_GIT] [SKYNET_GIT]
#
# ZINX_GIT, SKYNET_GIT: clones (bare or not) whose HEAD is built; defaults: the mirrors under
# /work/.mirror. JOBS (default: all cores) bounds the parallel compiles.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

[ $# -ge 1 ] && [ $# -le 3 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out=$(realpath -m -- "$1")
zinx_git=${2:-/work/.mirror/aceld+zinx/repo}
skynet_git=${3:-/work/.mirror/cloudwu+skynet/repo}
jobs=${JOBS:-$(nproc)}
case "$out/" in
  "$root"/*) echo "build.sh: OUT_DIR must be outside the repository ($root)" >&2; exit 2 ;;
esac
mkdir -p "$out"

# "v1.2.8-12-ga2cd618 (a2cd618 of 2026-06-06)": the nearest tag and the commit.
describe() {
  local tag
  tag=$(git -C "$1" describe --tags --always 2>/dev/null || true)
  echo "${tag:+$tag }($(git -C "$1" log -1 --format='%h of %cs'))"
}

# The committed tree of a clone into DIR, fresh (a bare mirror has no work tree to copy).
extract() {  # extract GIT DIR
  rm -rf "$2"
  mkdir -p "$2"
  git -C "$1" archive HEAD | tar -x -C "$2"
}

build_zinx() {
  # zinx's go.mod asks for a newer Go than Debian's and for modules from the internet; GOPATH
  # mode builds the same sources against Debian's packaged libraries (as tests/zinx/run.sh).
  "$root/scripts/install-deps.sh" --zinx
  local gopath=$out/gopath
  extract "$zinx_git" "$gopath/src/github.com/aceld/zinx"
  mkdir -p "$gopath/src/dinxpeers/zinxecho"
  cp "$here/zinx/main.go" "$gopath/src/dinxpeers/zinxecho/"
  (cd "$gopath/src/dinxpeers/zinxecho" &&
    GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS='' go build -p "$jobs" -o "$out/zinx-echo" .)
  zinx_built="zinx $(describe "$zinx_git"), $(go version | awk '{ print $3 }'), GOPATH mode against Debian's Go libraries"
  echo "$zinx_built" >"$out/zinx-echo.built"
  echo "built $out/zinx-echo: $zinx_built"
}

build_skynet() {
  local dir=$out/skynet
  extract "$skynet_git" "$dir"
  # 3rd/jemalloc is a git submodule, absent from an archive (and not fetched: no internet
  # needed): build with the system allocator, as skynet's own macOS and OpenBSD targets do.
  make -C "$dir" -j"$jobs" linux MALLOC_STATICLIB= SKYNET_DEFINES=-DNOUSE_JEMALLOC >"$out/skynet-make.log" 2>&1 ||
    { tail -20 "$out/skynet-make.log" >&2; echo "build.sh: skynet did not build (see $out/skynet-make.log)" >&2; exit 1; }
  mkdir -p "$dir/dinx"
  cp "$here"/skynet/*.lua "$here/skynet/config" "$dir/dinx/"
  skynet_built="skynet $(describe "$skynet_git"), without jemalloc (-DNOUSE_JEMALLOC), gcc $(gcc -dumpversion)"
  echo "$skynet_built" >"$dir/dinx/built"
  echo "built $dir: $skynet_built"
}

build_zinx
build_skynet
echo
echo "bench/run.sh options for these peers:"
echo "  --zinx-echo $out/zinx-echo --skynet $out/skynet"
