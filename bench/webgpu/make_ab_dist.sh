#!/usr/bin/env bash
# Here, before a device call: packs the working tree's build of the JS
# package with its single-threaded wasm modules (what Node + Dawn load; the
# threaded builds and symbol files are left out, so several builds fit the
# device tool's 64 MiB) into .cache/dist-NAME, for device_ab.sh to compare
# on the GPU machine. Builds the wasm-st targets it needs first (incremental
# in build/wasm-st: configure it once with `make wasm`).
#
# usage: bash bench/webgpu/make_ab_dist.sh NAME
#   e.g. git stash -u && bash bench/webgpu/make_ab_dist.sh base && git stash pop &&
#        bash bench/webgpu/make_ab_dist.sh new
# then: run(command="DISTS='base new' bash bench/webgpu/device_ab.sh",
#           carry=[".cache/gpu-bundle", ".cache/dist-base", ".cache/dist-new"])
set -euo pipefail
name=${1:?usage: make_ab_dist.sh NAME}
cd "$(dirname "$0")/../.."
[ -d build/wasm-st ] || { echo "no build/wasm-st: run make wasm once" >&2; exit 2; }
NODE_PATH=/usr/share/nodejs cmake --build build/wasm-st -j "${JOBS:-2}" --target webaccel_wasm webaccel_wasm_relaxed >/dev/null
(cd js && node_modules/.bin/tsc -p tsconfig.json)
out=.cache/dist-$name
rm -rf "$out" && mkdir -p "$out"
cp -r js/dist/. "$out/"
rm -f "$out"/wasm/*-mt.* "$out"/wasm/*.symbols
cp build/wasm-st/dist/webaccel-st.js build/wasm-st/dist/webaccel-st.wasm \
   build/wasm-st/dist/webaccel-relaxed-st.js build/wasm-st/dist/webaccel-relaxed-st.wasm "$out/wasm/"
echo "$out: $(du -sh "$out" | cut -f1), $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src js/src || echo ' + changes')"
