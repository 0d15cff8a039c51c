#!/usr/bin/env bash
# There, on the GPU machine: makes the synth GGUF files of MODEL in $WORK
# that are missing (device_bench.sh without peers: it builds the CLI first;
# ~85 s for the 7B q4_0 file on a fresh machine, ~30 s more per type). A
# machine kept warm between calls keeps them.
# usage: bash bench/webgpu/ensure_synth.sh MODEL TYPE...   (e.g. 7b q4_0 q3_K)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export WORK=${WORK:-/tmp/webaccel-gpu}
model=${1:?usage: ensure_synth.sh MODEL TYPE...}
shift
missing=()
for t in "$@"; do [ -s "$WORK/synth-$model-$t.gguf" ] || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] && exit 0
mkdir -p "$WORK"
MODELS=$model TYPES="${missing[*]}" REPS=1 WLLAMA_VARIANTS=none WEBACCEL_VARIANTS=" " \
  OUT="$WORK/bench-out" bash "$HERE/device_bench.sh" >"$WORK/device_bench.log" 2>&1
for t in "${missing[@]}"; do
  [ -s "$WORK/synth-$model-$t.gguf" ] || { echo "ensure_synth: no synth-$model-$t.gguf (see $WORK/device_bench.log)" >&2; exit 1; }
done
