#!/usr/bin/env bash
# End-to-end tests of `webaccel perplexity` and `webaccel kld` on the bundled
# trained model (models/default.gguf) and a text from the project's own story
# generator (held-out-style stories from a seed the training corpus did not use).
set -uo pipefail
W=${1:?usage: run_quality_tests.sh path/to/webaccel}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
M=$ROOT/models/default.gguf
. "$HERE/lib.sh"
# value of "Key : number" lines
val() { grep "^$2" "$1" | head -1 | sed -E 's/^[^:]*: *([-0-9.e+]+).*/\1/'; }

python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count 12 >"$T/text.txt"
python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count 12 >"$T/text2.txt"
check "storygen is deterministic" cmp -s "$T/text.txt" "$T/text2.txt"
python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count 1 --start 11 >"$T/one.txt"
check "storygen: a story does not depend on the others" test "$(tail -c "$(wc -c <"$T/one.txt")" "$T/text.txt")" = "$(cat "$T/one.txt")"
python3 "$ROOT/tools/corpus/storygen.py" --seed 1 --count 100 --train "$T/tr.txt" --heldout "$T/ho.txt"
check "storygen: every 50th story is held out" test "$(grep -c '^$' "$T/ho.txt")" -eq 2

"$W" perplexity -m "$M" -f "$T/text.txt" --ctx 128 --chunks 4 >"$T/ppl.txt" 2>"$T/ppl.err"
check "perplexity runs" grep -q "^Final estimate: PPL = " "$T/ppl.txt"
check "perplexity prints running per-chunk values" grep -qE '^\[1\][0-9.]+,\[2\][0-9.]+,\[3\][0-9.]+,\[4\][0-9.]+$' "$T/ppl.txt"
ppl=$(sed -nE 's/^Final estimate: PPL = ([0-9.]+).*/\1/p' "$T/ppl.txt")
check "bundled model has a low perplexity on generator text (got $ppl)" python3 -c "assert 1.0 < $ppl < 3.0"
check "perplexity scores the second half of each chunk" grep -q "scoring the last 63 predictions" "$T/ppl.txt"
"$W" perplexity -m "$M" -f "$T/text.txt" --ctx 128 --chunks 4 >"$T/ppl2.txt" 2>/dev/null
check "perplexity is deterministic" cmp -s "$T/ppl.txt" "$T/ppl2.txt"

printf 'Once upon a time.' >"$T/short.txt"
"$W" perplexity -m "$M" -f "$T/short.txt" --ctx 128 >/dev/null 2>"$T/short.err"; rc=$?
check "perplexity: text too short is an error (rc $rc)" test $rc -ne 0
check "perplexity: says the text is too short" grep -q "text too short" "$T/short.err"
"$W" perplexity -m "$M" -f "$T/missing.txt" >/dev/null 2>"$T/missing.err"; rc=$?
check "perplexity: missing text file is an error" test $rc -ne 0
: >"$T/empty.txt"
"$W" perplexity -m "$M" -f "$T/empty.txt" >/dev/null 2>&1; rc=$?
check "perplexity: empty text file is an error" test $rc -ne 0
"$W" perplexity -m "$M" >/dev/null 2>&1; rc=$?
check "perplexity: no -f is an error" test $rc -ne 0
"$W" perplexity -m "$M" -f "$T/text.txt" --ctx 4 >/dev/null 2>&1; rc=$?
check "perplexity: a tiny --ctx is an error" test $rc -ne 0

# kld: a model against itself is exact; a q8_0 copy is close.
"$W" kld -m "$M" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 2 >"$T/self.txt" 2>/dev/null
check "kld of a model against itself is 0" python3 -c "assert abs($(val "$T/self.txt" 'Mean KLD')) < 1e-9"
check "kld of a model against itself: top-1 100%" python3 -c "assert $(val "$T/self.txt" 'Same top-1') == 100.0"
"$W" convert "$M" "$T/q8.gguf" --type q8_0 >/dev/null 2>&1
"$W" kld -m "$T/q8.gguf" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 2 >"$T/q8.txt" 2>/dev/null
kq8=$(val "$T/q8.txt" 'Mean KLD'); tq8=$(val "$T/q8.txt" 'Same top-1')
check "kld q8_0 vs f16 is small but positive (got $kq8)" python3 -c "assert 0 < $kq8 < 0.01"
check "kld q8_0 vs f16 top-1 agreement >= 95% (got $tq8)" python3 -c "assert $tq8 >= 95"
pm=$(val "$T/q8.txt" 'Mean PPL(model)'); pb=$(val "$T/q8.txt" 'Mean PPL(base)')
check "kld reports both perplexities ($pm, $pb)" python3 -c "assert abs($pm - $pb) < 0.05 * $pb"
"$W" perplexity -m "$M" -f "$T/text.txt" --ctx 128 --chunks 2 >"$T/ppl_b.txt" 2>/dev/null
check "kld's base PPL equals perplexity's" test "$(sed -nE 's/^Final estimate: PPL = ([0-9.]+).*/\1/p' "$T/ppl_b.txt")" = "$pb"

