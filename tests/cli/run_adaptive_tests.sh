#!/usr/bin/env bash
# End-to-end tests of `webaccel quantize --calib` (importance-weighted
# quantizers) and `--adaptive` (precision planner) on a synthetic model whose
# rows fit the k-quants' 256-element super-blocks (synth tiny: 256 x 768,
# 30 matrices) and on the bundled trained model.
set -uo pipefail
W=${1:?usage: run_adaptive_tests.sh path/to/webaccel}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
M=$ROOT/models/default.gguf
. "$HERE/lib.sh"
bpw() { "$W" info "$1" | sed -nE 's/.*weight matrices: .* ([0-9.]+) bits per weight.*/\1/p'; }
val() { grep "^$2" "$1" | head -1 | sed -E 's/^[^:]*: *([-0-9.e+]+).*/\1/'; }

python3 "$ROOT/tools/corpus/storygen.py" --seed 5 --count 3 >"$T/calib.txt"
python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count 12 >"$T/text.txt"
"$W" synth --arch llama --preset tiny --type f16 "$T/syn.gguf" >/dev/null 2>&1

# --bpw without calibration: the measured bits per weight meet the budget.
"$W" quantize "$T/syn.gguf" "$T/a.gguf" --adaptive --bpw 3 --plan-report "$T/plan.md" 2>"$T/a.err"; rc=$?
check "adaptive --bpw 3 runs (rc $rc)" test $rc -eq 0
got=$(bpw "$T/a.gguf")
check "adaptive --bpw 3: measured $got bits per weight, at most 3 and within 0.01 of it" \
  python3 -c "assert 2.99 <= $got <= 3.0"
check "adaptive: mixes several types" grep -qE "bits per weight \([a-z0-9_K]+ [0-9.]+%, " "$T/a.err"
planned=$(sed -nE 's/.*file ([0-9]+) bytes as written \(planned ([0-9]+)\).*/\2/p' "$T/a.err")
check "adaptive: the file's size is the planned one ($planned)" test "$(stat -c %s "$T/a.gguf")" = "$planned"
check "plan report: a row per matrix (30)" test "$(grep -cE '^\| (token_embd|output|blk\.[0-9]+\.[a-z_]+)\.weight \|' "$T/plan.md")" -eq 30
check "plan report: type, bits per weight and error columns" \
  grep -qE '^\| blk\.0\.attn_q\.weight \| 256 x 256 \| q[2-8]_[0K] \| [0-9]\.[0-9]{4} \| [0-9]+ \| [0-9.]+e-[0-9]+ \|' "$T/plan.md"
check "plan report: says it had no calibration" grep -q "| calibration | none" "$T/plan.md"
"$W" quantize "$T/syn.gguf" "$T/a2.gguf" --adaptive --bpw 3 2>/dev/null
check "adaptive is deterministic (same bytes twice)" cmp -s "$T/a.gguf" "$T/a2.gguf"
"$W" run -m "$T/a.gguf" -p "the" -n 8 --temp 0 --ids >"$T/a_ids.txt" 2>/dev/null
check "the adaptive file runs" test "$(wc -l <"$T/a_ids.txt")" -eq 8

# --budget-mb: the file fits the size of uniform q3_K and uses it.
"$W" quantize "$T/syn.gguf" "$T/u3.gguf" --type q3_K 2>/dev/null
u3=$(stat -c %s "$T/u3.gguf")
mb=$(python3 -c "print($u3 / 1e6)")
"$W" quantize "$T/syn.gguf" "$T/b.gguf" --adaptive --budget-mb "$mb" 2>"$T/b.err"; rc=$?
b=$(stat -c %s "$T/b.gguf" 2>/dev/null || echo 0)
check "adaptive --budget-mb $mb: $b bytes <= $u3 and within 0.5% of it (rc $rc)" \
  python3 -c "assert $u3 * 0.995 <= $b <= $u3"

