# The wasm build of the C API for the JS package (js/): one ES5-style
# MODULARIZE factory per variant, loaded by js/src/native.ts. Included from
# the top-level CMakeLists.txt under EMSCRIPTEN only.
#
# Two variants, chosen at run time by the JS side: single-threaded (runs
# anywhere) and -pthread (needs SharedArrayBuffer: cross-origin isolation in
# browsers). -pthread changes how every object is compiled, so each variant
# is its own build tree (presets wasm and wasm-mt).
#
# Not EXPORT_ES6: this emscripten's (3.1.6) ES6 output calls require() and
# __dirname in Node, which ES modules lack, and its pthread worker imports the
# ES6 glue the same way. The classic factory runs in Node (require), in
# workers (importScripts / eval) and on pages.
option(WEBACCEL_WASM_THREADS "Build the wasm module with pthreads" OFF)

if(WEBACCEL_WASM_THREADS)
  set(WA_WASM_NAME webaccel-mt)
  target_compile_options(webaccel PUBLIC -pthread)
else()
  set(WA_WASM_NAME webaccel-st)
endif()

# The relaxed-SIMD variant of a wasm executable target: the SIMD128 kernels
# compiled again with -mrelaxed-simd (src/backends/cpu/kernels_wasm_relaxed.cpp,
# Isa::wasm_relaxed, chosen by detect_isa), and after the link the
# placeholder opcodes rewritten to relaxed SIMD's standard ones
# (scripts/wasm_relaxed_patch.mjs: fails the build where the module does
# not decode, holds other pre-standard opcodes, or has a placeholder outside
# the relaxed kernels). Everything else is the same library as the baseline.
find_program(WA_NODE node REQUIRED)
# Compiled once per tree, linked into every relaxed target.
add_library(webaccel_relaxed_kernels OBJECT src/backends/cpu/kernels_wasm_relaxed.cpp)
target_compile_options(webaccel_relaxed_kernels PRIVATE ${WA_WARNINGS} -msimd128 -mrelaxed-simd)
target_link_libraries(webaccel_relaxed_kernels PRIVATE webaccel)
function(wa_relaxed_variant target)
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:webaccel_relaxed_kernels>)
  # Symbols name the functions that hold placeholders (checked against the
  # relaxed kernels' anonymous namespace); the map is written beside the .js.
  target_link_options(${target} PRIVATE --emit-symbol-map)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${WA_NODE} ${PROJECT_SOURCE_DIR}/scripts/wasm_relaxed_patch.mjs patch
            $<TARGET_FILE_DIR:${target}>/$<TARGET_FILE_BASE_NAME:${target}>.wasm
            $<TARGET_FILE_DIR:${target}>/$<TARGET_FILE_BASE_NAME:${target}>.wasm
            --symbols $<TARGET_FILE:${target}>.symbols --functions "(^|[ *&(])wa::cpu::detail::relaxed_simd::"
    VERBATIM)
endfunction()