# kld errors: different vocabularies, missing base, too-short text.
"$W" synth --arch llama --preset tiny --type q8_0 "$T/synth.gguf" >/dev/null 2>&1
"$W" kld -m "$T/synth.gguf" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 1 >/dev/null 2>"$T/vocab.err"; rc=$?
check "kld: vocabulary mismatch is an error (rc $rc)" test $rc -ne 0
check "kld: says the vocabularies differ" grep -q "vocabulary mismatch" "$T/vocab.err"
"$W" kld -m "$M" -f "$T/text.txt" >/dev/null 2>&1; rc=$?
check "kld: no --base is an error" test $rc -ne 0
"$W" kld -m "$M" --base "$M" -f "$T/short.txt" --ctx 128 >/dev/null 2>"$T/kshort.err"; rc=$?
check "kld: text too short is an error" grep -q "text too short" "$T/kshort.err"

# scripts/quality_report.sh: one type, one calibrated type by both methods, one
# adaptive plan (out of reach: the bundled model's rows of 128 have no type
# below q4_0's 4.5 bits), one chunk; the table's figures come from the commands.
WEBACCEL=$W bash "$ROOT/scripts/quality_report.sh" "$M" --out "$T/Q.md" --types q8_0 --calib-types q4_0 \
  --adaptive-bpw 3 --chunks 1 2>/dev/null; rc=$?
check "quality_report.sh runs (rc $rc)" test $rc -eq 0
check "quality_report.sh: a row for the original and for q8_0" \
  grep -qE '^\| original \| f16 100.0% \| 11,481,856 B .* \| 16.0000 \|' "$T/Q.md"
check "quality_report.sh: q8_0 measured at 8.5 bits per weight" grep -qE '^\| q8_0 \| q8_0 100.0% \| .* \| 8.5000 \|' "$T/Q.md"
check "quality_report.sh: the original against itself has KLD 0 and top-1 100%" \
  grep -qE '^\| original .* \| 0.000000 ± 0.000000 \| 0.000000 \| 100.00 ± 0.00% \| ' "$T/Q.md"
check "quality_report.sh: says the command that made it" grep -q "quality_report.sh .* --types q8_0 .* --chunks 1" "$T/Q.md"
# q4_0's rows by gptq are error-compensating, its tied embedding (the lookup
# table, quant::compensate_lookup_table) importance-weighted; by weighted, all importance-weighted.
check "quality_report.sh: a --method gptq row labelled by the quantizers used" \
  grep -qE "^\| q4_0, --method gptq \(error-compensating 42, importance-weighted 1 matrices\) \| q4_0 100.0% \| .* \| 4.5000 \|" "$T/Q.md"
check "quality_report.sh: a --method weighted row labelled by the quantizer used" \
  grep -qE "^\| q4_0, --method weighted \(importance-weighted 43 matrices\) \| q4_0 100.0% \| .* \| 4.5000 \|" "$T/Q.md"
check "quality_report.sh: an unreachable adaptive plan says why" \
  grep -qE '^\| adaptive \(--method gptq\), <= 3 bits/weight \| not reachable: .*4\.5000 bits per weight' "$T/Q.md"
check "quality_report.sh: CPU speed columns, measured; wasm and WebGPU columns empty without --wasm-bench, --webgpu-bench" \
  grep -qE '^\| q8_0 \| .* \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ ± [0-9.]+ \| - \| - \| - \| - \|$' "$T/Q.md"
check "quality_report.sh: states the machine and the bench command" grep -qE '^\| speed \| `webaccel bench -p 64 -n 32' "$T/Q.md"
WEBACCEL=$W bash "$ROOT/scripts/quality_report.sh" "$M" --out "$T/Q2.md" --types q9_0 --chunks 1 --no-bench >/dev/null 2>&1; rc=$?
check "quality_report.sh: an unknown type fails (rc $rc)" test $rc -ne 0

finish
