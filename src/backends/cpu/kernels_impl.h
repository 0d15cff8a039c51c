// Internal to the CPU kernels: the per-ISA dispatch table and the workspace
// layout that every ISA's matmul_prepare / matmul_compute agree on.
//
// Everything here is `static` or a plain declaration on purpose: this header
// is included by files compiled with -mavx2 / -mavx512f, and an `inline`
// function emitted by such a file may be the copy the linker keeps for the
// whole program, which would then execute AVX-512 on a CPU without it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backends/cpu/kernels.h"
#include "quant/blocks.h"

namespace wa::cpu::detail {

// Dot product of one weight row (nb blocks) with one activation row that
// matmul_prepare quantized (see "Row-dot types" below).
using RowDotFn = float (*)(const void* w, const void* xq, int64_t nb);

struct IsaKernels {
  Isa isa;
  void (*matmul_prepare)(const MatmulProblem& p, void* ws, int ith, int nth);
  void (*matmul_compute)(const MatmulProblem& p, const void* ws, int ith, int nth);
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f16_f32)(const uint16_t* a, const float* b, int64_t n);
  void (*axpy_f32)(float* y, float a, const float* x, int64_t n);
  void (*axpy_f16_f32)(float* y, float a, const uint16_t* x, int64_t n);
  void (*scale_f32)(float* y, float a, int64_t n);
  double (*sum_squares_f32)(const float* x, int64_t n);
  void (*scale_mul_f32)(float* y, const float* x, float s, const float* w, int64_t n);
  void (*add_f32)(float* y, const float* a, const float* b, int64_t n);
  void (*mul_f32)(float* y, const float* a, const float* b, int64_t n);
  void (*swiglu_f32)(float* y, const float* g, const float* u, int64_t n);
  double (*exp_shifted_f32)(float* s, int64_t n, float shift);
  // The row dot of a row-dot weight type, or null where this ISA has none
  // (the field itself may be null): the scalar reference runs instead.
  RowDotFn (*row_dot)(DType wtype);
  // Whether matmul_prepare / matmul_compute take q4_0x4 weights (below);
  // where not, the scalar reference runs both phases for them.
  bool q4_0x4 = false;
};

// Reference row primitives (kernels_scalar.cpp); ISAs without their own use these.
double sum_squares_f32_scalar(const float* x, int64_t n);
void scale_mul_f32_scalar(float* y, const float* x, float s, const float* w, int64_t n);
void add_f32_scalar(float* y, const float* a, const float* b, int64_t n);
void mul_f32_scalar(float* y, const float* a, const float* b, int64_t n);
void swiglu_f32_scalar(float* y, const float* g, const float* u, int64_t n);
double exp_shifted_f32_scalar(float* s, int64_t n, float shift);

extern const IsaKernels kScalarKernels;
#if defined(WA_HAVE_X86_KERNELS)
extern const IsaKernels kAvx2Kernels;
extern const IsaKernels kAvx512Kernels;
extern const IsaKernels kAvx512VnniKernels;
// 512-bit vector primitives (kernels_avx512.cpp), shared by both AVX-512 tables.
float dot_f32_512(const float* a, const float* b, int64_t n);
float dot_f16_f32_512(const uint16_t* a, const float* b, int64_t n);
void axpy_f32_512(float* y, float a, const float* x, int64_t n);
void axpy_f16_f32_512(float* y, float a, const uint16_t* x, int64_t n);
void scale_f32_512(float* y, float a, int64_t n);
#endif
#if defined(WA_HAVE_WASM_SIMD128)
extern const IsaKernels kWasmSimd128Kernels;
// Register tiles of the SIMD128 prompt GEMMs. The defaults are the measured
// best (bench/wasm_gemm_tiles.cpp); the candidates and the setter exist for
// that measurement and for the test that every tile gives the same bits.
struct WasmTile {
  int w, x;  // weight rows x activation rows (int8: x is a multiple of kPairPanelRows)
};
int wasm_int8_tile_count();
WasmTile wasm_int8_tile(int i);  // i < count; 0 is the default
int wasm_float_tile_count();
WasmTile wasm_float_tile(int i);
// Selects a candidate tile for each kind; false (and no change) if one is not a candidate.
bool set_wasm_gemm_tiles(WasmTile int8, WasmTile flt);
void get_wasm_gemm_tiles(WasmTile* int8, WasmTile* flt);
// The relaxed-SIMD variant (kernels_wasm_relaxed.cpp), linked only into the
// relaxed modules: weak, so null elsewhere. Its tiles have the same API.
extern const IsaKernels kWasmRelaxedKernels __attribute__((weak));
int relaxed_wasm_int8_tile_count() __attribute__((weak));
WasmTile relaxed_wasm_int8_tile(int i) __attribute__((weak));
int relaxed_wasm_float_tile_count() __attribute__((weak));
WasmTile relaxed_wasm_float_tile(int i) __attribute__((weak));
bool relaxed_set_wasm_gemm_tiles(WasmTile int8, WasmTile flt) __attribute__((weak));
void relaxed_get_wasm_gemm_tiles(WasmTile* int8, WasmTile* flt) __attribute__((weak));
// The tile API of one wasm kernel table (tests and the tile bench walk both).
struct WasmTileApi {
  int (*int8_count)();
  WasmTile (*int8_tile)(int i);
  int (*float_count)();
  WasmTile (*float_tile)(int i);
  bool (*set)(WasmTile int8, WasmTile flt);
  void (*get)(WasmTile* int8, WasmTile* flt);
};
// Null members where that table is not linked (wasm_relaxed outside the relaxed modules).
static inline WasmTileApi wasm_tile_api(Isa isa) {
  if (isa == Isa::wasm_relaxed) {
    return {relaxed_wasm_int8_tile_count, relaxed_wasm_int8_tile, relaxed_wasm_float_tile_count, relaxed_wasm_float_tile,
            relaxed_set_wasm_gemm_tiles, relaxed_get_wasm_gemm_tiles};
  }
  return {wasm_int8_tile_count, wasm_int8_tile, wasm_float_tile_count, wasm_float_tile, set_wasm_gemm_tiles, get_wasm_gemm_tiles};
}
#endif

