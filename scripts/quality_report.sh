#!/usr/bin/env bash
# Quality of each quantization type on one model, measured: quantizes MODEL
# (a GGUF, normally f16 or f32) to every type with `webaccel quantize`
# (round-to-nearest), to some types again with calibrated quantizers (`--calib
# --method M` for each of --calib-methods: gptq = error-compensating, weighted
# = importance-weighted), and with adaptive plans at average bits per weight
# (`--adaptive --bpw`, default method); then for each file measures its size and actual bits per weight
# (`webaccel info`: bytes of the weight matrices as stored * 8 / weights),
# perplexity, KL divergence and top-1 agreement against MODEL (`webaccel kld`)
# on held-out text, and CPU speed (`webaccel bench`), and writes a Markdown report.
#
#   scripts/quality_report.sh MODEL [--out QUALITY.md] [--types "q8_0 q6_K ..."]
#                             [--calib-types "q4_K ..."] [--calib-methods "gptq weighted"]
#                             [--calib-tokens N] [--adaptive-bpw "2.5 3 4"] [--own-formats[-only]]
#                             [--hot-types "q2_K ..."] [--hot-rows N]
#                             [--stories N] [--ctx N] [--chunks N] [--threads N] [--no-bench]
#                             [--wasm-bench] [--webgpu-bench]
#
# --wasm-bench: pp64/tg32 columns of the wasm build too (below); --webgpu-bench:
# and of the WebGPU backend, through bench/webgpu/webaccel-node.mjs --pp 64 --tg 32
# (Node with Dawn's `webgpu` package on whatever adapter Dawn finds: run it on the
# GPU machine, bench/webgpu/device_quality.sh; SwiftShader would take hours).
#
# --own-formats: the adaptive plans also with webaccel's own wa_vq2 / wa_vq3
# (`quantize --adaptive --own-formats`: files that run only on webaccel's CPU
# backend), as extra rows after the GGUF-only ones (--own-formats-only: instead
# of them). The own types can be named in --types / --calib-types like any other.
#
# --hot-types: rows of those types quantized --method gptq with hot rows
# (`quantize --hot-rows N`: a tied embedding's most looked-up rows stored again
# in q8_0 for the lookup, webaccel's own; formats/hot_rows.h);
# --hot-rows N: their count, also passed to the --own-formats adaptive plans
# (default: quantize's, 1024 for those plans and for these rows).
#
# The text is the one tests/cli/run_quality_tests.sh uses: stories of seed 777
# from tools/corpus/storygen.py (the training corpus is seed 1, so every story
# is held out); --stories sets how many (default 12, as in the tests). The
# calibration text is 12 stories of seed 5: neither training nor evaluation text.
# WEBACCEL=path/to/webaccel selects the binary (default build/native/bin/webaccel).
# Every number in the report is parsed from those commands' output.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: $0 MODEL.gguf [--out FILE] [--types \"T ...\"] [--calib-types \"T ...\"] [--calib-methods \"M ...\"] [--calib-tokens N] [--adaptive-bpw \"B ...\"] [--stories N] [--ctx N] [--chunks N] [--threads N] [--no-bench] [--wasm-bench] [--webgpu-bench]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ARGS=("$@")
MODEL=$1; shift
OUT=$ROOT/QUALITY.md
TYPES="f32 q8_0 q6_K q5_K q4_K q4_0 q3_K q2_K"
CALIB_TYPES="q4_K q4_0 q2_K"
CALIB_METHODS="gptq weighted"
# All of the 12 calibration stories (about 2,600 tokens of story-large's
# tokenizer): H of a 1280-wide input needs more tokens than its width.
CALIB_TOKENS=4096
ADAPTIVE_BPW="4 3 2.5"
OWN_FORMATS=0
HOT_TYPES=""
HOT_ROWS=""
BENCH=1
WASM_BENCH=0
WEBGPU_BENCH=0
STORIES=12
CTX=128
CHUNKS=0
THREADS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --types) TYPES=$2; shift 2 ;;
    --calib-types) CALIB_TYPES=$2; shift 2 ;;
    --calib-methods) CALIB_METHODS=$2; shift 2 ;;
    --calib-tokens) CALIB_TOKENS=$2; shift 2 ;;
    --adaptive-bpw) ADAPTIVE_BPW=$2; shift 2 ;;
    --no-bench) BENCH=0; shift ;;
    --wasm-bench) WASM_BENCH=1; shift ;;
    --webgpu-bench) WEBGPU_BENCH=1; shift ;;
    --own-formats) OWN_FORMATS=1; shift ;;
    --own-formats-only) OWN_FORMATS=2; shift ;;
    --hot-types) HOT_TYPES=$2; shift 2 ;;
    --hot-rows) HOT_ROWS=$2; shift 2 ;;
    --stories) STORIES=$2; shift 2 ;;
    --ctx) CTX=$2; shift 2 ;;
    --chunks) CHUNKS=$2; shift 2 ;;
    --threads) THREADS=(--threads "$2"); shift 2 ;;
    *) usage ;;
  esac
