#!/usr/bin/env bash
# Malformed input: every bad file or argument must end in a clear error
# message and a non-zero exit — never a crash, a hang or a sanitizer report.
# `make test` runs this with the ASan+UBSan build.
set -uo pipefail
W=${1:?usage: run_malformed_tests.sh path/to/webaccel}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${WA_SHARED:-$HERE/../../../shared}
S=$SHARED/models/stories260K
. "$HERE/lib.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# expect_error NAME CMD...: non-zero exit below 128 (no signal), an "error:" line, no sanitizer output.
expect_error() {
  local name=$1; shift
  timeout 60 "$@" >"$T/out" 2>"$T/err" </dev/null
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "error:" "$T/err" && ! grep -qE "Sanitizer|runtime error" "$T/err"; then
    ok "$name: $(grep -m1 'error:' "$T/err" | cut -c1-150)"
  else
    bad "$name (exit $rc)"; sed 's/^/       /' "$T/err" | head -20
  fi
}

"$W" convert "$S/stories260K.bin" "$T/good.gguf" >/dev/null 2>&1 || { echo "FAIL - could not make the good model"; exit 1; }
mkdir -p "$T/bad"
python3 "$HERE/make_malformed.py" "$T/good.gguf" "$S/stories260K.bin" "$T/bad"