# --own-formats: webaccel's vector-quantized wa_vq2 (2.1875 bits per weight)
# and wa_vq3 join the candidates, so 2.5 bits per weight (below q2_K's 2.625)
# is reachable; the file runs on the CPU. Without the flag they are never chosen.
"$W" quantize "$T/syn.gguf" "$T/v.gguf" --adaptive --bpw 2.5 --own-formats 2>"$T/v.err"; rc=$?
check "adaptive --own-formats --bpw 2.5 runs (rc $rc)" test $rc -eq 0
got=$(bpw "$T/v.gguf")
check "adaptive --own-formats: measured $got bits per weight <= 2.5" python3 -c "assert 2.4 <= $got <= 2.5"
check "adaptive --own-formats: uses wa_vq2" grep -q "wa_vq2 [0-9.]*%" "$T/v.err"
"$W" run -m "$T/v.gguf" -p "the" -n 8 --temp 0 --ids >"$T/v_ids.txt" 2>/dev/null
check "the own-format file runs on the CPU" test "$(wc -l <"$T/v_ids.txt")" -eq 8
check "without --own-formats no own type is chosen" bash -c "! grep -q wa_vq '$T/a.err'"
for ty in wa_vq2 wa_vq3; do
  "$W" quantize "$T/syn.gguf" "$T/$ty.gguf" --type $ty 2>/dev/null
  "$W" run -m "$T/$ty.gguf" -p "the" -n 8 --temp 0 --ids >"$T/${ty}_ids.txt" 2>/dev/null
  check "quantize --type $ty writes a file that runs" test "$(wc -l <"$T/${ty}_ids.txt")" -eq 8
done

# With calibration (a model with a tokenizer: the synthetic vocabulary
# tokenizes the story text letter by letter): probes measured, importance used.
"$W" quantize "$T/syn.gguf" "$T/c.gguf" --adaptive --bpw 4 --calib "$T/calib.txt" --calib-tokens 64 \
  --plan-report "$T/cplan.md" 2>"$T/c.err"; rc=$?
check "adaptive with --calib runs (rc $rc)" test $rc -eq 0
check "adaptive --calib: measured bits per weight <= 4" python3 -c "assert $(bpw "$T/c.gguf") <= 4.0"
check "plan report: KLD probes and the quantizer of each type (--method gptq by default)" \
  grep -q "| calibration | 64 tokens (1 chunk of 64), KLD probes on the first 64; --method gptq: q2_K error-compensating, q3_K error-compensating, .* q4_0 error-compensating, q4_1 error-compensating, q5_0 error-compensating, q5_1 error-compensating, q8_0 round-to-nearest |" "$T/cplan.md"
check "plan report: losses scaled by the output error" grep -q "scaling error\*: output error" "$T/cplan.md"
check "plan report: a measured probe KLD per matrix" \
  test "$(grep -cE '\| [0-9]\.[0-9]+e[-+][0-9]+ \(q2_K\) \|' "$T/cplan.md")" -eq 30
# Step 5: the whole plan and the uniform alternative measured; the lower written.
check_row=$(grep '^| check |' "$T/cplan.md")
check "plan report: the whole plan's KLD and the uniform alternative's, measured" \
  grep -qE '^\| check \| KLD on the probe tokens as written \((the planned mix|every matrix at .*)\): [0-9.e-]+; .*: [0-9.e-]+, not written \|$' "$T/cplan.md"
written=$(sed -nE 's/.*as written \([^)]*\): ([0-9.e-]+);.*/\1/p' <<<"$check_row")
other=$(sed -nE 's/.*: ([0-9.e-]+), not written.*/\1/p' <<<"$check_row")
check "plan report: the written assignment has the lower measured KLD ($written <= $other)" \
  python3 -c "assert 0 <= $written <= $other"

# --method on a model whose rows fit the k-quants: every method writes a
# file of the same size that runs; gptq (the default with --calib) and
# weighted choose other bytes than round-to-nearest.
"$W" quantize "$T/syn.gguf" "$T/g_rtn.gguf" --type q3_K 2>/dev/null
for m in gptq weighted; do
  "$W" quantize "$T/syn.gguf" "$T/g_$m.gguf" --type q3_K --calib "$T/calib.txt" --calib-tokens 64 --method $m 2>"$T/g_$m.err"; rc=$?
  check "quantize --type q3_K --calib --method $m runs (rc $rc)" test $rc -eq 0
  check "--method $m: same size as round-to-nearest" test "$(stat -c %s "$T/g_rtn.gguf")" = "$(stat -c %s "$T/g_$m.gguf")"
  "$W" run -m "$T/g_$m.gguf" -p "the" -n 4 --temp 0 --ids >"$T/g_ids.txt" 2>/dev/null
  check "--method $m: the file runs" test "$(wc -l <"$T/g_ids.txt")" -eq 4