// ---------------------------------------------------------------------------
// Workspace for q4_0 / q8_0 weights: X quantized to 8-bit blocks of 32.
//
// m == 1 (decode), "row" layout, nb = k / 32 blocks:
//   int8  qs[nb][32]     quantized x
//   int16 c[nb][16]      c[b][i] = -8 * (qs[b][2i] + qs[b][2i+1]): added to
//                        maddubs(u, x) it turns the unsigned q4_0 nibble u
//                        into the signed weight u - 8 (unused for q8_0)
//   float d[nb]          x scale
//
// m > 1 (prompt), "panel" layout: rows in panels of 8 (the last one padded
// with zero rows). Blocks are grouped in k chunks of kPanelChunkBlocks:
// chunk-major, then panel, then block, so one k chunk of all panels is
// contiguous (the GEMM keeps it in L2 while every W row passes over it; 512
// rows x 512 k is 320 KiB). See panel_block_offset. One block is 320 bytes:
//   int8  qs[8][8][4]    qs[g][r][j] = x[row r][4g + j]: a 32-byte register
//                        holds the same 4 k positions of all 8 rows, so a
//                        broadcast 4 weights times it gives 8 row results in
//                        8 lanes and no horizontal sums are needed
//   float d[8]           per-row scale
//   int32 c[8]           -8 * sum of the row's 32 qs (q4_0 offset, as above)
// The scalar ISA uses the row layout for every m (it is the reference); wasm
// SIMD128 uses the "pair panel" layout below for m > 1.
constexpr int kPanelRows = 8;
constexpr size_t kPanelBlockBytes = 320;
constexpr int64_t kPanelChunkBlocks = 16;

// Byte offset of block b of panel p (of `panels`, nb blocks per row) in a
// chunk-major panel layout whose blocks are block_bytes long.
static inline size_t chunked_block_offset(int64_t p, int64_t b, int64_t panels, int64_t nb, size_t block_bytes) {
  const int64_t b0 = b / kPanelChunkBlocks * kPanelChunkBlocks;
  const int64_t cbn = nb - b0 < kPanelChunkBlocks ? nb - b0 : kPanelChunkBlocks;
  return static_cast<size_t>(b0 * panels + p * cbn + (b - b0)) * block_bytes;
}
static inline size_t panel_block_offset(int64_t p, int64_t b, int64_t panels, int64_t nb) {
  return chunked_block_offset(p, b, panels, nb, kPanelBlockBytes);
}

// m > 1 on wasm SIMD128, "pair panel" layout: rows in panels of 4 (the last
// one padded with zero rows), blocks in the same chunk-major order as above
// (chunked_block_offset with kPairPanelBlockBytes). One block is 144 bytes:
//   int8  qs[16][4][2]   qs[g][r][j] = x[row r][2g + j]: one load8x8 widens
//                        k pair g of all 4 rows to i16, so i32x4.dot_i16x8
//                        with a splat weight pair gives the 4 rows' sums in 4
//                        lanes (SIMD128 has no u8 x i8 dot, hence 16 bits)
//   float d[4]           per-row scale
constexpr int kPairPanelRows = 4;
constexpr size_t kPairPanelBlockBytes = 144;

