#!/usr/bin/env bash
# Generates the story corpus into .cache/corpus/ (deterministic from the seed),
# and, with --tokens, the tokenized training data for training/train_llama.py.
#   scripts/make_corpus.sh [--seed S] [--count N] [--tokens]
# Files:
#   train.txt        training stories (story k with k % 50 != 0)
#   heldout.txt      held-out stories (k % 50 == 0)
#   heldout-ppl.txt  the held-out stories among the first 10000 (200 stories):
#                    the text the perplexity figures in MODELS.md are measured on
#   tokens/          train.u16.xz, heldout.u16, ppl.u16, ref.u16 (with --tokens)
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=1
COUNT=200000
TOKENS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) SEED="$2"; shift 2 ;;
    --count) COUNT="$2"; shift 2 ;;
    --tokens) TOKENS=1; shift ;;
    *) echo "usage: $0 [--seed S] [--count N] [--tokens]" >&2; exit 2 ;;
  esac
done
OUT=.cache/corpus
mkdir -p "$OUT"
PY=${PYTHON:-python3}
$PY tools/corpus/storygen.py --seed "$SEED" --count "$COUNT" --train "$OUT/train.txt" --heldout "$OUT/heldout.txt"
$PY tools/corpus/storygen.py --seed "$SEED" --count 10000 --train /dev/null --heldout "$OUT/heldout-ppl.txt"
echo "corpus: $(wc -c < "$OUT/train.txt") bytes train, $(wc -c < "$OUT/heldout.txt") bytes held-out, seed $SEED, $COUNT stories"
if [[ $TOKENS == 1 ]]; then
  WEBACCEL=${WEBACCEL:-build/native/bin/webaccel}
  VOCAB=${VOCAB:-../shared/models/vocab/ggml-vocab-llama-spm.gguf}
  $PY training/prepare_data.py --corpus "$OUT" --out "$OUT/tokens" --webaccel "$WEBACCEL" --vocab "$VOCAB"
fi
