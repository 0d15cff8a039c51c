#!/usr/bin/env bash
# QUALITY-story-large.md on the GPU machine. The story-large model's 126.6 MB
# f32 GGUF cannot travel there in one command (the device's 64 MiB limit on
# what a command carries), so the machine gets it one of two ways:
#  - this checkout's model, in pieces: its f16 parts (.cache/models/large/,
#    61 MB, what scripts/fetch_or_train_models.sh builds the GGUF from) are
#    carried over three commands, each `stage` copying what it carried to
#    /tmp/story-large-parts (the machine must stay warm between them: it goes
#    back 30 s after a command ends), and `start` rebuilds the same GGUF
#    from them (the report's sha256 says so) — no training, and the weights
#    stay the ones tests/data/large_ref.bin was made from;
#  - or retrained from the recipe when no parts were staged
#    (scripts/make_corpus.sh --tokens, training/device_train.sh large with
#    the recorded step count, convert: about 8 minutes more; new weights).
# Then device_quality.sh runs on it. The whole job takes longer than one
# device command may run (about 45 s per report row), so it runs in the
# background and later commands poll it:
#
#   run(command="bash bench/webgpu/device_story_large.sh stage",
#       carry=[".cache/gpu-bundle", "js/dist", "build/wasm-st/bin/wasm_model_bench.js",
#              "build/wasm-st/bin/wasm_model_bench.wasm", ".cache/vocab"])   # starts the CLI build
#   run(command="bash bench/webgpu/device_story_large.sh stage",
#       carry=[".cache/models/large/model.f16bin.part00", ".cache/models/large/model.f16bin.part01",
#              ".cache/models/large/model.f16bin.part02"])
#   run(command="export OUT; WEBACCEL_COMMIT=<rev> bash bench/webgpu/device_story_large.sh start -- <quality_report args>",
#       carry=[".cache/models/large/model.f16bin.part03", ".cache/models/large/summary.json", "js/dist",
#              "build/wasm-st/bin/wasm_model_bench.js", "build/wasm-st/bin/wasm_model_bench.wasm", ".cache/vocab"])
#   run(command="export OUT; bash bench/webgpu/device_story_large.sh wait")   # again until it says done
#
# (Without the first three calls' parts: one `start` call with the first
# call's carry list retrains.)
#
# Each `wait` returns within 9.5 minutes; call it again at once (the machine
# goes back 30 s after a command ends, and everything with it). When the job
# is done, `wait` copies into $OUT: QUALITY.md and logs.tar.gz, and after a
# retraining also the model's f16 parts
# (model.f16bin.part00-03: put them and ref.bin/summary.json in
# .cache/models/large/ and run scripts/fetch_or_train_models.sh to have the
# same model here), ref.bin and summary.json (8 files, the device's limit). .cache/vocab holds a copy of
# ../shared/models/vocab/ggml-vocab-llama-spm.gguf (../shared does not travel).
# GPU training is not bitwise deterministic: the weights differ from any
# earlier run's, so tests/data/large_ref.bin must be replaced by the returned
# ref.bin with them (MODELS.md).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
J=/tmp/story-large-job
PARTS=/tmp/story-large-parts
WORK=/tmp/webaccel-gpu
cd "$REPO" || exit 1
# The native CLI, built once per machine (`stage` starts it, the job waits
# for it under the same lock).
build_cli() {
  mkdir -p "$WORK"
  local gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  flock "$WORK/cli.lock" bash -c 'cmake -S "$1" -B "$2/build" "${@:3}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF \
    -DWEBACCEL_WERROR=OFF >/dev/null && cmake --build "$2/build" -j "$(nproc)" --target webaccel_cli >"$2/cli_build.log" 2>&1' \
    _ "$REPO" "$WORK" "${gen[@]}"
}
case "${1:-}" in
  stage)
    mkdir -p "$PARTS"
    cp .cache/models/large/model.f16bin.part* .cache/models/large/summary.json "$PARTS/" 2>/dev/null
    # (and the bundle, for a later command that does not carry it again)
    [ -d .cache/gpu-bundle ] && { rm -rf /tmp/gpu-bundle; cp -r .cache/gpu-bundle /tmp/gpu-bundle; }
    ls -l "$PARTS"
    [ -e "$WORK/cli.started" ] || { mkdir -p "$WORK"; touch "$WORK/cli.started"
      (export -f build_cli; REPO=$REPO WORK=$WORK setsid nohup bash -c build_cli >/dev/null 2>&1 < /dev/null &); echo "CLI build started"; }
    exit 0 ;;
  start)
    shift; [ "${1:-}" = -- ] && shift
    [ -f .cache/vocab/ggml-vocab-llama-spm.gguf ] || { echo "carry .cache/vocab (a copy of the llama-spm vocabulary)"; exit 2; }
    rm -rf "$J"; mkdir -p "$J"
    [ -f .cache/models/large/model.f16bin.part03 ] && bash "$0" stage > /dev/null
    printf '%q ' "$@" > "$J/args"
    WEBACCEL_COMMIT=${WEBACCEL_COMMIT:-?} setsid nohup bash "$0" job > /dev/null 2>&1 < /dev/null &
    sleep 5; cat "$J/log" 2>/dev/null; echo "started: call wait"; exit 0 ;;
  job)
    {
      date -u
      mkdir -p "$J/train"
      [ -d .cache/gpu-bundle ] || export GPU_BUNDLE=/tmp/gpu-bundle
      PY=/opt/torch/.venv/bin/python3; [ -x "$PY" ] || PY=python3
      if [ -f "$PARTS/model.f16bin.part03" ] && [ -f "$PARTS/summary.json" ]; then
        build_cli; echo "cli build: $?"
        echo "model: the staged parts (no training)"
        cat "$PARTS"/model.f16bin.part* > "$J/model.f16bin"
      else
        (build_cli; echo "cli build: $?") &
        bash scripts/make_corpus.sh; echo "corpus: $?"
        wait
        python3 training/prepare_data.py --corpus .cache/corpus --out .cache/corpus/tokens --webaccel "$WORK/build/bin/webaccel" \
          --vocab .cache/vocab/ggml-vocab-llama-spm.gguf --workers "$(nproc)"; echo "tokens: $?"; date -u
        mkdir -p "$J/run"; cp training/train_llama.py training/device_train.sh "$J/run/"
        ln -sfn "$REPO/.cache/corpus/tokens" "$J/run/data"
        STEPS=$(python3 -c 'import json; print(json.load(open("training/runs/large/summary.json"))["steps"])')
        STEPS=$STEPS OUT=$J/train bash "$J/run/device_train.sh" large > "$J/train.out" 2>&1; echo "train: $?"; date -u
        cat "$J"/train/model.f16bin.part* > "$J/model.f16bin"
      fi
      "$PY" training/train_llama.py expand "$J/model.f16bin" "$J/model.bin"
      mkdir -p .cache/models
      "$WORK/build/bin/webaccel" convert "$J/model.bin" .cache/models/story-large-f32.gguf --type f32 \
        --vocab .cache/vocab/ggml-vocab-llama-spm.gguf; echo "convert: $?"
      eval "set -- $(cat "$J/args")"
      OUT=$J/q WORK=$WORK WEBACCEL_COMMIT=$WEBACCEL_COMMIT bash "$HERE/device_quality.sh" .cache/models/story-large-f32.gguf "$@"
      echo "quality: $?"; date -u
    } > "$J/log" 2>&1
    touch "$J/done" ;;
  wait)
    OUT=${OUT:?set OUT}
    for _ in $(seq 110); do [ -f "$J/done" ] && break; sleep 5; done
    grep -v '^  ' "$J/log" | tail -8; tail -2 "$J/q/quality.log" 2>/dev/null
    if [ -f "$J/done" ]; then
      cp "$J"/train/model.f16bin.part0* "$J/train/ref.bin" "$J/train/summary.json" "$OUT/" 2>/dev/null
      cp "$J/q/QUALITY.md" "$OUT/" 2>/dev/null
      tar czf "$OUT/logs.tar.gz" -C "$J" log train.out q 2>/dev/null
      echo done
    else
      echo "still running: call wait again"
    fi ;;
  *) echo "usage: $0 stage | start [-- quality_report args] | wait" >&2; exit 2 ;;
esac
