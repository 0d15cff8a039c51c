#!/usr/bin/env bash
# scripts/quality_report.sh --wasm-bench: the wasm build's speed columns
# (bench/wasm_model_bench.cpp under Node), on the bundled model, one type, one
# chunk. Run by `make test-wasm-kernels` (the stage that has emscripten).
set -uo pipefail
W=${1:?usage: run_quality_wasm_test.sh path/to/webaccel}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
M=$ROOT/models/default.gguf
. "$HERE/lib.sh"

WEBACCEL=$W bash "$ROOT/scripts/quality_report.sh" "$M" --out "$T/Q.md" --types q8_0 --calib-types "" \
  --adaptive-bpw "" --chunks 1 --no-bench --wasm-bench 2>"$T/err"; rc=$?
check "quality_report.sh --wasm-bench runs (rc $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$T/err"
check "quality_report.sh --wasm-bench: wasm speed columns measured, CPU and WebGPU columns empty" \
  grep -qE '^\| q8_0 \| .* \| - \| - \| [0-9]+\.[0-9]+ \| [0-9]+\.[0-9]+ \| - \| - \|$' "$T/Q.md"
check "quality_report.sh --wasm-bench: the original has wasm figures too" \
  grep -qE '^\| original \| .* \| [0-9]+\.[0-9]+ \| [0-9]+\.[0-9]+ \| - \| - \|$' "$T/Q.md"
check "quality_report.sh --wasm-bench: states the wasm command, ISA and threads" \
  grep -qE '^\| speed \| .*wasm: `bench/wasm_model_bench.cpp -t 1 -p 64 -n 32 -r 3` \(single-threaded build, wasm_simd128, threads 1\)' "$T/Q.md"
check "quality_report.sh without --webgpu-bench says WebGPU was not measured" \
  grep -qE '^\| speed \| .*WebGPU: not measured \(--webgpu-bench' "$T/Q.md"
finish
