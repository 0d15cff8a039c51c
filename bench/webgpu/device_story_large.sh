#!/usr/bin/env bash
# QUALITY-story-large.md on the GPU machine, where the story-large model is
# trained first: its 126.6 MB f32 GGUF cannot travel there (the device's
# 64 MiB limit on what it carries), so the machine rebuilds it from the
# recipe (scripts/make_corpus.sh --tokens, training/device_train.sh large
# with the recorded step count, convert) and then runs device_quality.sh on
# it. The whole job takes longer than one device command may run (about 8
# minutes of corpus and training, then about 45 s per report row), so it
# runs in the background and later commands poll it:
#
#   run(command="export OUT; WEBACCEL_COMMIT=<rev> bash bench/webgpu/device_story_large.sh start -- <quality_report args>",
#       carry=[".cache/gpu-bundle", "js/dist", "build/wasm-st/bin/wasm_model_bench.js",
#              "build/wasm-st/bin/wasm_model_bench.wasm", ".cache/vocab"])
#   run(command="export OUT; bash bench/webgpu/device_story_large.sh wait")   # again until it says done
#
# Each `wait` returns within 9.5 minutes; call it again at once (the machine
# goes back 30 s after a command ends, and everything with it). When the job
# is done, `wait` copies into $OUT: QUALITY.md, the model's f16 parts
# (model.f16bin.part00-03: put them and ref.bin/summary.json in
# .cache/models/large/ and run scripts/fetch_or_train_models.sh to have the
# same model here), ref.bin, summary.json and logs.tar.gz (8 files, the
# device's limit). .cache/vocab holds a copy of
# ../shared/models/vocab/ggml-vocab-llama-spm.gguf (../shared does not travel).
# GPU training is not bitwise deterministic: the weights differ from any
# earlier run's, so tests/data/large_ref.bin must be replaced by the returned
# ref.bin with them (MODELS.md).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
J=/tmp/story-large-job
cd "$REPO" || exit 1
case "${1:-}" in
  start)
    shift; [ "${1:-}" = -- ] && shift
    [ -f .cache/vocab/ggml-vocab-llama-spm.gguf ] || { echo "carry .cache/vocab (a copy of the llama-spm vocabulary)"; exit 2; }
    rm -rf "$J"; mkdir -p "$J"
    printf '%q ' "$@" > "$J/args"
    WEBACCEL_COMMIT=${WEBACCEL_COMMIT:-?} setsid nohup bash "$0" job > /dev/null 2>&1 < /dev/null &
    sleep 5; cat "$J/log" 2>/dev/null; echo "started: call wait"; exit 0 ;;
  job)
    {
      date -u
      WORK=/tmp/webaccel-gpu; mkdir -p "$WORK" "$J/train"
      PY=/opt/torch/.venv/bin/python3; [ -x "$PY" ] || PY=python3
      gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
      (cmake -S "$REPO" -B "$WORK/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DWEBACCEL_BUILD_TESTS=OFF \
         -DWEBACCEL_WERROR=OFF >/dev/null && cmake --build "$WORK/build" -j "$(nproc)" --target webaccel_cli \
         >"$WORK/cli_build.log" 2>&1; echo "cli build: $?") &
      bash scripts/make_corpus.sh; echo "corpus: $?"
      wait
      python3 training/prepare_data.py --corpus .cache/corpus --out .cache/corpus/tokens --webaccel "$WORK/build/bin/webaccel" \
        --vocab .cache/vocab/ggml-vocab-llama-spm.gguf --workers "$(nproc)"; echo "tokens: $?"; date -u
      mkdir -p "$J/run"; cp training/train_llama.py training/device_train.sh "$J/run/"
      ln -sfn "$REPO/.cache/corpus/tokens" "$J/run/data"
      STEPS=$(python3 -c 'import json; print(json.load(open("training/runs/large/summary.json"))["steps"])')
      STEPS=$STEPS OUT=$J/train bash "$J/run/device_train.sh" large > "$J/train.out" 2>&1; echo "train: $?"; date -u
      cat "$J"/train/model.f16bin.part* > "$J/model.f16bin"
      "$PY" training/train_llama.py expand "$J/model.f16bin" "$J/model.bin"
      mkdir -p .cache/models
      "$WORK/build/bin/webaccel" convert "$J/model.bin" .cache/models/story-large-f32.gguf --type f32 \
        --vocab .cache/vocab/ggml-vocab-llama-spm.gguf; echo "convert: $?"
      eval "set -- $(cat "$J/args")"
      OUT=$J/q WEBACCEL_COMMIT=$WEBACCEL_COMMIT bash "$HERE/device_quality.sh" .cache/models/story-large-f32.gguf "$@"
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
  *) echo "usage: $0 start [-- quality_report args] | wait" >&2; exit 2 ;;
esac
