#!/usr/bin/env bash
# End-to-end tests of the webaccel CLI contract (README): convert, quantize, run,
# logits, tokenize, info, synth, bench, on the shared test material.
set -uo pipefail
W=${1:?usage: run_cli_tests.sh path/to/webaccel}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${WA_SHARED:-$HERE/../../../shared}
S=$SHARED/models/stories260K
. "$HERE/lib.sh"

# stories260K: llama2.c -> GGUF f32 -> exact greedy ids and 1e-4 logits
"$W" convert "$S/stories260K.bin" "$T/s.gguf" --type f32 2>/dev/null
check "convert llama2.c checkpoint" test -s "$T/s.gguf"
"$W" run -m "$T/s.gguf" -n 256 --temp 0 --ids >"$T/ids.txt" 2>"$T/run.err"
check "run --ids reproduces greedy256.ids" diff -q <(tr -s ' \n' '\n' <"$S/greedy256.ids" | grep .) "$T/ids.txt"
check "run reports speed on stderr" grep -q "generation: 256 tokens" "$T/run.err"
(echo 1; head -n 255 "$T/ids.txt") >"$T/feed.txt"
"$W" logits -m "$T/s.gguf" --tokens "$T/feed.txt" --out "$T/logits.bin" 2>/dev/null
check "logits match greedy256.logits to 1e-4" python3 "$HERE/compare_f32.py" "$T/logits.bin" "$S/greedy256.logits" 1e-4

# quantized conversions run and stay close to the reference text
for ty in f16 q8_0 q4_0; do
  "$W" convert "$S/stories260K.bin" "$T/s_$ty.gguf" --type $ty 2>/dev/null
  "$W" run -m "$T/s_$ty.gguf" -n 64 --temp 0 --ids >"$T/ids_$ty.txt" 2>/dev/null
  check "convert --type $ty then run" test "$(wc -l <"$T/ids_$ty.txt")" -eq 64
done
"$W" logits -m "$T/s_f16.gguf" --tokens "$T/feed.txt" --out "$T/logits_f16.bin" 2>/dev/null
check "f16: logits within 0.2 (f16 weight rounding, 2^-11 relative) and top-1 >= 95%" \
  python3 "$HERE/compare_f32.py" "$T/logits_f16.bin" "$S/greedy256.logits" 0.2 --top1 0.95
"$W" convert "$T/s.gguf" "$T/s_again.gguf" --type q8_0 2>/dev/null
"$W" run -m "$T/s_again.gguf" -n 64 --temp 0 --ids >"$T/ids_again.txt" 2>/dev/null
check "convert GGUF f32 -> q8_0 equals llama2.c -> q8_0" diff -q "$T/ids_again.txt" "$T/ids_q8_0.txt"

"$W" convert "$T/s.gguf" "$T/s_named.gguf" --name "stories 260K" 2>/dev/null
check "convert --name sets general.name" grep -q 'general.name.*"stories 260K"' <("$W" info "$T/s_named.gguf")

# tokenize
out=$(printf 'Hello world' | "$W" tokenize -m "$SHARED/models/vocab/ggml-vocab-llama-spm.gguf" --no-bos)
check "tokenize llama-spm" test "$out" = "15043 3186"
out=$(printf 'Hello world' | "$W" tokenize -m "$SHARED/models/vocab/ggml-vocab-llama-spm.gguf")
check "tokenize adds BOS by default" test "$out" = "1 15043 3186"
out=$(printf 'Hello world' | "$W" tokenize -m "$SHARED/models/vocab/ggml-vocab-gpt-2.gguf" --no-bos)
check "tokenize gpt-2" test "$out" = "15496 995"

# info
"$W" info "$T/s.gguf" >"$T/info.txt"
check "info lists tensors and hparams" grep -q "blk.4.ffn_up.weight" "$T/info.txt"
check "info shows the architecture" grep -q "n_head_kv        4" "$T/info.txt"

# synth + text generation + bench
"$W" synth --arch llama --preset tiny --type q4_0 "$T/tiny.gguf" 2>/dev/null
check "synth tiny q4_0" grep -q "SYNTHETIC" <("$W" info "$T/tiny.gguf")
"$W" run -m "$T/tiny.gguf" -p "the" -n 8 --seed 3 >"$T/gen1.txt" 2>/dev/null
"$W" run -m "$T/tiny.gguf" -p "the" -n 8 --seed 3 >"$T/gen2.txt" 2>/dev/null
check "run with a text prompt is seeded and repeatable" cmp -s "$T/gen1.txt" "$T/gen2.txt"
check "run streams the prompt and continuation" grep -q "^the" "$T/gen1.txt"
"$W" bench -m "$T/tiny.gguf" -p 16 -n 4 -r 2 -o json >"$T/bench.json" 2>/dev/null
check "bench -o json is valid llama-bench-style JSON" python3 -c "
import json,sys; rows=json.load(open('$T/bench.json'))
assert [r['n_prompt'] for r in rows]==[16,0] and [r['n_gen'] for r in rows]==[0,4]
assert all(r['avg_ts']>0 and len(r['samples_ts'])==2 for r in rows)"
"$W" bench -m "$T/tiny.gguf" -p 16 -n 4 -r 2 -o md >"$T/bench.md" 2>/dev/null
check "bench -o md prints pp/tg rows" grep -q "| tg4 |" "$T/bench.md"
"$W" run -m "$T/tiny.gguf" -n 2 --mem >/dev/null 2>"$T/mem.txt"
check "run --mem prints the memory table" grep -q "kv_cache.blk.0" "$T/mem.txt"

