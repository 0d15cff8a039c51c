#!/usr/bin/env bash
# Our native build against our wasm build under Node, same model files, same
# test definitions (webaccel bench / bench/wasm_bench.mjs), at 1 and 2
# threads, rounds alternating the builds so that machine load hits both.
# Prints every row (markdown) and the load average before each round.
#
#   make build wasm
#   bench/run_wasm_vs_native.sh [-r REPS] [-k ROUNDS] MODEL.gguf...
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3
rounds=2
while getopts "r:k:" opt; do
  case $opt in
    r) reps=$OPTARG ;;
    k) rounds=$OPTARG ;;
    *) echo "usage: $0 [-r REPS] [-k ROUNDS] MODEL.gguf..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-r REPS] [-k ROUNDS] MODEL.gguf..." >&2; exit 2; }
cli=build/native/bin/webaccel
[ -x "$cli" ] && [ -f js/dist/wasm/webaccel-st.wasm ] || { echo "$0: run 'make build wasm' first" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cpus, node $(node --version), commit $(git rev-parse --short HEAD)"
for ((k = 1; k <= rounds; ++k)); do
  for model in "$@"; do
    for t in 1 2; do
      echo "# round $k, load: $(cut -d' ' -f1-3 /proc/loadavg)"
      "$cli" bench -m "$model" -p 512 -n 128 -r "$reps" -t "$t" | grep -E '^\| .*(pp|tg)[0-9]'
      node bench/wasm_bench.mjs -m "$model" -p 512 -n 128 -r "$reps" -t "$t" | grep -E '^\| .*(pp|tg)[0-9]'
    done
  done
done