done
check "--method gptq: error-compensating factors for the 29 matrices with activations" \
  grep -qE "^calibration: 64 tokens, importance of 29 matrices, error-compensating factors of 29 \(--method gptq\)" "$T/g_gptq.err"
check "--method gptq: says which quantizer wrote what (the untied embedding is only looked up: round-to-nearest)" \
  grep -q "^quantizers: q3_K error-compensating 29, q3_K round-to-nearest 1$" "$T/g_gptq.err"
check "--method gptq is the default with --calib" sh -c "\"$W\" quantize \"$T/syn.gguf\" \"$T/g_def.gguf\" --type q3_K --calib \"$T/calib.txt\" --calib-tokens 64 2>/dev/null && cmp -s \"$T/g_def.gguf\" \"$T/g_gptq.gguf\""
check "--method gptq differs from round-to-nearest" sh -c "! cmp -s \"$T/g_rtn.gguf\" \"$T/g_gptq.gguf\""
check "--method weighted: q3_K stays round-to-nearest, and says so" \
  sh -c "cmp -s \"$T/g_rtn.gguf\" \"$T/g_weighted.gguf\" && grep -q 'note: --calib: q3_K matrices are quantized by round-to-nearest' \"$T/g_weighted.err\""

# Calibrated q4_0 on the bundled model (--method gptq, the default: rows of
# 128 and 384, whole 32-weight blocks): lower KL divergence than
# round-to-nearest on held-out text (QUALITY.md has the full measurement).
# The tied embedding stays importance-weighted at q4_0 and q4_1 and is
# compensated at q5_0 and q5_1 (quant::compensate_lookup_table).
"$W" quantize "$M" "$T/d_rtn.gguf" --type q4_0 2>/dev/null
"$W" quantize "$M" "$T/d_imp.gguf" --type q4_0 --calib "$T/calib.txt" 2>"$T/d_imp.err"; rc=$?
check "quantize --type q4_0 --calib runs (rc $rc)" test $rc -eq 0
check "quantize --calib says what it measured" grep -qE "^calibration: [0-9]+ tokens, importance of 43 matrices, error-compensating factors of 43" "$T/d_imp.err"
check "quantize --calib: q4_0 error-compensating, the tied embedding importance-weighted" \
  grep -q "^quantizers: q4_0 error-compensating 42, q4_0 importance-weighted 1$" "$T/d_imp.err"
check "quantize --calib: same size as without" test "$(stat -c %s "$T/d_rtn.gguf")" = "$(stat -c %s "$T/d_imp.gguf")"
"$W" kld -m "$T/d_rtn.gguf" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 4 >"$T/k_rtn.txt" 2>/dev/null
"$W" kld -m "$T/d_imp.gguf" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 4 >"$T/k_imp.txt" 2>/dev/null
k_rtn=$(val "$T/k_rtn.txt" 'Mean KLD'); k_imp=$(val "$T/k_imp.txt" 'Mean KLD')
check "error-compensating q4_0 has lower KLD than round-to-nearest ($k_imp < $k_rtn)" \
  python3 -c "assert $k_imp < $k_rtn"
for ty in q4_1 q5_0 q5_1; do
  case $ty in q4_1) want="q4_1 error-compensating 42, q4_1 round-to-nearest 1" ;; *) want="$ty error-compensating 43" ;; esac
  "$W" quantize "$M" "$T/d_$ty.gguf" --type $ty --calib "$T/calib.txt" 2>"$T/d_$ty.err"; rc=$?
  check "quantize --type $ty --calib: $want (rc $rc)" grep -q "^quantizers: $want$" "$T/d_$ty.err"
done
# The tied embedding's per-row metric (quant/tied_embedding.h): used where
# the embedding is compensated (q5_0), not where it is not (q4_0), and never
# for the synthetic model's untied embedding.
check "quantize --type q5_0 --calib: the tied embedding's rows with their own metric, and says so" \
  grep -qE "^note: token_embd.weight \(a tied embedding\): [1-9][0-9]* rows with their own error metric \(output and lookup roles, lookup sensitivity [0-9.e+-]+ per coordinate\)" "$T/d_q5_0.err"
check "quantize --type q4_0 --calib: no per-row metric (the embedding is importance-weighted)" \
  sh -c "! grep -q 'a tied embedding' '$T/d_imp.err'"
