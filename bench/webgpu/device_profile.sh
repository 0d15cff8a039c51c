#!/usr/bin/env bash
# GPU time per pipeline of webaccel's WebGPU backend on one synth model, on
# the GPU machine (the bundle of make_device_bundle.sh unpacked by
# device_bench.sh's first step, reused here). Writes $OUT/profile.json.
#   run(command="bash bench/webgpu/device_profile.sh 1b", carry=[".cache/gpu-bundle", "js/dist"])
set -uo pipefail
PRESET=${1:-1b}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$REPO/.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
mkdir -p "$OUT" "$WORK"
# Vulkan loader, Node 26 and Dawn from the bundle, as device_bench.sh sets them up.
B=$REPO/.cache/gpu-bundle
if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
  for f in "$B"/debs/lib{vulkan1,egl1,glvnd0,opengl0,gl1,glx0,gles2}_*.deb; do dpkg -x "$f" /; done
fi
ldconfig -p | grep -q 'libatomic\.so\.1 ' || dpkg -x "$B"/debs/libatomic1_*.deb /
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
unset VK_ICD_FILENAMES
[ -x "$WORK/node" ] || { xz -dc "$B/node-linux-x64.xz" > "$WORK/node" && chmod +x "$WORK/node"; }
mkdir -p "$WORK/pkg"
[ -f "$WORK/pkg/webgpu/index.js" ] || xz -dc "$B/webgpu.tar.xz" | tar -xf - -C "$WORK/pkg"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$REPO" -B "$WORK/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF >/dev/null &&
  cmake --build "$WORK/build" -j "$(nproc)" --target webaccel_cli >/dev/null || { echo "build failed"; exit 1; }
M=$WORK/synth-$PRESET-q4_0.gguf
[ -s "$M" ] || "$WORK/build/bin/webaccel" synth --arch llama --preset "$PRESET" --type q4_0 "$M" >/dev/null
WEBGPU_MODULE=$WORK/pkg/webgpu/index.js timeout 300 "$WORK/node" "$REPO/bench/webgpu/webaccel-node.mjs" --webgpu \
  --model "$M" --reps "${REPS:-2}" --profile ${EXTRA:-} --out "$OUT/profile.json" > /dev/null 2> "$OUT/profile.err"
tail -3 "$OUT/profile.err"
"$WORK/node" -e "
const d = JSON.parse(require('fs').readFileSync('$OUT/profile.json', 'utf8')); const r = d.runs[0];
console.log('pp512', r.results[0].tps.toFixed(1), 'tg128', r.results[1].tps.toFixed(2), 'first token', r.first_token_ms_precompiled.toFixed(1), 'lazy', r.first_token_ms_lazy.toFixed(1));
console.log(JSON.stringify(r.profile, null, 1));"