done
W=${WEBACCEL:-$ROOT/build/native/bin/webaccel}
[[ -x $W ]] || { echo "$0: no webaccel binary at $W (build it, or set WEBACCEL)" >&2; exit 1; }
[[ -f $MODEL ]] || { echo "$0: no model file $MODEL" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# --wasm-bench: the same pp64/tg32 on the wasm build (single-threaded, one
# thread, SIMD128 kernels) under Node: bench/wasm_model_bench.cpp, built here
# in the wasm tree (emscripten: `make wasm` installs it); WASM_BENCH_JS=path
# takes one built elsewhere instead (the GPU machine has no emscripten);
# WASM_NODE (default node) runs it.
WASM_NODE=${WASM_NODE:-node}
WASM_JS=${WASM_BENCH_JS:-$ROOT/build/wasm-st/bin/wasm_model_bench.js}
if [[ $WASM_BENCH -eq 1 && -n ${WASM_BENCH_JS:-} ]]; then
  [[ -f $WASM_JS ]] || { echo "$0: --wasm-bench: no $WASM_JS (WASM_BENCH_JS)" >&2; exit 1; }
elif [[ $WASM_BENCH -eq 1 ]]; then
  echo "building wasm_model_bench (wasm, single-threaded)" >&2
  (cd "$ROOT" && export NODE_PATH=/usr/share/nodejs && cmake --preset wasm >/dev/null &&
    cmake --build --preset wasm --target wasm_model_bench -j "$(nproc)" >"$T/wasm_build.log" 2>&1) ||
    { tail -20 "$T/wasm_build.log" >&2; echo "$0: --wasm-bench: building wasm_model_bench failed (is emscripten installed? make wasm)" >&2; exit 1; }
fi

# --webgpu-bench: js/dist's engine on Dawn; WEBGPU_NODE (default node) runs it
# and WEBGPU_BENCH_ARGS adds webaccel-node.mjs arguments (e.g. --dawn-flag ...).
GPU_NODE=${WEBGPU_NODE:-node}
GPU_REPS=${WEBGPU_BENCH_REPS:-3}
if [[ $WEBGPU_BENCH -eq 1 ]]; then
  [[ -f $ROOT/js/dist/index.js ]] || { echo "$0: --webgpu-bench: no js/dist (make wasm)" >&2; exit 1; }
fi

python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count "$STORIES" >"$T/text.txt"
python3 "$ROOT/tools/corpus/storygen.py" --seed 5 --count 12 >"$T/calib.txt"
EVAL=(-f "$T/text.txt" --ctx "$CTX" "${THREADS[@]}")
[[ $CHUNKS -gt 0 ]] && EVAL+=(--chunks "$CHUNKS")

# measure LABEL FILE: size, bits per weight, storage mix, perplexity, KLD vs MODEL and speed -> one TSV row.
# Perplexity is kld's "Mean PPL(model)": the same chunks and scored tokens as `webaccel perplexity`.
BENCH_ARGS=(-p 64 -n 32 -r 3 -o md "${THREADS[@]}")
measure() {
  local label=$1 f=$2
  "$W" info "$f" >"$T/info.txt"
  local size bpw mix
  size=$(stat -c %s "$f")
  bpw=$(sed -nE 's/.*weight matrices: .* ([0-9.]+) bits per weight.*/\1/p' "$T/info.txt")
  mix=$(sed -nE 's/^    ([a-zA-Z0-9_]+) +([0-9.]+)% of the weights$/\1 \2%/p' "$T/info.txt" | paste -sd, - | sed 's/,/, /g')
  # Hot rows: their count and type after the mix (their bytes are in bits/weight).
  local hot
  hot=$(sed -nE 's/^    \+ ([0-9]+) hot rows in ([a-zA-Z0-9_]+) .*/ + \1 hot rows \2/p' "$T/info.txt")
  mix="$mix$hot"
  echo "  $label: kld" >&2
  "$W" kld -m "$f" --base "$MODEL" "${EVAL[@]}" >"$T/kld.txt" 2>/dev/null
  val() { grep "^$1" "$T/kld.txt" | head -1 | sed -E 's/^[^:]*: *([-0-9.e+]+)( \+\/- ([-0-9.e+]+))?.*/\1\t\3/'; }
  local pp="-" tg="-"
  if [[ $BENCH -eq 1 ]]; then
    echo "  $label: bench" >&2
    "$W" bench -m "$f" "${BENCH_ARGS[@]}" >"$T/bench.txt" 2>/dev/null
    pp=$(sed -nE 's/.*\| pp64 \| ([0-9.]+ ± [0-9.]+) \|$/\1/p' "$T/bench.txt")
    tg=$(sed -nE 's/.*\| tg32 \| ([0-9.]+ ± [0-9.]+) \|$/\1/p' "$T/bench.txt")
    grep -m1 "cpu (" "$T/bench.txt" | awk -F'|' '{print $5 "|" $6}' >"$T/bench_cfg.txt"
  fi
  local wpp="-" wtg="-"
  if [[ $WASM_BENCH -eq 1 ]]; then
    echo "  $label: wasm bench" >&2
    "$WASM_NODE" -r "$ROOT/scripts/no_fetch.cjs" "$WASM_JS" "$f" -t 1 -p 64 -n 32 -r 3 >"$T/wasm.txt" 2>"$T/wasm.err" ||
      { cat "$T/wasm.err" >&2; echo "$0: wasm_model_bench failed on $label" >&2; exit 1; }
    wpp=$(sed -nE 's/^pp64 .* median ([0-9.]+) t\/s.*/\1/p' "$T/wasm.txt")
    wtg=$(sed -nE 's/^tg32 .* median ([0-9.]+) t\/s.*/\1/p' "$T/wasm.txt")
    sed -nE 's/^pp64 t=([0-9]+) isa=([a-z0-9_]+) .*/\2, threads \1/p' "$T/wasm.txt" >"$T/wasm_cfg.txt"
  fi
  local gpp="-" gtg="-"
  if [[ $WEBGPU_BENCH -eq 1 ]]; then
    echo "  $label: webgpu bench" >&2
    # shellcheck disable=SC2086  # WEBGPU_BENCH_ARGS: words on purpose
    "$GPU_NODE" "$ROOT/bench/webgpu/webaccel-node.mjs" --webgpu --model "$f" --reps "$GPU_REPS" --pp 64 --tg 32 \
      ${WEBGPU_BENCH_ARGS:-} --out "$T/gpu.json" >/dev/null 2>"$T/gpu.err" ||
      { tail -20 "$T/gpu.err" >&2; echo "$0: webaccel-node.mjs failed on $label" >&2; exit 1; }
    # A file the WebGPU kernels cannot run falls back to the CPU: its cells say so instead of a speed.
    read -r gpp gtg < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); run = r["runs"][0]
by = {x["test"]: x["median"] for x in run["results"]}
if run["backend_used"] != "webgpu":
    print("n/a", "(" + run["backend_used"] + ")")
else:
    print("%.2f" % by["pp64"], "%.2f" % by["tg32"])
open(sys.argv[2], "w").write("%s, Node %s" % (r["adapter"].get("description") or r["adapter"].get("device") or "?", r["node"]))' \
      "$T/gpu.json" "$T/gpu_cfg.txt")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$mix" "$size" "$bpw" "$(val 'Mean PPL(model)')" \
    "$(val 'Mean ln(PPL ratio)' | cut -f1)" "$(val 'Mean KLD')" "$(val '99.0% KLD' | cut -f1)" "$(val 'Same top-1')" \
    "$pp" "$tg" "$wpp" "$wtg" "$gpp" "$gtg" >>"$T/rows.tsv"
  grep -m1 "^Scored tokens" "$T/kld.txt" | sed -E 's/.*: *//' >"$T/scored.txt"
}

