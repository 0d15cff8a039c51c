#!/usr/bin/env bash
# The command run on the GPU machine (the `device` tool) for one model: a
# 20-step smoke run of the whole pipeline, then the real training, export and
# reference logits. Expects beside it: train_llama.py and data/ (the output
# of scripts/make_corpus.sh --tokens). Writes into $OUT (the device's return
# folder: at most 8 files of 16 MiB, 64 MiB together), so the f16 weights come
# back in parts of 16,000,000 bytes: the large model's 62,925,852-byte
# model.f16bin makes 4 parts, + train.log, loss.csv, summary.json, ref.bin = 8
# files (15 MiB parts would make 5, one file too many).
#   device_train.sh tiny|large
# The settings here are the recipes of MODELS.md; --steps pins the step count
# that the recorded run chose from its time limit, so a rerun repeats it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/opt/torch/.venv/bin/python3}
[[ -x $PY ]] || PY=python3
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}
case "${1:-}" in
  tiny)  ARGS=(--dim 128 --hidden-dim 384 --n-layers 6 --n-heads 4 --seq-len 512 --batch 64 --lr 2e-3 --warmup 200
               --seed 1 ${STEPS:+--steps $STEPS} --time-limit ${TIME_LIMIT:-300}) ;;
  # large: every weight row (512, 1280) is a multiple of 256, the k-quant super-block.
  large) ARGS=(--dim 512 --hidden-dim 1280 --n-layers 5 --n-heads 8 --seq-len 512 --batch 64 --lr 1e-3 --warmup 300
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
split -b 16000000 -d "$WORK/model.f16bin" "$OUT/model.f16bin.part"
ls -la "$OUT"
N=$(ls "$OUT" | wc -l); B=$(du -cb "$OUT"/* | tail -1 | cut -f1)
(( N <= 8 && B <= 64 * 1048576 )) || echo "WARNING: $N files, $B bytes in \$OUT: over the device's return limits" >&2
