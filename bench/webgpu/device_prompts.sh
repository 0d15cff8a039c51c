#!/usr/bin/env bash
# There, on the GPU machine: short-prompt speed by kernel choice. For each
# prompt length in PROMPTS and each few-token threshold in FEW
# (EngineOptions.fewTokenPrompt: prompts of at most that many tokens run
# their matrices as few-token matvecs, 1 = always the tiled matmul), one
# webaccel-node.mjs run (--pp N, median of REPS) on a synth file, rounds
# alternating the thresholds; then the first-token detail of the last run
# (where the first prompt after load spent its time; no engine without
# precompilation in these runs: --skip-lazy). Makes the synth file
# first if it is missing (ensure_synth.sh).
#
# usage (from the repository root, on the GPU machine):
#   PROMPTS="8 16 32 64" FEW="1 16 64" bash bench/webgpu/device_prompts.sh
# (each run loads the model once: the 7B q4_0 file took 4.2 s on the H200,
# 2026-11-28)
# env: PROMPTS (8 16 32), FEW (1 16 32), MODEL (7b), TYPE (q4_0), REPS (3),
#      ROUNDS (2), WEBACCEL_DIST (a carried build; default js/dist), WORK
#      (/tmp/webaccel-gpu).
# Prints one line per run; writes $OUT/prompts.txt and the last run's JSON.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export WORK=${WORK:-/tmp/webaccel-gpu}
OUT=${OUT:-$ROOT/.cache/device-out}
MODEL=${MODEL:-7b}
TYPE=${TYPE:-q4_0}
mkdir -p "$OUT"
file=$WORK/synth-$MODEL-$TYPE.gguf
bash "$HERE/ensure_synth.sh" "$MODEL" "$TYPE" || exit 1
source "$HERE/device_env.sh" || exit 2
F16=enable-dawn-features=vulkan_enable_f16_on_nvidia
log=$OUT/prompts.txt
: >"$log"
for ((r = 1; r <= ${ROUNDS:-2}; r++)); do
  for p in ${PROMPTS:-8 16 32}; do
    for f in ${FEW:-1 16 32}; do
      json=$OUT/prompts-last.json
      timeout 120 "$NODE" "$HERE/webaccel-node.mjs" --webgpu --dawn-flag "$F16" --model "$file" --reps "${REPS:-3}" \
        --pp "$p" --tg 2 --few-token-prompt "$f" --skip-lazy --out "$json" >/dev/null 2>&1
      python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
pp = [x["median"] for x in r["results"] if x["test"].startswith("pp")][0]
print("round %s pp%s few-token<=%s %.1f t/s %.1f ms" % (sys.argv[2], sys.argv[3], sys.argv[4], pp, 1000 * int(sys.argv[3]) / pp))' \
        "$json" "$r" "$p" "$f" 2>/dev/null | tee -a "$log" || echo "round $r pp$p few-token<=$f: failed" | tee -a "$log"
    done
  done
done
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
for k in ("first_token_ms_precompiled", "first_token_detail_precompiled"):
    print(k, json.dumps(r.get(k)))' "$OUT/prompts-last.json" 2>/dev/null | tee -a "$log"
