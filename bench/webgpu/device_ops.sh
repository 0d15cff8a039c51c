#!/usr/bin/env bash
# The WebGPU backend-ops cases on the GPU machine (tests/webgpu/run_ops.mjs),
# with shader-f16 on (Dawn hides it on NVIDIA + Vulkan without the toggle),
# so the f16 kernels SwiftShader cannot run are checked against the CPU
# reference too. Needs js/dist and build/wasm-st/dist (make wasm) carried:
#   run(command="export OUT; bash bench/webgpu/device_ops.sh",
#       carry=[".cache/gpu-bundle", "js/dist", "build/wasm-st/dist"])
# Writes $OUT/ops-f16.json and $OUT/ops-f32.json (the same cases without the toggle).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$REPO/.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
mkdir -p "$OUT" "$WORK"
source "$REPO/bench/webgpu/device_env.sh" || exit 2
rc=0
"$NODE" "$REPO/tests/webgpu/run_ops.mjs" --dawn-flag enable-dawn-features=vulkan_enable_f16_on_nvidia \
  ${OPS_FILTER:+--filter "$OPS_FILTER"} --out "$OUT/ops-f16.json" || rc=1
"$NODE" "$REPO/tests/webgpu/run_ops.mjs" ${OPS_FILTER:+--filter "$OPS_FILTER"} --out "$OUT/ops-f32.json" || rc=1
exit $rc