static inline size_t ws_pair_panel_bytes(int64_t m, int64_t k) {
  const int64_t panels = (m + kPairPanelRows - 1) / kPairPanelRows;
  return static_cast<size_t>(panels * (k / 32)) * kPairPanelBlockBytes;
}

// m == 1 on wasm SIMD128 with q4_0 weights, "nibble row" layout: one
// 72-byte record per block of 32, so the weight bytes need a single mask and
// no shifts or offsets (a weight byte q = lo + 16 hi holds element t in its
// low nibble and t + 16 in its high one, t < 16):
//   int16 a[16]   a[t] = 16 * qs[t]
//   int16 b[16]   b[t] = qs[t + 16] - 16 * qs[t]
//                 q * a[t] + (q & 0xf0) * b[t] = 16 * (lo * qs[t] + hi * qs[t + 16])
//   int32 c       -128 * sum(qs): with it the sum is 16 * sum((u - 8) qs)
//   float d       x scale
// qs are the same 8-bit values as the row layout's.
constexpr size_t kNibbleRowBlockBytes = 72;
static inline size_t ws_nibble_row_bytes(int64_t k) { return static_cast<size_t>(k / 32) * kNibbleRowBlockBytes; }

// The relaxed-SIMD variant of the wasm build (kernels_wasm_relaxed.cpp) uses
// i16x8.relaxed_dot_i8x16_i7x16_s: 16 products of a signed byte and a byte in
// [0, 127] summed in pairs. q4_0 weights enter as their unsigned nibbles
// (0..15, the second operand) and the -8 through the activations' sums.
//
// m > 1, "quad panel" layout: rows in panels of 4 (the last one padded with
// zero rows), blocks in the chunk-major order of chunked_block_offset with
// kQuadPanelBlockBytes. One block is 160 bytes:
//   int8  qs[8][4][4]   qs[g][r][j] = x[row r][4g + j]: one dot with a
//                       splat of 4 nibbles gives row r's products in lanes
//                       2r, 2r + 1
//   float d[4]          per-row scale
//   int32 c[4]          -8 * sum of the row's 32 qs
constexpr int kQuadPanelRows = 4;
constexpr size_t kQuadPanelBlockBytes = 160;
static inline size_t ws_quad_panel_bytes(int64_t m, int64_t k) {
  const int64_t panels = (m + kQuadPanelRows - 1) / kQuadPanelRows;
  return static_cast<size_t>(panels * (k / 32)) * kQuadPanelBlockBytes;
}
// m == 1, "byte row" layout: one 40-byte record per block:
//   int8  qs[32]; int32 c = -8 * sum(qs); float d
constexpr size_t kByteRowBlockBytes = 40;
static inline size_t ws_byte_row_bytes(int64_t k) { return static_cast<size_t>(k / 32) * kByteRowBlockBytes; }

static inline size_t ws_row_bytes(int64_t k) { return static_cast<size_t>(k / 32) * (32 + 32 + 4); }
static inline size_t ws_panel_bytes(int64_t m, int64_t k) {
  const int64_t panels = (m + kPanelRows - 1) / kPanelRows;
  return static_cast<size_t>(panels * (k / 32)) * kPanelBlockBytes;
}

// ---------------------------------------------------------------------------
// q4_0x4 weights (DType::q4_0x4): q4_0 rows repacked in place at load time
// (repack_q4_0x4, kernels.h) for the wasm decode kernels. A q4_0 matvec that
// takes 4 rows at a time reads 4 streams 1 row apart plus 4 scattered f16
// scales per block; in this layout the 4 rows are one sequential stream and
// their 4 scales one 8-byte load. Rows go in groups of 4 (rows 4g .. 4g + 3);
// a group keeps the bytes those rows have in q4_0 (4 * row_stride from row
// 4g) and holds nb = k / 32 records of 72 bytes from its start:
//   uint8 qs[4][16]   row r's block b nibbles, exactly q4_0's qs
//   f16   d[4]        row r's block b scale, finite (repack_q4_0x4 leaves a
//                     tensor with an infinite or NaN scale as q4_0)
// Rows past the last whole group (n % 4 of them) stay q4_0 rows in place.
// The size is q4_0's, so a repacked tensor needs no memory of its own.
constexpr size_t kQ4x4RecordBytes = 72;
constexpr int kQ4x4Rows = 4;