check "quantize --type q3_K --calib on an untied model: no per-row metric" sh -c "! grep -q 'tied embedding' '$T/g_gptq.err'"
# --adaptive: the tied embedding's every candidate probed, the others' smallest only.
"$W" quantize "$M" "$T/d_ad.gguf" --adaptive --bpw 5 --calib "$T/calib.txt" --plan-report "$T/dplan.md" 2>"$T/d_ad.err"; rc=$?
check "adaptive on a model with a tied embedding runs (rc $rc)" test $rc -eq 0
check "adaptive: the tied embedding probed at every type" \
  grep -qE '^\| token_embd\.weight \| .* \| [0-9]\.[0-9]+e[-+][0-9]+ \(q4_0; every type probed\) \|' "$T/dplan.md"
check "adaptive: the other matrices probed at their smallest type only" test "$(grep -c 'every type probed)' "$T/dplan.md")" -eq 1
# Hot rows (formats/hot_rows.h): the tied embedding's most looked-up rows
# again in q8_0 for the lookup. --type with --hot-rows: said, counted in the
# bits per weight, lower KLD than the same type without them; --adaptive
# --own-formats: among the embedding's candidates, the file as planned
# (both budgets: the file-size one checks the predicted size).
"$W" quantize "$M" "$T/d_hot.gguf" --type q4_0 --calib "$T/calib.txt" --hot-rows 512 2>"$T/d_hot.err"; rc=$?
check "quantize --type q4_0 --calib --hot-rows 512 runs (rc $rc)" test $rc -eq 0
check "quantize --hot-rows: says so" grep -q "^note: token_embd.weight: 512 hot rows in q8_0 beside it" "$T/d_hot.err"
"$W" info "$T/d_hot.gguf" >"$T/d_hot.info"
check "info: the hot rows and their share of the bits per weight" \
  grep -qE "^    \+ 512 hot rows in q8_0 .*: [0-9.]+ KiB, 0\.[0-9]{4} of the bits per weight above" "$T/d_hot.info"
b_hot=$(bpw "$T/d_hot.gguf"); b_imp=$(bpw "$T/d_imp.gguf")
check "hot rows: more bits per weight ($b_hot > $b_imp)" python3 -c "assert $b_hot > $b_imp"
"$W" kld -m "$T/d_hot.gguf" --base "$M" -f "$T/text.txt" --ctx 128 --chunks 4 >"$T/k_hot.txt" 2>/dev/null
k_hot=$(val "$T/k_hot.txt" 'Mean KLD')
check "hot rows: lower KLD than without them ($k_hot < $k_imp)" python3 -c "assert $k_hot < $k_imp"
"$W" quantize "$M" "$T/d_adh.gguf" --adaptive --bpw 5 --own-formats --hot-rows 256 --calib "$T/calib.txt" \
  --plan-report "$T/dhplan.md" 2>"$T/d_adh.err"; rc=$?
check "adaptive --own-formats --hot-rows 256 runs (rc $rc)" test $rc -eq 0
check "adaptive --own-formats: the tied embedding's candidates with hot rows probed" \
  grep -qE '^\| token_embd\.weight \| .*, q4_0 \+ hot rows [0-9.e+-]+, q4_1 \+ hot rows [0-9.e+-]+ \|$' "$T/dhplan.md"
got=$(bpw "$T/d_adh.gguf")
check "adaptive --own-formats --hot-rows: measured $got bits per weight <= 5" python3 -c "assert $got <= 5.0"
"$W" quantize "$M" "$T/d_adf.gguf" --adaptive --budget-mb 4.2 --own-formats --hot-rows 256 --calib "$T/calib.txt" \
  --plan-report "$T/dfplan.md" 2>"$T/d_adf.err"; rc=$?
check "adaptive --own-formats --budget-mb 4.2 runs, its file as planned (rc $rc)" test $rc -eq 0
check "adaptive --budget-mb 4.2: file at most 4.2 MB" test "$(stat -c %s "$T/d_adf.gguf")" -le 4200000
"$W" quantize "$M" "$T/d_q4K.gguf" --type q4_K --calib "$T/calib.txt" 2>"$T/d_q4K.err"
check "quantize --type q4_K --calib: the q5_0 fallback is error-compensating" \
  sh -c "grep -q '^quantizers: q5_0 error-compensating 43$' '$T/d_q4K.err' && cmp -s '$T/d_q4K.gguf' '$T/d_q5_0.gguf'"
