// WebAssembly SIMD128 kernels (compiled with -msimd128 under emscripten).
//
// q4_0 / q8_0 use the workspace's row layout for every m, as the scalar
// reference does: X is quantized by exactly the scalar arithmetic (so the
// 8-bit activations are bit-identical), then each block's integer dot
// product is exact (i8 x i8 -> i16 products, pairwise i32 sums); blocks are
// scaled and accumulated in four f32 lanes, so results differ from the
// scalar reference only in the order of the float additions.
// f16 is widened with integer ops and one multiply by 2^112 (exact for every
// finite value, subnormals included; wasm keeps subnormals).
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <cmath>
#include <cstring>

#include "backends/cpu/kernels_impl.h"
#include "core/fp16.h"
#include "quant/blocks.h"

namespace wa::cpu::detail {
namespace {

float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// Four halves (the low or high 64 bits of 8 loaded) -> four floats.
v128_t f16x4_to_f32(v128_t u32) {
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(u32, wasm_i32x4_splat(0x8000)), 16);
  const v128_t mag = wasm_i32x4_shl(wasm_v128_and(u32, wasm_i32x4_splat(0x7fff)), 13);
  // 2^112 rebiases the exponent (15 -> 127) and turns f16 subnormals into
  // normal floats exactly.
  v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
  // Infinity and NaN: exponent all ones.
  const v128_t special = wasm_i32x4_eq(wasm_v128_and(u32, wasm_i32x4_splat(0x7c00)), wasm_i32x4_splat(0x7c00));
  f = wasm_v128_bitselect(wasm_v128_or(mag, wasm_i32x4_splat(0x7f800000)), f, special);
  return wasm_v128_or(f, sign);
}

void load_f16x8(const uint16_t* p, v128_t* lo, v128_t* hi) {
  const v128_t h = wasm_v128_load(p);
  *lo = f16x4_to_f32(wasm_u32x4_extend_low_u16x8(h));
  *hi = f16x4_to_f32(wasm_u32x4_extend_high_u16x8(h));
}

float dot_f32_simd(const float* a, const float* b, int64_t n) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float acc = hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
  for (; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

float dot_f16_f32_simd(const uint16_t* a, const float* b, int64_t n) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t lo, hi;
    load_f16x8(a + i, &lo, &hi);
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(lo, wasm_v128_load(b + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(hi, wasm_v128_load(b + i + 4)));
  }
  float acc = hsum(wasm_f32x4_add(s0, s1));
  for (; i < n; ++i) acc += fp16_to_fp32(a[i]) * b[i];
  return acc;
}

void axpy_f32_simd(float* y, float a, const float* x, int64_t n) {
  const v128_t va = wasm_f32x4_splat(a);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_f32_simd(float* y, float a, const uint16_t* x, int64_t n) {
  const v128_t va = wasm_f32x4_splat(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t lo, hi;
    load_f16x8(x + i, &lo, &hi);
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, lo)));
    wasm_v128_store(y + i + 4, wasm_f32x4_add(wasm_v128_load(y + i + 4), wasm_f32x4_mul(va, hi)));
  }
  for (; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

void scale_f32_simd(float* y, float a, int64_t n) {
  const v128_t va = wasm_f32x4_splat(a);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(y + i), va));
  for (; i < n; ++i) y[i] *= a;
}

// ---- int8 matmul (row layout, see kernels_impl.h) --------------------------

// The scalar reference's quantization, vectorized where it is exact: the
// max of |x| is order-independent; the division, reciprocal, product and
// round-to-nearest-even are the same per element.
void quantize_row(const float* x, int64_t k, int8_t* qs, int16_t* c, float* d) {
  for (int64_t b = 0; b < k / 32; ++b) {
    const float* xb = x + b * 32;
    v128_t m = wasm_f32x4_splat(0);
    for (int j = 0; j < 32; j += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(xb + j)));
    const float amax = std::fmax(std::fmax(wasm_f32x4_extract_lane(m, 0), wasm_f32x4_extract_lane(m, 1)),
                                 std::fmax(wasm_f32x4_extract_lane(m, 2), wasm_f32x4_extract_lane(m, 3)));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = db;
    const v128_t vid = wasm_f32x4_splat(id);
    for (int j = 0; j < 32; j += 16) {
      v128_t q[4];
      for (int t = 0; t < 4; ++t) {
        q[t] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j + 4 * t), vid)));
      }
      const v128_t w16a = wasm_i16x8_narrow_i32x4(q[0], q[1]);
      const v128_t w16b = wasm_i16x8_narrow_i32x4(q[2], q[3]);
      wasm_v128_store(qs + b * 32 + j, wasm_i8x16_narrow_i16x8(w16a, w16b));
    }
    for (int i = 0; i < 16; ++i) {
      c[b * 16 + i] = static_cast<int16_t>(-8 * (qs[b * 32 + 2 * i] + qs[b * 32 + 2 * i + 1]));
    }
  }
}

