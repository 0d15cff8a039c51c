#!/usr/bin/env bash
# Decode-matvec shapes compared on the GPU machine without a rebuild: one
# webaccel-node.mjs run (--stream-gpu-time --kernel-times: the GPU's time per
# decode step) per shape, on GGUF files that
# device_bench.sh already made in $WORK (run it first in the same command).
#
# usage (from the repository root, on the GPU machine):
#   TYPES="q2_K q3_K" TUNINGS="default 2,2 2,1" bash bench/webgpu/device_tune.sh
# env: OUT (default .cache/device-out), WORK (default /tmp/webaccel-gpu), MODEL
#      (default 7b), TYPES (default q4_0), TUNINGS (rows,units-in-flight[,groups[,blocks-per-unit]] for
#      --matvec-tuning; "default" is the backend's own choice), REPS (default 1).
#      KERNEL_TIMES (non-empty: --kernel-times too: slower; its per-pipeline
#      figures run each pipeline twice, the second time from a warm L2).
#      SKIP_TIMES (non-empty: --kernel-skip-times too: each pipeline left out
#      once, the step's GPU time saved by its absence). CTX (the session's
#      context size, --ctx; the prompt row then has 64 tokens).
# Writes $OUT/tune-<model>-<type>-<rows>u<blocks>.json and prints one line per run.
# (Each run loads the model once: --skip-lazy, no first-token comparison.)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/../../.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
mkdir -p "$OUT"
source "$HERE/device_env.sh" || exit 2
F16=enable-dawn-features=vulkan_enable_f16_on_nvidia
for t in ${TYPES:-q4_0}; do
  f=$WORK/synth-${MODEL:-7b}-$t.gguf
  [ -s "$f" ] || { echo "no $f (run device_bench.sh with TYPES including $t first)"; continue; }
  for s in ${TUNINGS:-default}; do
    tuning=(); [ "$s" = default ] || tuning=(--matvec-tuning "$s")
    out=$OUT/tune-${MODEL:-7b}-$t-${s//,/u}.json  # (no comma: the device tool fetches plain names)
    timeout 120 "$NODE" "$HERE/webaccel-node.mjs" --webgpu --dawn-flag "$F16" --model "$f" --reps "${REPS:-1}" --skip-lazy \
      --stream-gpu-time ${KERNEL_TIMES:+--kernel-times} ${SKIP_TIMES:+--kernel-skip-times} ${CTX:+--ctx "$CTX" --pp 64} "${tuning[@]}" --label "webaccel-$t-$s" --out "$out" >/dev/null 2>&1
    node_rc=$?
    python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["runs"][0]; p=r.get("profile") or {}
tg=[x["median"] for x in r["results"] if x["test"]=="tg128"]
print(sys.argv[2], sys.argv[3], "tg128", tg, "step_ms", p.get("tg128_stream_ms"), json.dumps(p.get("tg128_in_stream_ms")), json.dumps(p.get("tg128_skip_saves_ms")))' \
      "$out" "$t" "$s" 2>/dev/null || echo "$t $s: failed (rc $node_rc)"
  done
done