"$W" quantize "$M" "$T/d_q8.gguf" --type q8_0 --calib "$T/calib.txt" 2>"$T/d_q8.err"
check "quantize --type q8_0 --calib: round-to-nearest, and says so" \
  sh -c "grep -q '^quantizers: q8_0 round-to-nearest 43$' '$T/d_q8.err' && grep -q 'note: --calib: q8_0 matrices are quantized by round-to-nearest (q8_0 has no error-compensating quantizer' '$T/d_q8.err'"

# Errors: clear messages, non-zero exits.
expect() {  # expect NAME PATTERN CMD...: fails with an error line matching PATTERN
  local name=$1 pat=$2; shift 2
  "$@" >/dev/null 2>"$T/e.err"; local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -qE "$pat" "$T/e.err"; then ok "$name: $(head -1 "$T/e.err" | cut -c1-140)"
  else bad "$name (exit $rc)"; sed 's/^/       /' "$T/e.err" | head -5; fi
}
expect "budget below every matrix at q2_K" "below the smallest .* 2\.6250 bits per weight" \
  "$W" quantize "$T/syn.gguf" "$T/x.gguf" --adaptive --bpw 2.5
expect "file budget below the smallest file" "budget of 1000000 bytes is below the smallest file .* [0-9]+ bytes" \
  "$W" quantize "$T/syn.gguf" "$T/x.gguf" --adaptive --budget-mb 1
expect "bundled model: 128-wide rows have no 2-3 bit type" "below the smallest .* 4\.5000 bits per weight" \
  "$W" quantize "$M" "$T/x.gguf" --adaptive --bpw 3
expect "missing calibration text" "cannot open calibration text" \
  "$W" quantize "$T/syn.gguf" "$T/x.gguf" --adaptive --bpw 4 --calib "$T/nope.txt"
printf 'Hi.' >"$T/short.txt"
expect "calibration text too short" "too short" \
  "$W" quantize "$M" "$T/x.gguf" --type q4_0 --calib "$T/short.txt"
expect "unknown type with --calib" "unknown type 'q9_K'" "$W" quantize "$M" "$T/x.gguf" --type q9_K --calib "$T/calib.txt"
expect "--method without --calib" "method gptq needs a calibration text" "$W" quantize "$M" "$T/x.gguf" --type q4_0 --method gptq
expect "unknown --method" "unknown quantization method 'best'" "$W" quantize "$M" "$T/x.gguf" --type q4_0 --calib "$T/calib.txt" --method best
expect "--method rtn with --calib, not adaptive" "only guides --adaptive" "$W" quantize "$M" "$T/x.gguf" --type q4_0 --calib "$T/calib.txt" --method rtn
expect "--adaptive without a budget" "needs one budget" "$W" quantize "$M" "$T/x.gguf" --adaptive
expect "--adaptive with two budgets" "needs one budget" "$W" quantize "$M" "$T/x.gguf" --adaptive --bpw 5 --budget-mb 5
expect "--adaptive with --type" "exclude each other" "$W" quantize "$M" "$T/x.gguf" --adaptive --bpw 5 --type q4_0
expect "--bpw without --adaptive" "belong to --adaptive" "$W" quantize "$M" "$T/x.gguf" --type q4_0 --bpw 5
expect "--own-formats without --adaptive" "belong to --adaptive" "$W" quantize "$M" "$T/x.gguf" --type q4_0 --own-formats
expect "--hot-rows with --adaptive, without --own-formats" "needs --own-formats" \
  "$W" quantize "$M" "$T/x.gguf" --adaptive --bpw 5 --calib "$T/calib.txt" --hot-rows 64
expect "--bpw not a number" "expects a number" "$W" quantize "$M" "$T/x.gguf" --adaptive --bpw lots
head -c 100000 "$T/syn.gguf" >"$T/trunc.gguf"
expect "adaptive on a truncated model" "error: invalid_file" "$W" quantize "$T/trunc.gguf" "$T/x.gguf" --adaptive --bpw 4
head -c 4096 /dev/urandom >"$T/noise.bin"
expect "adaptive on a file that is not GGUF" "not a GGUF file" "$W" quantize "$T/noise.bin" "$T/x.gguf" --adaptive --bpw 4
check "no output file was left by the failures" test ! -e "$T/x.gguf"

finish