# unreachable LABEL MESSAGE: a row for a plan the planner refused (its reason instead of figures).
unreachable() { printf '%s\t-\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t%s\n' "$1" "$2" >>"$T/rows.tsv"; }

echo "quality report for $MODEL" >&2
: >"$T/rows.tsv"
: >"$T/notes.txt"
measure "original" "$MODEL"
for ty in $TYPES; do
  echo "  $ty: quantize" >&2
  if ! "$W" quantize "$MODEL" "$T/$ty.gguf" --type "$ty" 2>"$T/quant.err"; then
    cat "$T/quant.err" >&2; exit 1
  fi
  sed -nE "s/^note: (.*)/$ty: \1/p" "$T/quant.err" >>"$T/notes.txt"
  measure "$ty" "$T/$ty.gguf"
  rm -f "$T/$ty.gguf"
done
# calib_label TYPE METHOD: the row's label from what `quantize` says it used
# ("quantizers: q2_K error-compensating 35, q2_K importance-weighted 1").
calib_label() {
  local how
  how=$(sed -nE 's/^quantizers: (.*)/\1/p' "$T/quant.err" | sed -E "s/(^|, )$1 /\1/g")
  echo "$1, --method $2 ($how matrices)"
}
for ty in $CALIB_TYPES; do
  for m in $CALIB_METHODS; do
    echo "  $ty --calib --method $m: quantize" >&2
    if ! "$W" quantize "$MODEL" "$T/$ty-calib.gguf" --type "$ty" --calib "$T/calib.txt" --calib-tokens "$CALIB_TOKENS" \
        --method "$m" "${THREADS[@]}" 2>"$T/quant.err"; then
      cat "$T/quant.err" >&2; exit 1
    fi
    sed -nE "s/^note: (--calib: .*)/$ty --method $m: \1/p" "$T/quant.err" >>"$T/notes.txt"
    measure "$(calib_label "$ty" "$m")" "$T/$ty-calib.gguf"
    rm -f "$T/$ty-calib.gguf"
  done
