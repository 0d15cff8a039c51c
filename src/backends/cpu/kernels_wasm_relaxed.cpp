// The relaxed-SIMD variant of the wasm SIMD128 kernels: the same file
// compiled with -mrelaxed-simd and WA_WASM_RELAXED (its q4_0 kernels use
// i16x8.relaxed_dot_i8x16_i7x16_s; see "Relaxed SIMD" there), as the table
// kWasmRelaxedKernels (Isa::wasm_relaxed). Not part of the library: only the
// relaxed modules link it (cmake/wasm.cmake), and their post-link step
// rewrites the placeholder opcode (scripts/wasm_relaxed_patch.mjs). A module
// that holds it validates only where the engine has relaxed SIMD; the JS
// side probes for that and loads the baseline module elsewhere.
#if defined(__wasm_relaxed_simd__)
#define WA_WASM_RELAXED 1
#include "backends/cpu/kernels_wasm_simd128.cpp"
#endif
