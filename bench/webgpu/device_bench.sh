#!/usr/bin/env bash
# WebGPU baselines on the GPU machine (Node + Dawn on the NVIDIA Vulkan driver),
# all in one run, written as JSON under $OUT:
#   1. the bundle (make_device_bundle.sh, carried in .cache/gpu-bundle): Vulkan
#      loader + GL dispatch libraries, Node 26, Dawn, wllama;
#   2. the native CLI (cmake, target webaccel_cli only), which makes 1B- and
#      7B-shaped q4_0 GGUF files with `webaccel synth` in $WORK;
#   3. gpu-env.mjs capability reports (with and without Dawn's f16 toggle);
#   4. probe.mjs: streaming-read GB/s and µs per dispatch (the roofline);
#   5. wllama pp512/tg128 on both files, WebGPU, with and without the toggle;
#   6. HOOK: webaccel's own WebGPU bench (bench/webgpu/webaccel-node.mjs), when
#      that file exists, on the same files with the same flags.
# Then results.json (everything, rewritten after each step, so a run cut short
# still returns what it measured), summary.md (the table) and device_bench.log.
#
# usage (from the repository root, on the GPU machine):
#   bash bench/webgpu/device_bench.sh
# with the device tool:  run(command="bash bench/webgpu/device_bench.sh", carry=[".cache/gpu-bundle"])
# env: OUT (default .cache/device-out), WORK (default /tmp/webaccel-gpu),
#      GPU_BUNDLE (default .cache/gpu-bundle), WEBACCEL_ROOT (sources to build;
#      default the checkout holding this script), DEADLINE_S (default 560: steps
#      that would not fit are skipped and say so), REPS (default 5),
#      PROBE_ARGS (extra probe.mjs arguments, e.g. --quick), WEBACCEL_CLI (a built
#      CLI: skips the build), WEBACCEL_COMMIT (recorded when ROOT is no git
#      checkout), THREADS (wllama CPU threads, default 1), FALLBACK_THREADS (wasm
#      threads when wllama falls back to CPU, default 8), MODELS (default "1b 7b"),
#      TYPES (weight types of the synth files, default q4_0; e.g. "q2_K q3_K q4_K"),
#      WLLAMA_VARIANTS / WEBACCEL_VARIANTS (which of f16 nof16 to run; default both),
#      WEBACCEL_ARGS (more webaccel-node.mjs arguments, e.g. "--sampled --stream-gpu-time"),
#      WEBACCEL_BASE_DIST (a baseline build of js/dist, relative to the repository
#      root or absolute, e.g. carried as .cache/dist-base: each webaccel step then
#      runs it first, labelled webaccel-base-*, so a change is compared with its
#      baseline on the same machine). Make it from the baseline's own `make wasm`
#      (its whole js/dist, wasm/ included): git worktree add /tmp/base REV &&
#      make -C /tmp/base wasm && cp -r /tmp/base/js/dist .cache/dist-base
set -uo pipefail
T0=$(date +%s)
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS=$(cd "$HERE/../.." && pwd)   # the checkout holding these scripts
ROOT=${WEBACCEL_ROOT:-$TOOLS}       # the sources to build
OUT=${OUT:-$TOOLS/.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
DEADLINE_S=${DEADLINE_S:-560}
REPS=${REPS:-5}
THREADS=${THREADS:-1}
MODELS=${MODELS:-1b 7b}
TYPES=${TYPES:-q4_0}
F16=enable-dawn-features=vulkan_enable_f16_on_nvidia
mkdir -p "$OUT" "$WORK/res"
LOG=$OUT/device_bench.log
: > "$LOG"
log() { echo "[device_bench +$(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG" >&2; }
left() { echo $(( DEADLINE_S - ($(date +%s) - T0) )); }
# step NAME NEEDS_S LIMIT_S CMD...: runs CMD under a time limit if NEEDS_S seconds are left
STEPS=()
step() {
  local name=$1 need=$2 limit=$3; shift 3
  local l; l=$(left)
  if [ "$l" -lt "$need" ]; then log "SKIP $name: ${l}s left, needs ${need}s"; STEPS+=("$name:skipped"); return 1; fi
  [ "$limit" -gt "$l" ] && limit=$l
  log "BEGIN $name (limit ${limit}s)"
  local t=$(date +%s) rc=0
  timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1 || rc=$?
  log "END $name rc=$rc in $(( $(date +%s) - t ))s"
  STEPS+=("$name:rc=$rc:$(( $(date +%s) - t ))s")
  return $rc
}

# --- 1. bundle ------------------------------------------------------------------
log "bundle ${GPU_BUNDLE:-$TOOLS/.cache/gpu-bundle} -> $WORK; sources $ROOT; out $OUT"
source "$HERE/device_env.sh" || exit 2
log "node $("$NODE" --version 2>&1); vulkan loader from $VULKAN_FROM; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
{
  echo "{\"date\": \"$(date -u +%FT%TZ)\", \"host\": \"$(hostname)\", \"kernel\": \"$(uname -r)\","
  echo " \"cpus\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo " \"gpu\": \"$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)\","
  echo " \"node\": \"$("$NODE" --version 2>&1)\", \"vulkan_loader\": \"$VULKAN_FROM\", \"VK_DRIVER_FILES\": \"${VK_DRIVER_FILES:-}\","
  echo " \"bundle_manifest\": \"$(head -2 "$BUNDLE/MANIFEST.txt" | tail -1)\","
  echo " \"webaccel_commit\": \"${WEBACCEL_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}\"}"
} > "$WORK/res/machine.json"

merge() { # results.json + summary.md from whatever exists so far
  "$NODE" "$HERE/summarize.mjs" --dir "$WORK/res" --steps "${STEPS[*]:-}" --json "$OUT/results.json" \
    --md "$OUT/summary.md" >>"$LOG" 2>&1 || log "summarize failed"
}

# --- 2. native CLI + models -------------------------------------------------------
CLI=${WEBACCEL_CLI:-$WORK/build/bin/webaccel}
build_cli() {
  local gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$ROOT" -B "$WORK/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF \
    -DWEBACCEL_WERROR=OFF >/dev/null && cmake --build "$WORK/build" -j "$(nproc)" --target webaccel_cli
}
synth() { # synth PRESET TYPE -> $WORK/synth-PRESET-TYPE.gguf
  local f=$WORK/synth-$1-$2.gguf
  [ -s "$f" ] || { "$CLI" synth --arch llama --preset "$1" --type "$2" "$f.tmp" && mv "$f.tmp" "$f"; }
}
export ROOT WORK
export -f build_cli
FILES=()
if [ -x "$CLI" ] || step build_cli 60 240 bash -c build_cli; then
  pids=()
  for m in $MODELS; do for t in $TYPES; do synth "$m" "$t" >>"$LOG" 2>&1 & pids+=($!); done; done
  step synth_wait 30 200 bash -c "while kill -0 ${pids[*]} 2>/dev/null; do sleep 1; done"
  wait "${pids[@]}" 2>/dev/null
  for m in $MODELS; do for t in $TYPES; do
    f=$WORK/synth-$m-$t.gguf; [ -s "$f" ] && FILES+=("$f") || log "no $f"
  done; done
  ls -la "${FILES[@]}" >>"$LOG" 2>&1
fi
merge

# --- 3. capabilities, 4. roofline probe ---------------------------------------------
step gpu_env 20 60 bash -c "'$NODE' '$TOOLS/js/test/gpu-env.mjs' > '$WORK/res/gpu-env.json'"
step gpu_env_f16 20 60 bash -c "'$NODE' '$TOOLS/js/test/gpu-env.mjs' --dawn-flag $F16 > '$WORK/res/gpu-env-f16.json'"
step probe 40 120 "$NODE" "$HERE/probe.mjs" --reps 7 ${PROBE_ARGS:-} --out "$WORK/res/probe.json"
merge

# --- 5. wllama, 6. webaccel (hook) -----------------------------------------------------
# One process per engine, variant and file, so a file that runs out of time
# costs only its own row.
tag() { basename "$1" .gguf | sed 's/^synth-//; s/-q4_0$//'; }
wllama() { # wllama VARIANT FILE NEED LIMIT
  local v=$1 f=$2 fl=(); [ "$v" = f16 ] && fl=(--dawn-flag "$F16")
  step "wllama_${v}_$(tag "$f")" "$3" "$4" "$NODE" "$HERE/wllama-node.mjs" --webgpu "${fl[@]}" --model "$f" \
    --threads "$THREADS" --reps "$REPS" --fallback-threads "$FALLBACK_THREADS" \
    --label "wllama-webgpu-$v" --out "$WORK/res/wllama-$v-$(tag "$f").json"
  merge
}
FALLBACK_THREADS=${FALLBACK_THREADS:-8}
WLLAMA_VARIANTS=${WLLAMA_VARIANTS:-f16 nof16}
WEBACCEL_VARIANTS=${WEBACCEL_VARIANTS:-f16 nof16}
[[ " $WLLAMA_VARIANTS " == *" f16 "* ]] && for f in "${FILES[@]}"; do wllama f16 "$f" 45 200; done
# ======================= HOOK: webaccel's own WebGPU backend ==========================
# bench/webgpu/webaccel-node.mjs (supplied with the backend) takes the same arguments
# as wllama-node.mjs (--webgpu [--dawn-flag F] --model FILE --reps N --label L --out J)
# and writes the same JSON shape (runs[] with results[] rows pp512/tg128, backend_used,
# model_bytes); summarize.mjs puts its rows beside wllama's.
if [ -f "$HERE/webaccel-node.mjs" ]; then
  for f in "${FILES[@]}"; do
    for v in $WEBACCEL_VARIANTS; do
      fl=(); [ $v = f16 ] && fl=(--dawn-flag "$F16")
      if [ -n "${WEBACCEL_BASE_DIST:-}" ]; then
        step "webaccel_base_${v}_$(tag "$f")" 45 200 env WEBACCEL_DIST="$(cd "$TOOLS" && realpath "$WEBACCEL_BASE_DIST")" \
          "$NODE" "$HERE/webaccel-node.mjs" --webgpu "${fl[@]}" --model "$f" --reps "$REPS" \
          --label "webaccel-base-webgpu-$v" ${WEBACCEL_ARGS:-} --out "$WORK/res/webaccel-base-$v-$(tag "$f").json"
        merge
      fi
      step "webaccel_${v}_$(tag "$f")" 45 200 "$NODE" "$HERE/webaccel-node.mjs" --webgpu "${fl[@]}" --model "$f" \
        --reps "$REPS" --label "webaccel-webgpu-$v" ${WEBACCEL_ARGS:-} --out "$WORK/res/webaccel-$v-$(tag "$f").json"
      merge
    done
  done
else
  log "HOOK: no bench/webgpu/webaccel-node.mjs yet: webaccel's WebGPU backend not measured"
fi
# =======================================================================================
# Without the toggle wllama finds no shader-f16 and runs on its wasm CPU backend
# (reduced sizes, see wllama-node.mjs).
[[ " $WLLAMA_VARIANTS " == *" nof16 "* ]] && for f in "${FILES[@]}"; do wllama nof16 "$f" 45 150; done
merge
log "done in $(( $(date +%s) - T0 ))s; steps: ${STEPS[*]:-}"
cat "$OUT/summary.md" 2>/dev/null
