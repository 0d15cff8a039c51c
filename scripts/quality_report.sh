#!/usr/bin/env bash
# Quality of each quantization type on one model, measured: quantizes MODEL
# (a GGUF, normally f16 or f32) to every type with `webaccel quantize`, then
# for each file measures its size and actual bits per weight (`webaccel info`:
# bytes of the weight matrices as stored * 8 / weights), perplexity
# (`webaccel perplexity`) and KL divergence / top-1 agreement against MODEL
# (`webaccel kld`) on held-out text, and writes a Markdown report.
#
#   scripts/quality_report.sh MODEL [--out QUALITY.md] [--types "q8_0 q6_K ..."]
#                             [--stories N] [--ctx N] [--chunks N] [--threads N]
#
# The text is the one tests/cli/run_quality_tests.sh uses: stories of seed 777
# from tools/corpus/storygen.py (the training corpus is seed 1, so every story
# is held out); --stories sets how many (default 12, as in the tests).
# WEBACCEL=path/to/webaccel selects the binary (default build/native/bin/webaccel).
# Every number in the report is parsed from those commands' output.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: $0 MODEL.gguf [--out FILE] [--types \"T ...\"] [--stories N] [--ctx N] [--chunks N] [--threads N]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ARGS=("$@")
MODEL=$1; shift
OUT=$ROOT/QUALITY.md
TYPES="f32 q8_0 q6_K q5_K q4_K q4_0 q3_K q2_K"
STORIES=12
CTX=128
CHUNKS=0
THREADS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --types) TYPES=$2; shift 2 ;;
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

python3 "$ROOT/tools/corpus/storygen.py" --seed 777 --count "$STORIES" >"$T/text.txt"
EVAL=(-f "$T/text.txt" --ctx "$CTX" "${THREADS[@]}")
[[ $CHUNKS -gt 0 ]] && EVAL+=(--chunks "$CHUNKS")

# measure LABEL FILE: size, bits per weight, storage mix, perplexity, and KLD vs MODEL -> one TSV row.
measure() {
  local label=$1 f=$2
  "$W" info "$f" >"$T/info.txt"
  local size bpw mix
  size=$(stat -c %s "$f")
  bpw=$(sed -nE 's/.*weight matrices: .* ([0-9.]+) bits per weight.*/\1/p' "$T/info.txt")
  mix=$(sed -nE 's/^    ([a-zA-Z0-9_]+) +([0-9.]+)% of the weights$/\1 \2%/p' "$T/info.txt" | paste -sd, - | sed 's/,/, /g')
  echo "  $label: perplexity" >&2
  "$W" perplexity -m "$f" "${EVAL[@]}" >"$T/ppl.txt" 2>/dev/null
  local ppl pplerr
  ppl=$(sed -nE 's/^Final estimate: PPL = ([0-9.]+) \+\/- ([0-9.]+).*/\1/p' "$T/ppl.txt")
  pplerr=$(sed -nE 's/^Final estimate: PPL = ([0-9.]+) \+\/- ([0-9.]+).*/\2/p' "$T/ppl.txt")
  echo "  $label: kld" >&2
  "$W" kld -m "$f" --base "$MODEL" "${EVAL[@]}" >"$T/kld.txt" 2>/dev/null
  val() { grep "^$1" "$T/kld.txt" | head -1 | sed -E 's/^[^:]*: *([-0-9.e+]+)( \+\/- ([-0-9.e+]+))?.*/\1\t\3/'; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$mix" "$size" "$bpw" "$ppl" "$pplerr" \
    "$(val 'Mean ln(PPL ratio)' | cut -f1)" "$(val 'Mean KLD')" "$(val '99.0% KLD' | cut -f1)" "$(val 'Same top-1')" \
    >>"$T/rows.tsv"
  grep -m1 "^Scored tokens" "$T/kld.txt" | sed -E 's/.*: *//' >"$T/scored.txt"
}

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

# The report: every figure comes from rows.tsv.
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
CHUNKS_TEXT=""
[[ $CHUNKS -gt 0 ]] && CHUNKS_TEXT=", --chunks $CHUNKS"
CPU=$(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -1)
CMD="scripts/quality_report.sh"
for a in "${ARGS[@]}"; do
  case "$a" in "$ROOT"/*) a=${a#"$ROOT"/} ;; esac
  [[ $a =~ [[:space:]] ]] && a="\"$a\""
  CMD="$CMD $a"
done
export R_CMD="$CMD" R_MODEL="$(basename "$MODEL")" R_SHA="$(sha256sum "$MODEL" | cut -c1-16)" \
  R_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" R_COMMIT="$COMMIT" R_MACHINE="$CPU, $(nproc) cores, $(uname -sm)" \
  R_TEXT="tools/corpus/storygen.py --seed 777 --count $STORIES (held out: training used seed 1), $(wc -c <"$T/text.txt") bytes" \
  R_EVAL="--ctx $CTX$CHUNKS_TEXT, $(cat "$T/scored.txt") scored tokens per model (the second half of each chunk)"
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
w("")
w("- *stored as*: the types the weight matrices were written in, by share of the weights (from `webaccel info`).")
w("  A type whose block does not divide a matrix's rows falls back as llama.cpp's quantize does (notes below).")
w("- *bits/weight*: bytes of the weight matrices in the file (block scales and minimums included) * 8 / weights.")
w("  Norm vectors (f32) are excluded; *file size* includes them and the metadata (tokenizer).")
w("- *PPL*: `webaccel perplexity` (± standard error); *ΔPPL*: relative to the original.")
w("  *ln PPL ratio*, *KLD*, *top-1*: `webaccel kld` against the original on the same tokens")
w("  (mean per-token difference of ln probabilities, mean (± standard error) and 99th percentile KL divergence,")
w("  share of positions with the same most likely token).")
w("")
w("| type | stored as | file size | bits/weight | PPL | ΔPPL | ln PPL ratio | mean KLD | 99% KLD | top-1 |")
w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, mix, size, bpw, ppl, pplerr, lnr, kld, klderr, k99, top, toperr in rows:
    size = int(size)
    d = 100.0 * (float(ppl) / base_ppl - 1.0)
    w(f"| {label} | {mix} | {size:,} B ({size / 2**20:.2f} MiB) | {float(bpw):.4f} | {float(ppl):.4f} ± {float(pplerr):.4f} | "
      f"{d:+.2f}% | {float(lnr):+.6f} | {float(kld):.6f} ± {float(klderr):.6f} | {float(k99):.6f} | {float(top):.2f} ± {float(toperr):.2f}% |")
if notes:
    w("")
    w("Notes from `webaccel quantize`:")
    w("")
    for n in notes:
        w(f"- {n}")
open(sys.argv[3], "w").write("\n".join(out) + "\n")
EOF
echo "wrote $OUT" >&2
