#!/usr/bin/env bash
# There, on the GPU machine: builds packed by make_ab_dist.sh compared in
# whole decode steps (GPU ms per step, device_tune.sh), alternating build by
# build in ROUNDS rounds so that drift of the machine hits all alike, then
# each build's median per type and shape. Makes the synth files it lacks
# first (ensure_synth.sh).
#
# usage (from the repository root, on the GPU machine):
#   DISTS="base new" TYPES="q4_0 q3_K" ROUNDS=3 bash bench/webgpu/device_ab.sh
# env: DISTS (names of carried .cache/dist-NAME trees, required), TYPES
#      (default q4_0), ROUNDS (default 3), MODEL (default 7b), TUNINGS, CTX,
#      SKIP_TIMES (passed to device_tune.sh), WORK (default /tmp/webaccel-gpu).
# Prints one line per run and a table of medians; writes $OUT/ab.txt.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export WORK=${WORK:-/tmp/webaccel-gpu}
OUT=${OUT:-$ROOT/.cache/device-out}
MODEL=${MODEL:-7b}
TYPES=${TYPES:-q4_0}
mkdir -p "$OUT"
[ -n "${DISTS:-}" ] || { echo "DISTS is required (names of .cache/dist-NAME trees)" >&2; exit 2; }
for d in $DISTS; do
  [ -f "$ROOT/.cache/dist-$d/index.js" ] || { echo "no .cache/dist-$d (make_ab_dist.sh, and carry it)" >&2; exit 2; }
done
bash "$HERE/ensure_synth.sh" "$MODEL" $TYPES || exit 1
log=$OUT/ab.txt
: >"$log"
for ((r = 1; r <= ${ROUNDS:-3}; r++)); do
  for d in $DISTS; do
    # device_tune.sh prints "<type> <shape> tg128 [...] step_ms <ms> ..."
    WEBACCEL_DIST="$ROOT/.cache/dist-$d" OUT="$WORK/tune-out" MODEL=$MODEL TYPES="$TYPES" \
      bash "$HERE/device_tune.sh" | sed "s/^/$d round$r /" | tee -a "$log"
  done
done
python3 - "$log" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if "step_ms" in f and f[f.index("step_ms") + 1] != "None":
        runs[(f[0], f[2], f[3])].append(float(f[f.index("step_ms") + 1]))
print("\n| build | type | shape | GPU ms per step (rounds) | median |\n| --- | --- | --- | --- | ---: |")
for (d, t, s), v in runs.items():
    print(f"| {d} | {t} | {s} | {' / '.join(f'{x:.3f}' for x in v)} | {statistics.median(v):.3f} |")
EOF
