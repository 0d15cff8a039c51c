#!/usr/bin/env bash
# Makes the larger trained test model available at .cache/models/story-large-f32.gguf
# (and a q8_0 copy), for the bench/quality scripts and tests/unit/test_trained_models.cpp.
#
# The model is not in git (126.6 MB as f32). Its recipe (MODELS.md) has dim 512
# and FFN 1280, multiples of the 256-weight k-quant super-block; a GGUF (or
# parts) left from the earlier dim-384 recipe is stale, since
# tests/data/large_ref.bin no longer matches it: such a GGUF is replaced when
# parts of the current recipe are present, else reported. It is reproduced by
# training/train_llama.py on the GPU machine, which this script cannot reach by
# itself (the `device` tool is not a shell command). The steps:
#   1. scripts/make_corpus.sh --tokens          (corpus + tokenized data, here)
#   2. copy training/train_llama.py, training/device_train.sh and
#      .cache/corpus/tokens/ (as data/) into a carried folder, and on the GPU
#      machine run:  STEPS=<steps from MODELS.md> device_train.sh large
#   3. put the returned model.f16bin.part* files into .cache/models/large/
#      (and summary.json, ref.bin beside them), then run this script.
# With the parts present, this script assembles and converts them; otherwise it
# explains what is missing and exits 1 (callers treat the model as absent).
set -euo pipefail
cd "$(dirname "$0")/.."
WEBACCEL=${WEBACCEL:-build/native/bin/webaccel}
VOCAB=${VOCAB:-../shared/models/vocab/ggml-vocab-llama-spm.gguf}
DIR=.cache/models
F32=$DIR/story-large-f32.gguf
Q8=$DIR/story-large-q8_0.gguf
DIM=512
shopt -s nullglob
PARTS=($DIR/large/model.f16bin.part*)
if [[ -f $F32 && -f $Q8 ]]; then
  have=$([[ -x $WEBACCEL ]] && "$WEBACCEL" info -m "$F32" 2>/dev/null | awk '$1 == "llama.embedding_length" {print $2}' || true)
  if [[ -z $have || $have == "$DIM" ]]; then
    echo "$F32"
    exit 0
  fi
  if [[ ${#PARTS[@]} -eq 0 ]]; then
    echo "fetch_or_train_models: $F32 has dim $have, not the current recipe's $DIM (MODELS.md), and" >&2
    echo "$DIR/large/ holds no trained parts to replace it; see the steps at the top of $0." >&2
    exit 1
  fi
fi
if [[ ${#PARTS[@]} -eq 0 ]]; then
  echo "fetch_or_train_models: no large model and no trained parts in $DIR/large/." >&2
  echo "Training needs the GPU machine; see the steps at the top of $0 and MODELS.md." >&2
  exit 1
fi
# The parts start with the llama2.c header, whose first int32 is dim.
part_dim=$(od -An -t d4 -N4 "${PARTS[0]}" | tr -d ' ')
if [[ $part_dim != "$DIM" ]]; then
  echo "fetch_or_train_models: the parts in $DIR/large/ have dim $part_dim, not the current recipe's $DIM (MODELS.md)." >&2
  exit 1
fi
if [[ -f $F32 || -f $Q8 ]]; then
  echo "fetch_or_train_models: replacing $F32 (dim ${have:-?}) with the parts in $DIR/large/" >&2
  rm -f "$F32" "$Q8"
fi
[[ -x $WEBACCEL ]] || { echo "build webaccel first (make build)" >&2; exit 1; }
cat "${PARTS[@]}" > "$DIR/large/model.f16bin"
python3 training/train_llama.py expand "$DIR/large/model.f16bin" "$DIR/large/model.bin"
"$WEBACCEL" convert "$DIR/large/model.bin" "$F32" --type f32 --vocab "$VOCAB"
"$WEBACCEL" convert "$F32" "$Q8" --type q8_0
rm -f "$DIR/large/model.f16bin" "$DIR/large/model.bin"
echo "$F32"