done
HOT_ARGS=()
[[ -n $HOT_ROWS ]] && HOT_ARGS=(--hot-rows "$HOT_ROWS")
for ty in $HOT_TYPES; do
  echo "  $ty --calib --method gptq --hot-rows ${HOT_ROWS:-1024}: quantize" >&2
  if ! "$W" quantize "$MODEL" "$T/$ty-hot.gguf" --type "$ty" --calib "$T/calib.txt" --calib-tokens "$CALIB_TOKENS" \
      --method gptq --hot-rows "${HOT_ROWS:-1024}" "${THREADS[@]}" 2>"$T/quant.err"; then
    cat "$T/quant.err" >&2; exit 1
  fi
  label=$(calib_label "$ty" gptq)
  measure "${label%)}; + ${HOT_ROWS:-1024} hot rows)" "$T/$ty-hot.gguf"
  rm -f "$T/$ty-hot.gguf"
done
OWN_RUNS=(0)
[[ $OWN_FORMATS == 1 ]] && OWN_RUNS=(0 1)
[[ $OWN_FORMATS == 2 ]] && OWN_RUNS=(1)
for own in "${OWN_RUNS[@]}"; do
for b in $ADAPTIVE_BPW; do
  echo "  adaptive --bpw $b (own formats: $own): quantize" >&2
  label="adaptive (--method gptq), <= $b bits/weight"
  OWN_ARGS=()
  if [[ $own == 1 ]]; then
    label="adaptive (--method gptq, --own-formats), <= $b bits/weight"
    OWN_ARGS=(--own-formats "${HOT_ARGS[@]}")
  fi
  if "$W" quantize "$MODEL" "$T/adaptive.gguf" --adaptive --bpw "$b" --calib "$T/calib.txt" \
      --calib-tokens "$CALIB_TOKENS" "${THREADS[@]}" "${OWN_ARGS[@]}" \
      --plan-report "$T/plan-$b.md" 2>"$T/quant.err"; then
    measure "$label" "$T/adaptive.gguf"
    rm -f "$T/adaptive.gguf"
  elif grep -q "below the smallest" "$T/quant.err"; then
    unreachable "$label" "$(sed -nE 's/.*error: invalid_argument: (.*)/\1/p' "$T/quant.err" | head -1)"
  else
    cat "$T/quant.err" >&2; exit 1
  fi
done
done

