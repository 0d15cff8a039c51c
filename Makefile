# Front door. `make run` and `make test` set everything up on a fresh Debian machine.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_DEPS := cmake ninja-build g++ make
TEST_DEPS := $(BUILD_DEPS) libgtest-dev
NATIVE := build/native
WEBACCEL := $(NATIVE)/bin/webaccel
DEFAULT_MODEL := models/default.gguf
PRESET ?= native-release

.PHONY: all deps build run test test-native test-debug bench corpus clean

all: build

deps:
	@scripts/install-deps.sh $(BUILD_DEPS)

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

# The main job: a story from the bundled default model, on the native CLI.
run: build
	@test -f $(DEFAULT_MODEL) || { echo "make run: no bundled model at $(DEFAULT_MODEL)"; exit 1; }
	$(WEBACCEL) run -m $(DEFAULT_MODEL) -p "Once upon a time" -n 200 --temp 0.7 --seed 42

test:
	@scripts/install-deps.sh $(TEST_DEPS)
	@$(MAKE) --no-print-directory test-native PRESET=native-ci
	@$(MAKE) --no-print-directory test-debug

test-native:
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)
	@ctest --test-dir build/native --output-on-failure -j $(JOBS)
	@tests/cli/run_cli_tests.sh $(WEBACCEL)
	@tests/cli/run_quality_tests.sh $(WEBACCEL)

# Sanitizer build: the unit tests and the malformed-input tests under ASan+UBSan.
test-debug:
	@cmake --preset native-debug >/dev/null
	@cmake --build --preset native-debug -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/debug --output-on-failure -j $(JOBS)
	@WA_SANITIZED=1 tests/cli/run_malformed_tests.sh build/debug/bin/webaccel

bench: build
	@bench/run_cpu_bench.sh

# The story corpus the trained models learned from (MODELS.md), into .cache/corpus/.
corpus:
	@scripts/make_corpus.sh

clean:
	rm -rf build
