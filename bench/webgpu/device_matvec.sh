#!/usr/bin/env bash
# The decode matvec kernels alone on the GPU machine (matvec_probe.mjs), next
# to the streaming-read roofline (probe.mjs), in one run. Writes
# $OUT/matvec.json and $OUT/probe.json.
#   run(command="export OUT; bash bench/webgpu/device_matvec.sh", carry=[".cache/gpu-bundle"])
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$REPO/.cache/device-out}
WORK=${WORK:-/tmp/webaccel-gpu}
mkdir -p "$OUT" "$WORK"
source "$REPO/bench/webgpu/device_env.sh" || exit 2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 120 "$NODE" "$REPO/bench/webgpu/probe.mjs" --reps 5 --sizes-mib 1024 --out "$OUT/probe.json" 2>&1 >/dev/null | grep -v "^\[probe\] stream_read 1024 MiB x.*grid=[0-9]*:" | tail -3
"$NODE" -e "const p=require('$OUT/probe.json'); console.log('stream read', p.stream_read?.gbps, 'GB/s')"
timeout 300 "$NODE" "$REPO/bench/webgpu/matvec_probe.mjs" ${MATVEC_ARGS:-} --out "$OUT/matvec.json" 2>&1 >/dev/null | sed 's/^\[matvec\] //'
