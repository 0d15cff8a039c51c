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
source "$REPO/bench/webgpu/device_env.sh" || exit 2
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$REPO" -B "$WORK/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF >/dev/null &&
  cmake --build "$WORK/build" -j "$(nproc)" --target webaccel_cli >/dev/null || { echo "build failed"; exit 1; }
M=$WORK/synth-$PRESET-q4_0.gguf
[ -s "$M" ] || "$WORK/build/bin/webaccel" synth --arch llama --preset "$PRESET" --type q4_0 "$M" >/dev/null
timeout 300 "$NODE" "$REPO/bench/webgpu/webaccel-node.mjs" --webgpu \
  --model "$M" --reps "${REPS:-2}" --profile ${EXTRA:-} --out "$OUT/profile.json" > /dev/null 2> "$OUT/profile.err"
tail -3 "$OUT/profile.err"
"$NODE" -e "
const d = JSON.parse(require('fs').readFileSync('$OUT/profile.json', 'utf8')); const r = d.runs[0];
console.log('pp512', r.results[0].tps.toFixed(1), 'tg128', r.results[1].tps.toFixed(2), 'first token', r.first_token_ms_precompiled.toFixed(1), 'lazy', r.first_token_ms_lazy.toFixed(1));
console.log(JSON.stringify(r.cpu_side));
console.log('tg128 per token', JSON.stringify(r.profile.tg128_ms_per_token));
console.log('pp512 per prompt', JSON.stringify(r.profile.pp512_ms_per_prompt));"