# The report: every figure comes from rows.tsv.
# WEBACCEL_COMMIT: the commit, where ROOT is a copy whose git metadata is not
# the sources' (the GPU machine's tree; device_quality.sh).
if [[ -n ${WEBACCEL_COMMIT:-} ]]; then
  COMMIT=$WEBACCEL_COMMIT
else
  COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$ROOT" diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
fi
CHUNKS_TEXT=""
[[ $CHUNKS -gt 0 ]] && CHUNKS_TEXT=", --chunks $CHUNKS"
CPU=$(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -1)
SPEED="not measured (--no-bench)"
if [[ $BENCH -eq 1 ]]; then
  SPEED="\`webaccel bench ${BENCH_ARGS[*]}\` on the CPU ($(tr -d ' ' <"$T/bench_cfg.txt" | sed 's/|/, threads /')), mean ± sd of 3 runs"
  SPEED="$SPEED; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (a shared machine: compare rows, not machines)"
fi
if [[ $WASM_BENCH -eq 1 ]]; then
  SPEED="$SPEED; wasm: \`bench/wasm_model_bench.cpp -t 1 -p 64 -n 32 -r 3\` (single-threaded build, $(cat "$T/wasm_cfg.txt")) under Node $("$WASM_NODE" --version), median of 3"
else
  SPEED="$SPEED; wasm: not measured (--wasm-bench)"
fi
if [[ $WEBGPU_BENCH -eq 1 ]]; then
  SPEED="$SPEED; WebGPU: \`bench/webgpu/webaccel-node.mjs --webgpu --pp 64 --tg 32 --reps $GPU_REPS${WEBGPU_BENCH_ARGS:+ $WEBGPU_BENCH_ARGS}\` ($(cat "$T/gpu_cfg.txt")), median of $GPU_REPS after a warm-up"
else
  SPEED="$SPEED; WebGPU: not measured (--webgpu-bench; 7B decode speeds of the q4_0 and k-quant types on an H100 are in BENCHMARKS.md)"
