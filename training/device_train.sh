#!/usr/bin/env bash
# The command run on the GPU machine (the `device` tool) for one model: a
# 20-step smoke run of the whole pipeline, then the real training, export and
# reference logits. Expects beside it: train_llama.py and data/ (the output
# of scripts/make_corpus.sh --tokens). Writes into $OUT (the device's return
# folder; 16 MiB per file, so the f16 weights come back in parts).
#   device_train.sh tiny|large
# The settings here are the recipes of MODELS.md; --steps pins the step count
# that the recorded run chose from its time limit, so a rerun repeats it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/opt/torch/.venv/bin/python3}
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}
case "${1:-}" in
  tiny)  ARGS=(--dim 128 --hidden-dim 384 --n-layers 6 --n-heads 4 --seq-len 512 --batch 64 --lr 2e-3 --warmup 200
               --seed 1 ${STEPS:+--steps $STEPS} --time-limit ${TIME_LIMIT:-300}) ;;
  large) ARGS=(--dim 384 --hidden-dim 1024 --n-layers 8 --n-heads 6 --seq-len 512 --batch 64 --lr 1e-3 --warmup 300
               --seed 1 ${STEPS:+--steps $STEPS} --time-limit ${TIME_LIMIT:-400}) ;;
  *) echo "usage: $0 tiny|large" >&2; exit 2 ;;
esac
nvidia-smi -L || true
# Smoke: a 2-layer model for 20 steps through every stage (fails fast, costs seconds).
$PY "$HERE/train_llama.py" --data "$HERE/data" --out /tmp/smoke --dim 64 --hidden-dim 128 --n-layers 2 --n-heads 2 \
  --steps 20 --warmup 5 --log-every 10 --eval-every 10 > /tmp/smoke.log 2>&1 || { cat /tmp/smoke.log; exit 1; }
echo "smoke run ok"
WORK=/tmp/run-$1
$PY "$HERE/train_llama.py" --data "$HERE/data" --out "$WORK" "${ARGS[@]}" 2>&1 | tee "$OUT/train.log"
cp "$WORK/loss.csv" "$WORK/summary.json" "$WORK/ref.bin" "$OUT/"
split -b 15M -d "$WORK/model.f16bin" "$OUT/model.f16bin.part"
ls -la "$OUT"
