#!/usr/bin/env bash
# webaccel's wasm build vs wllama 3.8.1's CPU path, both in one headless
# Chromium session (Debian's /usr/bin/chromium), and vs webaccel's native CLI,
# on the same GGUF file(s) with the same thread count: pp512 and tg128 as
# llama-bench names them, engines alternating within every repetition.
# Prints a markdown table (model | size | engine | runtime | threads | test |
# t/s median ± sd) and the ratios against the issue's goals; --json writes
# every sample with the machine, browser, load and commit.
#
# usage: bench/run_wasm_bench.sh --model M.gguf [--threads 2] [--reps 3] [--json out.json] [--quiet-load 1]
#        [--pp 512] [--tg 128] [--engines webaccel-wasm,wllama,webaccel-native] [--verbose]
#   (all arguments go to bench/wasm/run.mjs; engines also webaccel-wasm-simd128:
#   the SIMD128 module where webaccel-wasm would load the relaxed-SIMD one)
#
# Before measuring it builds what is missing or stale (make wasm, the native
# CLI), installs Chromium (Debian package) and the npm packages: playwright-core
# for js/, and wllama into bench/wasm/node_modules from bench/wasm's lock file.
#   env: JOBS (parallel build jobs, default nproc), SKIP_BUILD=1 (measure what is built)
#
# Measure on a quiet machine: wllama's thread pool spin-waits, so any other
# load on a 2-core machine ruins its decode numbers (check `uptime` first).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
JOBS=${JOBS:-$(nproc)}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  make --no-print-directory wasm JOBS="$JOBS"
  cmake --preset native-release >/dev/null
  cmake --build --preset native-release -j "$JOBS" --target webaccel_cli >/dev/null
fi
scripts/install-deps.sh chromium
(cd js && { test -d node_modules/playwright-core || npm ci --no-audit --no-fund; })
(cd bench/wasm && { test -f node_modules/@wllama/wllama/package.json || npm ci --no-audit --no-fund; })
exec node bench/wasm/run.mjs "$@"
