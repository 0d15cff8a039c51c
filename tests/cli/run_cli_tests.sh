#!/usr/bin/env bash
# End-to-end tests of the webaccel CLI contract (README): convert, run, logits,
# tokenize, info, synth, bench, on the shared test material.
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

finish