# k-quants and the other GGUF block types: synth writes them, convert re-encodes
# a GGUF into them, and both load and generate.
for ty in q2_K q3_K q4_K q5_K q6_K q4_1 q5_0 q5_1; do
  "$W" synth --arch llama --preset tiny --type $ty "$T/tiny_$ty.gguf" 2>/dev/null
  "$W" run -m "$T/tiny_$ty.gguf" -p "the" -n 8 --temp 0 >"$T/gen_$ty.txt" 2>/dev/null
  check "synth tiny $ty then run" grep -q "^the" "$T/gen_$ty.txt"
done
"$W" synth --arch llama --preset tiny --type f32 "$T/tiny_f32.gguf" 2>/dev/null
"$W" convert "$T/tiny_f32.gguf" "$T/tiny_conv_q4_K.gguf" --type q4_K 2>/dev/null
check "convert GGUF f32 -> q4_K stores q4_K matrices" grep -q "q4_K" <("$W" info "$T/tiny_conv_q4_K.gguf")
"$W" run -m "$T/tiny_conv_q4_K.gguf" -p "the" -n 8 --temp 0 >"$T/gen_conv.txt" 2>/dev/null
check "convert --type q4_K gives synth's q4_K model (same weights, same ids)" cmp -s "$T/gen_conv.txt" "$T/gen_q4_K.txt"

# quantize: GGUF -> GGUF on the bundled f16 model (rows of 128 and 384: the
# k-quants fall back to llama.cpp's 32-block types), sizes measured.
M=$HERE/../../models/default.gguf
bpw() { sed -nE 's/.*weight matrices: .* ([0-9.]+) bits per weight.*/\1/p' "$1"; }
for ty in q8_0 q4_K; do
  "$W" quantize "$M" "$T/d_$ty.gguf" --type $ty 2>"$T/quant_$ty.err"; rc=$?
  check "quantize default.gguf --type $ty (rc $rc)" test $rc -eq 0
  "$W" run -m "$T/d_$ty.gguf" -p "Once upon a time" -n 16 --temp 0 >"$T/d_gen_$ty.txt" 2>/dev/null
  check "quantize --type $ty then run" grep -q "^Once upon a time" "$T/d_gen_$ty.txt"
  "$W" info "$T/d_$ty.gguf" >"$T/d_info_$ty.txt"
  check "quantize --type $ty keeps the tokenizer" grep -q "tokenizer: spm, 32000 tokens" "$T/d_info_$ty.txt"
done
check "quantize reports the measured size" grep -q "16.000 -> 8.500 bits per weight (q8_0 100.0%)" "$T/quant_q8_0.err"
check "info: q8_0 weights measure 8.5 bits per weight (34 bytes per 32)" test "$(bpw "$T/d_info_q8_0.txt")" = 8.5000
check "info: the f16 original measures 16 bits per weight" test "$(bpw <("$W" info "$M"))" = 16.0000
check "quantize q8_0: general.file_type 7" grep -qE "general.file_type +7$" "$T/d_info_q8_0.txt"
check "quantize q8_0: general.quantization_version 2" grep -qE "general.quantization_version +2$" "$T/d_info_q8_0.txt"
check "quantize q4_K of rows of 128: stored as q5_0, said so" grep -q "stored as q5_0" "$T/quant_q4_K.err"
check "quantize q4_K of rows of 128: file_type says q5_0 (8)" grep -qE "general.file_type +8$" "$T/d_info_q4_K.txt"
check "quantize q4_K of rows of 128: 5.5 bits per weight" test "$(bpw "$T/d_info_q4_K.txt")" = 5.5000
"$W" convert "$M" "$T/d_conv_q8_0.gguf" --type q8_0 2>/dev/null
check "quantize and convert write the same GGUF" cmp -s "$T/d_q8_0.gguf" "$T/d_conv_q8_0.gguf"
"$W" quantize "$T/d_q8_0.gguf" "$T/d_q8_0_again.gguf" --type q8_0 2>/dev/null
check "quantize to the type a file has copies it unchanged" cmp -s "$T/d_q8_0.gguf" "$T/d_q8_0_again.gguf"
cp "$T/d_q8_0.gguf" "$T/inplace.gguf"
"$W" quantize "$T/inplace.gguf" "$T/inplace.gguf" --type q4_0 2>/dev/null
check "quantize in place (output replaces the mapped input)" grep -q "q4_0   100.0%" <("$W" info "$T/inplace.gguf")
"$W" quantize "$T/tiny_f32.gguf" "$T/tiny_quant_q4_K.gguf" --type q4_K 2>/dev/null
check "quantize tiny f32 -> q4_K: 4.5 bits per weight (144 bytes per 256)" \
  test "$(bpw <("$W" info "$T/tiny_quant_q4_K.gguf"))" = 4.5000
check "quantize tiny f32 -> q4_K equals convert's file" cmp -s "$T/tiny_quant_q4_K.gguf" "$T/tiny_conv_q4_K.gguf"
"$W" quantize "$M" "$T/bad.gguf" --type q9_0 >/dev/null 2>"$T/badtype.err"; rc=$?
check "quantize: unknown type is an error (rc $rc)" test $rc -ne 0
check "quantize: says the type is unknown and lists the types" grep -q "unknown type 'q9_0' (f32, f16, q8_0" "$T/badtype.err"
check "quantize: no output file after an error" test ! -e "$T/bad.gguf"

finish
