#!/usr/bin/env bash
# Side-by-side CPU benchmark: webaccel bench vs llama.cpp's llama-bench on the same GGUF
# files, in the same run, alternating the two tools. Prints a markdown table
# (model | size | test | threads | webaccel t/s | llama.cpp t/s | ratio) with machine info,
# and keeps the raw JSON of every run under .cache/bench/<timestamp>/.
#
# usage: bench/run_cpu_bench.sh [-t THREADS] [-r REPS] [-k ROUNDS] [MODEL.gguf ...]
#   -t  threads for both tools (default $THREADS or 2)
#   -r  repetitions per tool run (default $REPS or 5; each tool also does its own warmup)
#   -k  rounds (default $ROUNDS or 2): each round runs both tools once per model, the order
#       flipping every round, so slow drift or a noisy neighbour hits both sides alike;
#       the table pools the samples of all rounds
#   MODEL.gguf  default: synth 1B LLaMA q4_0 and q8_0 in .cache/models/, generated with
#       `webaccel synth` when absent
#   env: PP (default 512), TG (default 128), WEBACCEL (default build/native/bin/webaccel),
#       WEBACCEL_CACHE (cache root, default .cache), MIN_RATIO (default 0.8)
#
# The llama.cpp peer is built on first use by bench/peers/build_llama_cpp.sh (cached).
# Exit status: 0 when every tool run succeeded, 1 otherwise (the table is printed anyway).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${WEBACCEL_CACHE:-$REPO/.cache}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
ROUNDS=${ROUNDS:-2}
PP=${PP:-512}
TG=${TG:-128}
MIN_RATIO=${MIN_RATIO:-0.8}
WEBACCEL=${WEBACCEL:-$REPO/build/native/bin/webaccel}

while getopts "t:r:k:h" opt; do
  case $opt in
    t) THREADS=$OPTARG ;;
    r) REPS=$OPTARG ;;
    k) ROUNDS=$OPTARG ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
MODELS=("$@")

log() { echo "run_cpu_bench: $*" >&2; }

# --- tools ------------------------------------------------------------------
[ -x "$WEBACCEL" ] || make -C "$REPO" --no-print-directory build >&2
LLAMA_BIN=$("$REPO/bench/peers/build_llama_cpp.sh" llama-bench | tail -1)
LLAMA_BENCH="$LLAMA_BIN/llama-bench"
PEER_VERSION=$(head -2 "$CACHE/peers/llama.cpp/VERSION" | paste -sd' ' | sed 's/ commit / /')

# --- models -----------------------------------------------------------------
if [ ${#MODELS[@]} -eq 0 ]; then
  mkdir -p "$CACHE/models"
  for type in q4_0 q8_0; do
    f="$CACHE/models/synth-1b-$type.gguf"
    if [ ! -f "$f" ]; then
      log "generating $f"
      "$WEBACCEL" synth --arch llama --preset 1b --type "$type" "$f.tmp" >&2
      mv "$f.tmp" "$f"
    fi
    MODELS+=("$f")
  done
fi
for m in "${MODELS[@]}"; do [ -f "$m" ] || { log "no such model: $m"; exit 2; }; done

# --- run --------------------------------------------------------------------
OUT="$CACHE/bench/cpu-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Other processes on the cores skew both sides (and spinning thread pools collapse): warn.
if awk -v l="${load_before%% *}" -v t="$THREADS" -v n="$(nproc)" 'BEGIN { exit !(l + t > n + 0.5) }'; then
  log "warning: load average ${load_before%% *} with $(nproc) cores: expect noisy numbers"
fi
failed=0
table_args=()

# run_tool TOOL ROUND MODEL: one benchmark run of TOOL, JSON to $OUT, stderr to a log.
run_tool() {
  local tool=$1 round=$2 model=$3 cmd
  local base
  base="$OUT/$(basename "$model" .gguf).$tool.r$round"
  case $tool in
    llama.cpp) cmd=("$LLAMA_BENCH") ;;
    webaccel)  cmd=("$WEBACCEL" bench) ;;
  esac
  log "round $round/$ROUNDS: $tool on $(basename "$model")"
  if "${cmd[@]}" -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o json \
      >"$base.json" 2>"$base.log"; then
    table_args+=("$tool=$base.json")
  else
    log "$tool failed on $model (see $base.log)"
    tail -5 "$base.log" >&2 || true
    failed=1
  fi
}

for ((round = 1; round <= ROUNDS; round++)); do
  for model in "${MODELS[@]}"; do
    if ((round % 2)); then order=(llama.cpp webaccel); else order=(webaccel llama.cpp); fi
    for tool in "${order[@]}"; do run_tool "$tool" "$round" "$model"; done
  done
done

# --- report -----------------------------------------------------------------
{
  echo "## CPU benchmark: webaccel vs llama.cpp"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) logical cores online;" \
       "ISA: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|fma|f16c|avx512f|avx512bw|avx512vnni|avx_vnni' | sort -u | paste -sd' ')"
  echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); kernel $(uname -r)"
  echo "- load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- webaccel: $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown) ($WEBACCEL)"
  echo "- llama.cpp: $PEER_VERSION"
  echo "- settings: threads $THREADS, pp$PP, tg$TG, $REPS reps per run (+1 warmup), $ROUNDS alternating rounds"
  echo "- raw JSON: $OUT"
  echo
  python3 "$REPO/bench/cpu_bench_table.py" --min-ratio "$MIN_RATIO" "${table_args[@]}"
} | tee "$OUT/summary.md"
exit $failed
