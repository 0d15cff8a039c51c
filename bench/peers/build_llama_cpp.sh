#!/usr/bin/env bash
# Builds the llama.cpp peer (a measuring tool, never part of the product or of `make test`).
#
# Source: the llama.cpp git bundle inside the npm package node-llama-cpp@3.21.1
# (llama/gitRelease.bundle). Build: native, CPU only, Release, with llama.cpp's default
# CPU configuration as a typical user gets it on Linux (GGML_NATIVE=ON, OpenMP ON,
# shared libs ON); only the features that would reach the network at build or run time
# (OpenSSL/HTTPS, the web UI download) are turned off. node-llama-cpp's own patches
# (llama/patches/*.diff) are NOT applied: this is plain llama.cpp at the bundled commit.
#
# Everything lives outside git, under ${WEBACCEL_CACHE:-$REPO/.cache}/peers/llama.cpp:
#   pkg/      node-llama-cpp-3.21.1.tgz and the extracted bundle
#   src/      the clone of the bundle
#   build/    cmake build tree; binaries in build/bin
#   VERSION   what was built (version, commit, flags)
#
# Idempotent: every step is skipped when its result is already there; the cmake build
# is incremental. Prints the binary directory on the last line of stdout.
#
# usage: bench/peers/build_llama_cpp.sh [TARGET...]
#   default targets: llama-bench llama-quantize llama-perplexity llama-completion llama-cli
#   env: WEBACCEL_CACHE (cache root), JOBS (parallel jobs, default nproc), NICE (default 10)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${WEBACCEL_CACHE:-$REPO/.cache}
PEER="$CACHE/peers/llama.cpp"
NPM_SPEC="node-llama-cpp@3.21.1"
TGZ="$PEER/pkg/node-llama-cpp-3.21.1.tgz"
BUNDLE="$PEER/pkg/package/llama/gitRelease.bundle"
SRC="$PEER/src"
BUILD="$PEER/build"
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-10}

# llama-bench first: it is what the CPU benchmark needs; llama-cli pulls in the server
# code and is by far the slowest to compile, so it goes last.
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(llama-bench llama-quantize llama-perplexity llama-completion llama-cli)

log() { echo "build_llama_cpp: $*" >&2; }

# --- 1. tools ---------------------------------------------------------------
deps=(cmake ninja-build g++ git ca-certificates)
command -v npm >/dev/null || deps+=(npm)
"$REPO/scripts/install-deps.sh" "${deps[@]}"

# --- 2. the npm package (only its llama/ folder is needed) ------------------
mkdir -p "$PEER/pkg"
if [ ! -f "$TGZ" ]; then
  log "fetching $NPM_SPEC"
  (cd "$PEER/pkg" && npm pack --silent "$NPM_SPEC" >/dev/null)
fi
if [ ! -f "$BUNDLE" ]; then
  tar -xzf "$TGZ" -C "$PEER/pkg" package/llama
fi

# --- 3. clone the bundle ----------------------------------------------------
want=$(git bundle list-heads "$BUNDLE" | awk '$2 == "HEAD" {print $1}')
have=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  log "cloning bundle ($want)"
  rm -rf "$SRC"
  git -c advice.detachedHead=false clone -q "$BUNDLE" "$SRC"
fi

# --- 4. configure -----------------------------------------------------------
CMAKE_FLAGS=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DGGML_NATIVE=ON            # default; spelled out because it is what makes the peer fair
  -DLLAMA_OPENSSL=OFF         # no HTTPS model downloads
  -DLLAMA_BUILD_UI=OFF        # no npm build of the server web UI
  -DLLAMA_USE_PREBUILT_UI=OFF # no download of a prebuilt web UI
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
)
stamp="$BUILD/.webaccel-configure"
if [ ! -f "$BUILD/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want ${CMAKE_FLAGS[*]}" ]; then
  log "configuring"
  nice -n "$NICE" cmake -S "$SRC" -B "$BUILD" "${CMAKE_FLAGS[@]}" >"$PEER/configure.log" 2>&1 \
    || { tail -30 "$PEER/configure.log" >&2; exit 1; }
  echo "$want ${CMAKE_FLAGS[*]}" >"$stamp"
fi

# --- 5. build ---------------------------------------------------------------
for t in "${TARGETS[@]}"; do
  if ! nice -n "$NICE" cmake --build "$BUILD" -j "$JOBS" --target "$t" >"$PEER/build-$t.log" 2>&1; then
    tail -40 "$PEER/build-$t.log" >&2
    log "building $t failed (log: $PEER/build-$t.log)"
    exit 1
  fi
  log "built $t"
done

# --- 6. record what was built -----------------------------------------------
version=$(sed -n 's/^set(LLAMA_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' "$SRC/CMakeLists.txt" | paste -sd.)
ggml_version=$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' "$SRC/ggml/CMakeLists.txt" | paste -sd.)
{
  echo "llama.cpp $version (ggml $ggml_version)"
  echo "commit $want ($(git -C "$SRC" log -1 --format=%cs)) from $NPM_SPEC llama/gitRelease.bundle (tag $(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$PEER/pkg/package/llama/llama.cpp.info.json"))"
  echo "compiler $(grep -m1 '^CMAKE_CXX_COMPILER:' "$BUILD/CMakeCache.txt" | cut -d= -f2) $("$(grep -m1 '^CMAKE_CXX_COMPILER:' "$BUILD/CMakeCache.txt" | cut -d= -f2)" -dumpfullversion)"
  echo "cmake ${CMAKE_FLAGS[*]}"
  echo "openmp $(grep -m1 '^GGML_OPENMP:' "$BUILD/CMakeCache.txt" | cut -d= -f2)"
} >"$PEER/VERSION"
cat "$PEER/VERSION" >&2
echo "$BUILD/bin"