for f in "$T"/bad/*.gguf; do
  n=$(basename "$f")
  expect_error "run $n" "$W" run -m "$f" -n 4 --ids
  expect_error "info $n" "$W" info "$f"
done 2>/dev/null
# quantize parses the header and reads every tensor's bytes (damage to the
# model's hyperparameters is not its concern: those files quantize).
for n in absurd-dimension empty huge-kv-count huge-string-length huge-tensor-count kquant-partial-superblock magic-only \
         offset-past-end truncated-data truncated-header truncated-last-byte unknown-type wrong-magic wrong-version \
         zero-dimension; do
  expect_error "quantize $n.gguf" "$W" quantize "$T/bad/$n.gguf" "$T/q.gguf" --type q4_0
done
expect_error "quantize a llama2.c checkpoint" "$W" quantize "$S/stories260K.bin" "$T/q.gguf" --type q8_0
expect_error "quantize a tokenizer-only file" "$W" quantize "$SHARED/models/vocab/ggml-vocab-llama-spm.gguf" "$T/q.gguf" --type q8_0
expect_error "quantize a missing file" "$W" quantize "$T/nope.gguf" "$T/q.gguf" --type q8_0
expect_error "quantize: unknown type" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type q9_9
expect_error "quantize: a type without a quantizer" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type bf16
expect_error "quantize: no --type" "$W" quantize "$T/good.gguf" "$T/q.gguf"
expect_error "quantize: unwritable output" "$W" quantize "$T/good.gguf" "$T/no/such/dir/q.gguf" --type q8_0
# --calib and --adaptive: argument and file errors before any long measurement
expect_error "quantize --adaptive of a llama2.c checkpoint" "$W" quantize "$S/stories260K.bin" "$T/q.gguf" --adaptive --bpw 5
expect_error "quantize --adaptive of a truncated file" "$W" quantize "$T/bad/truncated-data.gguf" "$T/q.gguf" --adaptive --bpw 5
expect_error "quantize --adaptive: budget below the smallest types" "$W" quantize "$T/good.gguf" "$T/q.gguf" --adaptive --bpw 1
expect_error "quantize --adaptive: file budget below the smallest file" "$W" quantize "$T/good.gguf" "$T/q.gguf" --adaptive --budget-mb 0.001
expect_error "quantize --adaptive: no budget" "$W" quantize "$T/good.gguf" "$T/q.gguf" --adaptive
expect_error "quantize --adaptive: negative bits" "$W" quantize "$T/good.gguf" "$T/q.gguf" --adaptive --bpw -3
expect_error "quantize --calib: missing text" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type q4_0 --calib "$T/nope.txt"
expect_error "quantize --calib: a model without tokenizer" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type q4_0 --calib "$HERE/lib.sh"
expect_error "quantize --calib: unknown type" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type q9_9 --calib "$HERE/lib.sh"
for f in "$T"/bad/*.bin; do
  expect_error "convert $(basename "$f")" "$W" convert "$f" "$T/out.gguf"
done
# Hot rows (formats/hot_rows.h): a file with them, from the bundled model
# (tied embedding), damaged one way each; and --hot-rows' argument errors.
python3 "$HERE/../../tools/corpus/storygen.py" --seed 5 --count 2 >"$T/calib.txt"
"$W" quantize "$HERE/../../models/default.gguf" "$T/hot.gguf" --type q4_0 --calib "$T/calib.txt" --hot-rows 64 \
  >/dev/null 2>&1 || { echo "FAIL - could not make the hot-rows model"; exit 1; }
mkdir -p "$T/badhot"
python3 "$HERE/make_malformed_hot_rows.py" "$T/hot.gguf" "$T/badhot"
for f in "$T"/badhot/*.gguf; do
  n=$(basename "$f")
  expect_error "run $n" "$W" run -m "$f" -n 4 --ids
  expect_error "info $n" "$W" info "$f"
done 2>/dev/null
expect_error "quantize --hot-rows without --calib" "$W" quantize "$T/good.gguf" "$T/q.gguf" --type q4_0 --hot-rows 8
expect_error "quantize --hot-rows 0 with --type" "$W" quantize "$HERE/../../models/default.gguf" "$T/q.gguf" --type q4_0 --calib "$T/calib.txt" --hot-rows 0
expect_error "quantize --hot-rows with --method weighted" "$W" quantize "$HERE/../../models/default.gguf" "$T/q.gguf" --type q4_0 --calib "$T/calib.txt" --method weighted --hot-rows 8
expect_error "quantize --adaptive --hot-rows without --own-formats" "$W" quantize "$T/good.gguf" "$T/q.gguf" --adaptive --bpw 5 --hot-rows 8
"$W" synth --preset tiny --type f16 "$T/synth.gguf" >/dev/null 2>&1 || { echo "FAIL - could not make the synthetic model"; exit 1; }
expect_error "quantize --hot-rows: an untied embedding" "$W" quantize "$T/synth.gguf" "$T/q.gguf" --type q4_0 --calib "$T/calib.txt" --hot-rows 8
expect_error "missing model file" "$W" run -m "$T/nope.gguf" --ids
expect_error "directory as model" "$W" run -m "$T" --ids
expect_error "tokenizer-only file as a model" "$W" run -m "$SHARED/models/vocab/ggml-vocab-llama-spm.gguf" -n 2
echo 99999 >"$T/tok_big.txt"
expect_error "token id out of range" "$W" logits -m "$T/good.gguf" --tokens "$T/tok_big.txt" --out "$T/l.bin"
echo "1 -5" >"$T/tok_neg.txt"
expect_error "negative token id" "$W" logits -m "$T/good.gguf" --tokens "$T/tok_neg.txt" --out "$T/l.bin"
echo "1 two" >"$T/tok_word.txt"
expect_error "non-numeric token id" "$W" logits -m "$T/good.gguf" --tokens "$T/tok_word.txt" --out "$T/l.bin"
: >"$T/tok_empty.txt"
expect_error "empty token file" "$W" logits -m "$T/good.gguf" --tokens "$T/tok_empty.txt" --out "$T/l.bin"
expect_error "text prompt without a tokenizer" "$W" run -m "$T/good.gguf" -p "hello" -n 2 --ids
seq 1 10 >"$T/tok_ten.txt"
expect_error "input longer than the context" "$W" logits -m "$T/good.gguf" --tokens "$T/tok_ten.txt" --out "$T/l.bin" --ctx 4
expect_error "bad -n" "$W" run -m "$T/good.gguf" -n abc --ids
expect_error "negative temperature" "$W" run -m "$T/good.gguf" --temp -1 --ids
expect_error "unknown option" "$W" run -m "$T/good.gguf" --frobnicate 1 --ids
expect_error "missing option value" "$W" run -m
expect_error "unknown convert type" "$W" convert "$S/stories260K.bin" "$T/x.gguf" --type q9_9
expect_error "unknown synth preset" "$W" synth --preset 99b --type q4_0 "$T/x.gguf"
expect_error "unknown command" "$W" frobnicate

finish
