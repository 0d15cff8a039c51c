// CPU compute kernels: the contract between the CPU backend (which owns graph
// execution, threads and memory) and the per-ISA kernel files.
//
// Naming follows XNNPACK: <dtype>_<op>__<isa>, a generic (scalar) version plus
// per-ISA files (kernels_avx2.cpp, kernels_avx512.cpp, kernels_wasm_simd128.cpp),
// each compiled with its own target flags. The ISA is chosen once at run time
// from CPUID (or forced, for tests and benchmarks, by force_isa / the
// WEBACCEL_ISA environment variable: scalar|avx2|avx512|avx512_vnni; the
// wasm build has scalar|wasm_simd128, and wasm_relaxed in its relaxed-SIMD
// modules, chosen from JS by wa_set_isa).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace wa::cpu {

// avx512_vnni: the avx512 kernels plus an AVX512-VNNI (vpdpbusd) int8 GEMM.
// wasm_relaxed: the wasm_simd128 kernels with relaxed-SIMD q4_0 dot products
// (only in the relaxed modules, which load where the engine has relaxed SIMD).
enum class Isa { scalar, avx2, avx512, avx512_vnni, wasm_simd128, wasm_relaxed };
// Every ISA, for code that looks one up by name or tries each (the one list:
// a copy that missed avx512_vnni once refused to restore it by name).
inline constexpr Isa kAllIsas[] = {Isa::scalar,      Isa::avx2,         Isa::avx512,
                                   Isa::avx512_vnni, Isa::wasm_simd128, Isa::wasm_relaxed};

const char* isa_name(Isa isa);
// The best ISA this CPU and build support.
Isa detect_isa();
// The ISA kernels use now: WEBACCEL_ISA if set and supported, else detect_isa().
Isa active_isa();
// Force an ISA (tests/benchmarks). Returns false if the CPU or build lacks it.
bool force_isa(Isa isa);
bool isa_supported(Isa isa);

// Y[m][n] = sum_k X[m][k] * W[n][k]   (ggml's mul_mat with W as src0)
//   W: n rows of k weights in `wtype`, row i at w + i * w_row_stride bytes
//      (rows need only their element's alignment: 4 bytes f32, 2 otherwise)
//   X: m rows of k f32, row j at x + j * x_row_stride floats
//   Y: m rows of n f32, row j at y + j * y_row_stride floats
// k must be a multiple of the type's block size.
struct MatmulProblem {
  DType wtype;
  const void* w;
  size_t w_row_stride;
  const float* x;
  int64_t x_row_stride;
  float* y;
  int64_t y_row_stride;
  int64_t m, n, k;
};

// Whether there is a kernel for this weight type: f32, f16, q8_0, q4_0 (own
// prompt GEMMs), and q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K (row dots
// against 8-bit activation blocks; see kernels_impl.h).
bool matmul_supports(DType wtype);
// Whether the active ISA runs this weight type with its own SIMD kernel
// (false: the scalar reference does, e.g. a row-dot type on wasm SIMD128).
bool matmul_has_simd(DType wtype);
// Bytes of scratch matmul_prepare needs (activations converted to the
// weight's dot-product type, e.g. 8-bit blocks for q4_0/q8_0 weights; 0 for
// f32/f16, which read X directly). Valid for every ISA. Any alignment works;
// 64-byte alignment avoids split cache lines.
size_t matmul_workspace_bytes(DType wtype, int64_t m, int64_t k);
// Phase 1, run by every thread (ith of nth), followed by a barrier: convert X
// into the workspace. Threads split the work between them.
void matmul_prepare(const MatmulProblem& p, void* workspace, int ith, int nth);
// Phase 2, run by every thread: compute thread ith's share of Y.
//
// Both phases split work by (m, n, k, nth) only, and every Y element is
// computed by one thread in a fixed order, so Y is bit-identical for any nth
// (and any tile position) on a given ISA. nth may exceed the available work:
// surplus threads return at once. Do not change the ISA (force_isa) between
// the two phases of one problem: the workspace layout is per ISA.
// q4_0/q8_0 round X to 8 bits per element (symmetric, per 32 values, f32
// scale), like llama.cpp's q8_0 activations, so they are not exact to f32;
// q4_1/q5_0/q5_1 likewise (with the block's sum), the k-quants per 256
// values (q8_K).
// m == 1 is the decode path (matvec, rows of W split across threads).
void matmul_compute(const MatmulProblem& p, const void* workspace, int ith, int nth);

// q4_0x4 (kernels_impl.h): q4_0 weights with 4 rows interleaved per block,
// in the same bytes. Whether the active ISA has its own kernels for it (the
// wasm ones); elsewhere the scalar reference runs it, slowly, so only repack
// where this is true.
bool matmul_prefers_q4_0x4();
// Rewrites n q4_0 rows of k weights (row j at w + j * row_stride) as q4_0x4,
// in place. Returns false and leaves the rows as they were when a block
// scale is infinite or NaN (the q4_0x4 kernels assume finite scales).
bool repack_q4_0x4(void* w, size_t row_stride, int64_t n, int64_t k);
// Row j of q4_0x4 weights (n rows) as k floats: get_rows on a repacked table.
void dequantize_row_q4_0x4(const void* w, size_t row_stride, int64_t n, int64_t j, float* y, int64_t k);

// Vector primitives for the other ops (attention, norms), dispatched per ISA.
float dot_f32(const float* a, const float* b, int64_t n);
float dot_f16_f32(const uint16_t* a, const float* b, int64_t n);
void axpy_f32(float* y, float a, const float* x, int64_t n);        // y += a * x
void axpy_f16_f32(float* y, float a, const uint16_t* x, int64_t n); // y += a * x
void scale_f32(float* y, float a, int64_t n);                      // y *= a

// Row primitives of the elementwise ops (norms, residual adds, gated FFN).
double sum_squares_f32(const float* x, int64_t n);                 // sum x^2, accumulated in double
void scale_mul_f32(float* y, const float* x, float s, const float* w, int64_t n);  // y = (x * s) * w; w null: y = x * s
void add_f32(float* y, const float* a, const float* b, int64_t n);  // y = a + b
void mul_f32(float* y, const float* a, const float* b, int64_t n);  // y = a * b
void swiglu_f32(float* y, const float* g, const float* u, int64_t n);  // y = silu(g) * u; u null: y = silu(g)
// s = e^(s - shift) in place (a softmax's numerators); returns their sum, accumulated in double.
double exp_shifted_f32(float* s, int64_t n, float shift);

}  // namespace wa::cpu
