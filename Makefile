# Front door. `make run` and `make test` set everything up on a fresh Debian machine.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_DEPS := cmake ninja-build g++ make
TEST_DEPS := $(BUILD_DEPS) libgtest-dev
NATIVE := build/native
WEBACCEL := $(NATIVE)/bin/webaccel
DEFAULT_MODEL := models/default.gguf
PRESET ?= native-release
# The shared test material (models, vocabularies), beside the checkout by default.
WA_SHARED ?= $(abspath ../shared)
WASM_DIST := js/dist/wasm

.PHONY: all deps build run test test-native test-debug test-js test-wasm-kernels test-browser serve wasm wasm-tiles bench corpus clean

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
	@$(MAKE) --no-print-directory test-js PRESET=native-ci
	@$(MAKE) --no-print-directory test-wasm-kernels PRESET=native-ci
	@$(MAKE) --no-print-directory test-browser PRESET=native-ci

# The wasm module in two builds (single-threaded; pthreads), each also as its
# relaxed-SIMD variant (webaccel-relaxed-*: the same library plus the relaxed
# kernels, opcodes rewritten after the link by scripts/wasm_relaxed_patch.mjs),
# and the TypeScript package, into js/dist. emscripten's JS tools need
# Debian's Node modules.
wasm:
	@scripts/install-deps.sh emscripten
	@export NODE_PATH=/usr/share/nodejs; for p in wasm wasm-mt; do \
	  cmake --preset $$p >/dev/null && cmake --build --preset $$p -j $(JOBS) || exit 1; done
	@cd js && { test -x node_modules/.bin/tsc -a -d node_modules/webgpu || npm ci --no-audit --no-fund; } && node_modules/.bin/tsc -p tsconfig.json
	@mkdir -p $(WASM_DIST) && cp build/wasm-st/dist/webaccel-st.* build/wasm-mt/dist/webaccel-mt.* \
	  build/wasm-st/dist/webaccel-relaxed-st.* build/wasm-mt/dist/webaccel-relaxed-mt.* $(WASM_DIST)/
	@# The emscripten glue is CommonJS inside an ES-module package (see cmake/wasm.cmake).
	@echo '{"type": "commonjs"}' > $(WASM_DIST)/package.json

# WebGPU without a GPU: Dawn (js/node_modules/webgpu) on the SwiftShader
# Vulkan driver that Debian's chromium package ships. Set VK_ICD_FILENAMES
# (or VK_DRIVER_FILES) to run on a real GPU instead.
VK_ICD_FILENAMES ?= /usr/lib/chromium/vk_swiftshader_icd.json

# The JS API on the wasm backend under Node (node:test), and the WebGPU
# backend ops on Dawn. The native CLI makes the fixtures (stories260K
# converted to GGUF) and the reference logits.
test-js: wasm
	@# WebGPU tests: Dawn (npm webgpu) needs the Vulkan loader; SwiftShader comes with chromium.
	@scripts/install-deps.sh libvulkan1 chromium
	@cd js && { test -d node_modules/webgpu || npm ci --no-audit --no-fund; }
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS) --target webaccel_cli
	@cd js && WEBACCEL_CLI=$(abspath $(WEBACCEL)) WA_SHARED=$(WA_SHARED) VK_ICD_FILENAMES=$(VK_ICD_FILENAMES) \
	  node --test test/*.test.mjs

# The kernel and backend-ops GoogleTest suites compiled to wasm (GoogleTest
# from Debian's /usr/src/googletest, built with emcc in the wasm build trees)
# and run under Node, single-threaded and pthreads builds: every SIMD128
# kernel against the scalar and float64 references, as natively for x86.
# --no-experimental-fetch: this emscripten's Node loader would fetch() a path.
# The relaxed-SIMD suites (single-threaded build: the relaxed kernels beside
# the SIMD128 and scalar ones) need relaxed SIMD, behind a flag on Node 20
# (on by default from Node 22, where the flag may be gone).
WASM_NODE := node --no-experimental-fetch
WASM_RELAXED_NODE = $(WASM_NODE) $(shell node --experimental-wasm-relaxed-simd -e 0 >/dev/null 2>&1 && echo --experimental-wasm-relaxed-simd)
test-wasm-kernels:
	@scripts/install-deps.sh emscripten libgtest-dev
	@export NODE_PATH=/usr/share/nodejs; for p in wasm wasm-mt; do \
	  cmake --preset $$p >/dev/null && cmake --build --preset $$p -j $(JOBS) --target webaccel_kernel_tests || exit 1; done
	@export NODE_PATH=/usr/share/nodejs; cmake --build --preset wasm -j $(JOBS) --target webaccel_kernel_tests_relaxed
	@$(WASM_NODE) build/wasm-st/bin/webaccel_kernel_tests.js
	@$(WASM_NODE) build/wasm-mt/bin/webaccel_kernel_tests.js
	@# The relaxed binary's scalar and SIMD128 cases are the st binary's: only its own run.
	@$(WASM_RELAXED_NODE) build/wasm-st/bin/webaccel_kernel_tests_relaxed.js --gtest_filter='CpuKernels.*:BackendOps.*:*wasm_relaxed*'
	@cmake --preset $(PRESET) >/dev/null && cmake --build --preset $(PRESET) -j $(JOBS) --target webaccel_cli
	@tests/cli/run_quality_wasm_test.sh $(WEBACCEL)

# The register-tile measurement of the SIMD128 and relaxed-SIMD prompt GEMMs (bench/wasm_gemm_tiles.cpp).
wasm-tiles:
	@scripts/install-deps.sh emscripten
	@export NODE_PATH=/usr/share/nodejs; cmake --preset wasm >/dev/null && \
	  cmake --build --preset wasm -j $(JOBS) --target wasm_gemm_tiles wasm_gemm_tiles_relaxed
	@$(WASM_NODE) build/wasm-st/bin/wasm_gemm_tiles.js
	@$(WASM_RELAXED_NODE) build/wasm-st/bin/wasm_gemm_tiles_relaxed.js

# The package and the demo page (web/) in headless Chromium (Debian's; never a
# downloaded browser), both wasm builds; the WebGPU backend ops on Chromium's
# SwiftShader adapter.
test-browser: wasm
	@scripts/install-deps.sh chromium
	@cd js && { test -d node_modules/playwright-core || npm ci --no-audit --no-fund; }
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS) --target webaccel_cli
	@WEBACCEL_CLI=$(abspath $(WEBACCEL)) WA_SHARED=$(WA_SHARED) node --test tests/browser/*.test.mjs

# The demo page at http://localhost:$(PORT)/web/, cross-origin isolated (threads work).
PORT ?= 8080
serve: wasm
	@PORT=$(PORT) node scripts/serve.mjs

test-native:
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)
	@ctest --test-dir build/native --output-on-failure -j $(JOBS)
	@tests/cli/run_cli_tests.sh $(WEBACCEL)
	@tests/cli/run_adaptive_tests.sh $(WEBACCEL)
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