struct RowView {
  const int8_t* qs;
  const float* d;
};

RowView row_view(const void* ws, int64_t row, int64_t k) {
  const auto* base = static_cast<const uint8_t*>(ws) + row * ws_row_bytes(k);
  return {reinterpret_cast<const int8_t*>(base), reinterpret_cast<const float*>(base + (k / 32) * 64)};
}

// Exact integer dot product of 16 signed bytes, as four i32 lanes.
v128_t dot_i8x16(v128_t a, v128_t b) {
  const v128_t lo = wasm_i16x8_extmul_low_i8x16(a, b);
  const v128_t hi = wasm_i16x8_extmul_high_i8x16(a, b);
  return wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(lo), wasm_i32x4_extadd_pairwise_i16x8(hi));
}

float dot_q8_0(const BlockQ8_0* w, const RowView& x, int64_t nb) {
  v128_t acc = wasm_f32x4_splat(0);
  for (int64_t b = 0; b < nb; ++b) {
    const v128_t s = wasm_i32x4_add(dot_i8x16(wasm_v128_load(w[b].qs), wasm_v128_load(x.qs + b * 32)),
                                    dot_i8x16(wasm_v128_load(w[b].qs + 16), wasm_v128_load(x.qs + b * 32 + 16)));
    const float scale = x.d[b] * fp16_to_fp32(w[b].d);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(scale)));
  }
  return hsum(acc);
}

float dot_q4_0(const BlockQ4_0* w, const RowView& x, int64_t nb) {
  v128_t acc = wasm_f32x4_splat(0);
  const v128_t low4 = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
  for (int64_t b = 0; b < nb; ++b) {
    const v128_t packed = wasm_v128_load(w[b].qs);
    // Element t is the low nibble of byte t, element t + 16 the high one.
    const v128_t lo = wasm_i8x16_sub(wasm_v128_and(packed, low4), eight);
    const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(packed, 4), eight);
    const v128_t s = wasm_i32x4_add(dot_i8x16(lo, wasm_v128_load(x.qs + b * 32)),
                                    dot_i8x16(hi, wasm_v128_load(x.qs + b * 32 + 16)));
    const float scale = x.d[b] * fp16_to_fp32(w[b].d);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(scale)));
  }
  return hsum(acc);
}

void prepare(const MatmulProblem& p, void* ws, int ith, int nth) { prepare_rows(p, ws, ith, nth, quantize_row); }

void compute(const MatmulProblem& p, const void* ws, int ith, int nth) {
  if (!matmul_supports(p.wtype)) return;
  const Range r = split_range(p.n, ith, nth, 1);
  const int64_t nb = p.k / 32;
  // Rows of W outer, rows of X inner: a W row is read once per m rows while
  // it is in cache (the prompt case), and the decode case (m == 1) streams W.
  for (int64_t j = r.begin; j < r.end; ++j) {
    const auto* wrow = static_cast<const uint8_t*>(p.w) + j * p.w_row_stride;
    for (int64_t i = 0; i < p.m; ++i) {
      float v = 0.0f;
      switch (p.wtype) {
        case DType::f32:
          v = dot_f32_simd(reinterpret_cast<const float*>(wrow), p.x + i * p.x_row_stride, p.k);
          break;
        case DType::f16:
          v = dot_f16_f32_simd(reinterpret_cast<const uint16_t*>(wrow), p.x + i * p.x_row_stride, p.k);
          break;
        case DType::q8_0:
          v = dot_q8_0(reinterpret_cast<const BlockQ8_0*>(wrow), row_view(ws, i, p.k), nb);
          break;
        case DType::q4_0:
          v = dot_q4_0(reinterpret_cast<const BlockQ4_0*>(wrow), row_view(ws, i, p.k), nb);
          break;
        default:
          break;
      }
      p.y[i * p.y_row_stride + j] = v;
    }
  }
}

}  // namespace

const IsaKernels kWasmSimd128Kernels = {
    Isa::wasm_simd128, prepare,           compute,        dot_f32_simd, dot_f16_f32_simd,
    axpy_f32_simd,     axpy_f16_f32_simd, scale_f32_simd,
    sum_squares_f32_scalar, scale_mul_f32_scalar, add_f32_scalar, mul_f32_scalar, swiglu_f32_scalar,
};

}  // namespace wa::cpu::detail

#endif  // __wasm_simd128__