// Row j's block b of q4_0 or q4_0x4 weights (the scalar reference, get_rows
// and the prompt GEMMs' unpacking read both layouts through this).
struct Q4Block {
  const uint8_t* qs;  // 16 bytes
  f16_bits d;
};
static inline Q4Block q4_block(DType t, const void* w, size_t row_stride, int64_t n, int64_t j, int64_t b) {
  const auto* base = static_cast<const uint8_t*>(w);
  if (t == DType::q4_0x4 && j < n / kQ4x4Rows * kQ4x4Rows) {
    const uint8_t* rec = base + static_cast<size_t>(j / kQ4x4Rows) * kQ4x4Rows * row_stride +
                         static_cast<size_t>(b) * kQ4x4RecordBytes;
    const int r = static_cast<int>(j % kQ4x4Rows);
    f16_bits d;
    std::memcpy(&d, rec + 64 + 2 * r, sizeof d);
    return {rec + 16 * r, d};
  }
  const auto* blk = reinterpret_cast<const BlockQ4_0*>(base + static_cast<size_t>(j) * row_stride) + b;
  return {blk->qs, blk->d};
}

// Deterministic split of [0, n) into nth contiguous parts whose boundaries are
// multiples of `align` (except the end): depends only on (n, nth, align).
struct Range {
  int64_t begin, end;
};
static inline Range split_range(int64_t n, int ith, int nth, int64_t align) {
  const int64_t units = (n + align - 1) / align;
  const int64_t per = units / nth, extra = units % nth;
  const int64_t u0 = ith * per + (ith < extra ? ith : extra);
  const int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
  const int64_t b = u0 * align < n ? u0 * align : n;
  const int64_t e = u1 * align < n ? u1 * align : n;
  return {b, e};
}

// ---------------------------------------------------------------------------
// Row-dot types: q4_1, q5_0, q5_1 and the k-quants (q2_K .. q6_K).
//
// X rows are quantized once (matmul_prepare, the reference quantizers of
// quant/reference.cpp on every ISA) into rows of activation blocks, one row
// after another: BlockQ8_K (256 values, one f32 scale, per-16 sums) for the
// k-quants, BlockQ8Sum (32 values, f32 scale, sum) for the others. Each Y
// element is then one call of the ISA's RowDotFn over a W row and an X row,
// so every ISA computes every element in one place and the thread count
// never changes a bit.
//
// Why 256 for the k-quants: their sub-block scales are small integers under
// one f16 super-block scale, so with one activation scale per super-block
// the whole super-block's products sum exactly in integers (scale times
// integer dot, per sub-block) before a single float expression. Activation
// blocks of 32 would need a float multiply-add per sub-block (8 or 16 per
// super-block) and break the exact integer sums that make the SIMD kernels
// bit-identical to the reference. The cost is a coarser activation grid
// (one scale per 256 values instead of 32); llama.cpp makes the same choice.
static inline bool is_row_dot_type(DType t) {
  switch (t) {
    case DType::q4_1: case DType::q5_0: case DType::q5_1:
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k:
    case DType::wa_vq2: case DType::wa_vq3:
      return true;
    default:
      return false;
  }
}

// The own formats wa_vq2 / wa_vq3 (quant/vq.h) are super-blocks of 256 with
// q8_K activations too, for the same reason: exact integer sums per
// super-block, so their SIMD row dots are bit-identical to the scalar ones.
static inline bool is_k_quant(DType t) {
  return t == DType::q2_k || t == DType::q3_k || t == DType::q4_k || t == DType::q5_k || t == DType::q6_k ||
         t == DType::wa_vq2 || t == DType::wa_vq3;
}

// Bytes of one quantized X row of k values for weight type t.
static inline size_t ws_act_row_bytes(DType t, int64_t k) {
  return is_k_quant(t) ? static_cast<size_t>(k / QK_K) * sizeof(BlockQ8_K) : static_cast<size_t>(k / 32) * sizeof(BlockQ8Sum);
}

// Quantizes one X row into the row layout above (qs, c, d).
using QuantizeXRowFn = void (*)(const float* x, int64_t k, int8_t* qs, int16_t* c, float* d);

// matmul_prepare into the row layout (the scalar reference for every m, wasm
// SIMD128 for m == 1): X rows split across threads, each quantized by the
// ISA's own row quantizer.
static inline void prepare_rows(const MatmulProblem& p, void* ws, int ith, int nth, QuantizeXRowFn quantize) {
  if (p.wtype != DType::q4_0 && p.wtype != DType::q4_0x4 && p.wtype != DType::q8_0) return;
  const Range r = split_range(p.m, ith, nth, 1);
  const int64_t nb = p.k / 32;
  for (int64_t i = r.begin; i < r.end; ++i) {
    auto* base = static_cast<uint8_t*>(ws) + i * ws_row_bytes(p.k);
    quantize(p.x + i * p.x_row_stride, p.k, reinterpret_cast<int8_t*>(base), reinterpret_cast<int16_t*>(base + nb * 32),
             reinterpret_cast<float*>(base + nb * 64));
  }
}

}  // namespace wa::cpu::detail