fi
CMD="scripts/quality_report.sh"
for a in "${ARGS[@]}"; do
  case "$a" in "$ROOT"/*) a=${a#"$ROOT"/} ;; esac
  [[ $a =~ [[:space:]] ]] && a="\"$a\""
  CMD="$CMD $a"
done
# QUALITY_REPORT_COMMAND: the command to name instead (a wrapper that ran this one).
export R_CMD="${QUALITY_REPORT_COMMAND:-$CMD}" R_MODEL="$(basename "$MODEL")" R_SHA="$(sha256sum "$MODEL" | cut -c1-16)" \
  R_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" R_COMMIT="$COMMIT" R_MACHINE="$CPU, $(nproc) cores, $(uname -sm)" \
  R_TEXT="tools/corpus/storygen.py --seed 777 --count $STORIES (held out: training used seed 1), $(wc -c <"$T/text.txt") bytes" \
  R_EVAL="--ctx $CTX$CHUNKS_TEXT, $(cat "$T/scored.txt") scored tokens per model (the second half of each chunk)" \
  R_CALIB="tools/corpus/storygen.py --seed 5 --count 12 (neither training nor evaluation text), $(wc -c <"$T/calib.txt") bytes; \`--calib-tokens $CALIB_TOKENS\`" \
  R_SPEED="$SPEED"
python3 - "$T/rows.tsv" "$T/notes.txt" "$OUT" <<'EOF'
import os, sys
E = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
notes = [l.strip() for l in open(sys.argv[2]) if l.strip()]
base_ppl = float(rows[0][4])
out = []
w = out.append
w("# Quantization quality")
w("")
w("Generated by `scripts/quality_report.sh`; every number below was measured by it. Do not edit by hand: rerun")
w("")
w("```")
w(E["R_CMD"])
w("```")
w("")
w("| | |")
w("| --- | --- |")
w(f"| model | `{E['R_MODEL']}` (sha256 `{E['R_SHA']}`...) |")
w(f"| date | {E['R_DATE']} |")
w(f"| commit | {E['R_COMMIT']} |")
w(f"| machine | {E['R_MACHINE']} |")
w(f"| text | {E['R_TEXT']} |")
w(f"| evaluation | {E['R_EVAL']} |")
w(f"| calibration | {E['R_CALIB']} |")
w(f"| speed | {E['R_SPEED']} |")
w("")
w("- *stored as*: the types the weight matrices were written in, by share of the weights (from `webaccel info`).")
w("  A type whose block does not divide a matrix's rows falls back as llama.cpp's quantize does (notes below).")
w("- *bits/weight*: bytes of the weight matrices in the file (block scales and minimums included) * 8 / weights.")
w("  Norm vectors (f32) are excluded; *file size* includes them and the metadata (tokenizer).")
w("- *T, --method M (...)*: `webaccel quantize --type T --calib TEXT --method M`; in parentheses, how many matrices")
w("  each quantizer wrote, as `quantize` reports it. *error-compensating* (gptq): each row's columns rounded in order,")
w("  each one's error spread over the columns not yet rounded through the inverse of the inputs' second-moment")
w("  matrix on the calibration text (quant/gptq.h); *importance-weighted*: scales chosen to minimize the error weighted")
w("  by each input column's mean square activation; *round-to-nearest*: where neither measured better (README).")
w("- *adaptive (--method gptq), <= B bits/weight*: `webaccel quantize --adaptive --bpw B --calib TEXT`: a type per")
w("  matrix, chosen by the KL divergence measured with each matrix alone at its smallest type (README, ARCHITECTURE),")
w("  quantized by the default method (gptq). A plan the available types cannot reach says so instead of figures.")
if any("--own-formats" in r[0] or "wa_vq" in r[0] for r in rows):
    w("- *--own-formats*, *wa_vq2*, *wa_vq3*: webaccel's own vector-quantized formats (README, \"Own block formats\"),")
    w("  with --own-formats among the adaptive candidates too; such a file runs only on webaccel (its CPU, wasm and WebGPU backends), not llama.cpp.")
if any("hot rows" in r[0] or "hot rows" in r[1] for r in rows):
    w("- *+ N hot rows q8_0*: the tied token embedding's N most looked-up rows (on the calibration text) stored again in")
    w("  q8_0, read by the lookup instead of the low-bit matrix (`quantize --hot-rows N`; README, \"Hot rows\"); their")
    w("  bytes count in bits/weight. With --own-formats the adaptive planner has them among the embedding's candidates.")
w("- *PPL*: perplexity as `webaccel perplexity` computes it (± standard error), taken from `webaccel kld`'s")
w("  PPL(model) on the same chunks; *ΔPPL*: relative to the original.")
w("  *ln PPL ratio*, *KLD*, *top-1*: `webaccel kld` against the original on the same tokens")
w("  (mean per-token difference of ln probabilities, mean (± standard error) and 99th percentile KL divergence,")
w("  share of positions with the same most likely token).")
w("")
w("- *pp64*, *tg32*: CPU tokens per second, prompt of 64 tokens and generation of 32; *wasm pp64*, *wasm tg32*: the")
w("  same on the wasm build; *WebGPU pp64*, *WebGPU tg32*: on the WebGPU backend, where *n/a (cpu)* marks a file")
w("  that the WebGPU kernels cannot run (see *speed* above).")
w("")
w("| type | stored as | file size | bits/weight | PPL | ΔPPL | ln PPL ratio | mean KLD | 99% KLD | top-1 | pp64 t/s | tg32 t/s | wasm pp64 t/s | wasm tg32 t/s | WebGPU pp64 t/s | WebGPU tg32 t/s |")
w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, mix, size, bpw, ppl, pplerr, lnr, kld, klderr, k99, top, toperr, pp, tg, wpp, wtg, gpp, gtg in rows:
    if mix == "-":
        w(f"| {label} | not reachable: {gtg} | | | | | | | | | | | | | | |")
        continue
    size = int(size)
    d = 100.0 * (float(ppl) / base_ppl - 1.0)
    w(f"| {label} | {mix} | {size:,} B ({size / 2**20:.2f} MiB) | {float(bpw):.4f} | {float(ppl):.4f} ± {float(pplerr):.4f} | "
      f"{d:+.2f}% | {float(lnr):+.6f} | {float(kld):.6f} ± {float(klderr):.6f} | {float(k99):.6f} | {float(top):.2f} ± {float(toperr):.2f}% | "
      f"{pp} | {tg} | {wpp} | {wtg} | {gpp} | {gtg} |")
if notes:
    w("")
    w("Notes from `webaccel quantize`:")
    w("")
    for n in notes:
        w(f"- {n}")
open(sys.argv[3], "w").write("\n".join(out) + "\n")
EOF
echo "wrote $OUT" >&2
