#!/usr/bin/env bash
# The quality report (scripts/quality_report.sh) with all three speed columns,
# CPU, wasm and WebGPU, measured on the GPU machine in one run:
#
#   run(command="export OUT; WEBACCEL_COMMIT=<git rev-parse --short HEAD> bash bench/webgpu/device_quality.sh",
#       carry=[".cache/gpu-bundle", "js/dist", "build/wasm-st/bin"])
#
# Needs, carried: the bundle (make_device_bundle.sh: Node 26, Dawn, the Vulkan
# loader), js/dist (`make wasm`: the engine the WebGPU columns run) and
# build/wasm-st/bin (wasm_model_bench.js/.wasm for the wasm columns:
# `cmake --build --preset wasm --target wasm_model_bench`; that machine has no
# emscripten). Builds the native CLI there (cmake), then runs quality_report.sh
# with --wasm-bench --webgpu-bench and the arguments given (default: QUALITY.md's,
# on the bundled model), writing $OUT/QUALITY.md (copy it over QUALITY.md).
# env: OUT (default .cache/device-out), WORK (default /tmp/webaccel-gpu),
#      WEBACCEL_COMMIT (the report's commit: this machine's copy of the tree
#      may carry older git metadata; pass `git rev-parse --short HEAD`).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$REPO/.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
mkdir -p "$OUT" "$WORK"
source "$HERE/device_env.sh" || exit 2
WASM_JS=$REPO/build/wasm-st/bin/wasm_model_bench.js
[ -f "$WASM_JS" ] || { echo "no $WASM_JS: build it here and carry build/wasm-st/bin"; exit 2; }
[ -f "$REPO/js/dist/index.js" ] || { echo "no js/dist: make wasm, and carry js/dist"; exit 2; }
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$REPO" -B "$WORK/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF \
  -DWEBACCEL_WERROR=OFF >/dev/null && cmake --build "$WORK/build" -j "$(nproc)" --target webaccel_cli >"$WORK/cli_build.log" 2>&1 ||
  { tail -20 "$WORK/cli_build.log"; echo "building the CLI failed"; exit 1; }
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(models/default.gguf --adaptive-bpw "5 4 3 2.5" --threads 2)
CMD="bench/webgpu/device_quality.sh"
for a in "${ARGS[@]}"; do [[ $a =~ [[:space:]] ]] && a="\"$a\""; CMD="$CMD $a"; done
cd "$REPO" || exit 1
# f16 on Dawn's NVIDIA Vulkan backend needs its toggle (as device_bench.sh's f16 runs).
QUALITY_REPORT_COMMAND="$CMD  # on the GPU machine: quality_report.sh ... --wasm-bench --webgpu-bench" \
  WEBACCEL=$WORK/build/bin/webaccel WASM_BENCH_JS=$WASM_JS WASM_NODE=$NODE WEBGPU_NODE=$NODE \
  WEBGPU_BENCH_ARGS="--dawn-flag enable-dawn-features=vulkan_enable_f16_on_nvidia" \
  bash scripts/quality_report.sh "${ARGS[@]}" --wasm-bench --webgpu-bench --out "$OUT/QUALITY.md" 2>"$OUT/quality.log"
rc=$?
tail -5 "$OUT/quality.log"
exit $rc