add_executable(webaccel_wasm src/api/wasm/entry.cpp)
set_target_properties(webaccel_wasm PROPERTIES OUTPUT_NAME ${WA_WASM_NAME} SUFFIX ".js"
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
target_compile_options(webaccel_wasm PRIVATE ${WA_WARNINGS})
# --whole-archive: the C API's EMSCRIPTEN_KEEPALIVE functions live in the
# static library and nothing in the entry file references them.
target_link_libraries(webaccel_wasm PRIVATE -Wl,--whole-archive webaccel -Wl,--no-whole-archive)
# Link options of every module of this build (the product's and the tests').
set(WA_WASM_COMMON_LINK
  -sENVIRONMENT=web,worker,node
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=33554432 -sMAXIMUM_MEMORY=4294967296
  -sEXIT_RUNTIME=0 -sINVOKE_RUN=0 -sFILESYSTEM=0
  "-sEXPORTED_RUNTIME_METHODS=['UTF8ToString']"
)
# --emit-symbol-map: dist/<name>.js.symbols (not shipped) names the wasm
# functions by index, so a CPU profile of the release build can be read
# (bench/webgpu/cpuprofile_summary.mjs); the module itself is unchanged.
set(WA_WASM_LINK -sMODULARIZE=1 ${WA_WASM_COMMON_LINK} -sEXPORTED_FUNCTIONS=_main --emit-symbol-map)
if(WEBACCEL_WASM_THREADS)
  # The pool is started before the module resolves, so the engine's threads
  # (pthread_create cannot wait for a new worker while the caller blocks) come
  # from it; the JS side passes Module.waPoolSize = the thread count it wants.
  # -Wno-pthreads-mem-growth: growth makes emscripten's own JS heap access
  # check the buffer each time; our JS builds views from wasmMemory.buffer
  # per access, and none of the hot loops are in JS.
  list(APPEND WA_WASM_LINK -pthread "-sPTHREAD_POOL_SIZE=Module['waPoolSize']||1" -sPTHREAD_POOL_SIZE_STRICT=0
       -Wno-pthreads-mem-growth)
endif()
target_link_options(webaccel_wasm PRIVATE ${WA_WASM_LINK} -sEXPORT_NAME=createWebAccelModule)
# The baseline module must hold no relaxed-SIMD (nor pre-standard) opcode:
# it is what engines without relaxed SIMD (Safari) load.
add_custom_command(TARGET webaccel_wasm POST_BUILD
  COMMAND ${WA_NODE} ${PROJECT_SOURCE_DIR}/scripts/wasm_relaxed_patch.mjs check ${CMAKE_BINARY_DIR}/dist/${WA_WASM_NAME}.wasm
  VERBATIM)

# The same module with the relaxed-SIMD kernels (webaccel-relaxed-{st,mt}),
# which the JS side loads where the engine passes its relaxed-SIMD probe
# (js/src/capabilities.ts). Its own factory name: a page may load both.
add_executable(webaccel_wasm_relaxed src/api/wasm/entry.cpp)
string(REPLACE "webaccel-" "webaccel-relaxed-" WA_WASM_RELAXED_NAME ${WA_WASM_NAME})
set_target_properties(webaccel_wasm_relaxed PROPERTIES OUTPUT_NAME ${WA_WASM_RELAXED_NAME} SUFFIX ".js"
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
target_compile_options(webaccel_wasm_relaxed PRIVATE ${WA_WARNINGS})
target_link_libraries(webaccel_wasm_relaxed PRIVATE -Wl,--whole-archive webaccel -Wl,--no-whole-archive)
target_link_options(webaccel_wasm_relaxed PRIVATE ${WA_WASM_LINK} -sEXPORT_NAME=createWebAccelRelaxedModule)
wa_relaxed_variant(webaccel_wasm_relaxed)

# The WebGPU backend-ops test module (tests/webgpu/backend_ops.cpp, run by
# js/test/webgpu_ops.test.mjs and tests/browser/webgpu_ops.test.mjs through
# tests/webgpu/harness.mjs). Single-threaded build only; it stays in
# build/wasm-st/dist, outside the package. No --whole-archive: it links only
# what the cases use.
if(NOT WEBACCEL_WASM_THREADS)
  add_executable(webaccel_gpu_ops ${PROJECT_SOURCE_DIR}/tests/webgpu/backend_ops.cpp)
  set_target_properties(webaccel_gpu_ops PROPERTIES OUTPUT_NAME webaccel-gpu-ops SUFFIX ".js"
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
  target_compile_options(webaccel_gpu_ops PRIVATE ${WA_WARNINGS})
  target_link_libraries(webaccel_gpu_ops PRIVATE webaccel)
  target_link_options(webaccel_gpu_ops PRIVATE -sMODULARIZE=1 -sEXPORT_NAME=createWebAccelGpuOpsModule
    ${WA_WASM_COMMON_LINK} --no-entry -sEXPORTED_FUNCTIONS=_malloc,_free)
  # The glue is CommonJS; Node must not take it for an ES module.
  file(WRITE ${CMAKE_BINARY_DIR}/dist/package.json "{\"type\": \"commonjs\"}\n")
endif()
