// WebAssembly SIMD128 kernels (compiled with -msimd128 under emscripten).
//
// SIMD128 has no u8 x i8 multiply-add, so the int8 kernels widen to 16 bits
// and multiply with i32x4.dot_i16x8 (pmaddwd on x86 engines): 8
// multiply-adds per instruction. Widening is free on the activation side
// (v128.load8x8_s loads and sign-extends in one instruction). Relaxed SIMD's
// i16x8.relaxed_dot_i8x16_i7x16_s does 16: this file compiled again as
// kernels_wasm_relaxed.cpp (WA_WASM_RELAXED, the relaxed modules) uses it
// for q4_0 (section "Relaxed SIMD" below).
//
// q4_0 / q8_0:
//   m == 1: 4 weight rows per step sharing each activation load; their four
//           integer block sums are transposed into one vector (lane = row),
//           so the float epilogue is one convert, multiply and add for the
//           4 rows. q4_0 uses the "nibble row" activations (kernels_impl.h):
//           a weight byte needs one mask (its high nibble in place, the
//           activations pre-scaled to match) instead of two masks, a shift
//           and two subtractions of 8; q8_0 the row layout. q4_0x4 weights
//           (q4_0 repacked at load, kernels_impl.h) give the same bits from
//           one sequential stream per 4 rows.
//   m > 1:  activations in 4-row "pair panels" (kernels_impl.h). A thread
//           owns a range of W rows; it unpacks 16 of them, 512 k at a time,
//           into an L1-resident i16 buffer (q4_0 nibbles minus 8, q8_0 values,
//           f16 scales as f32), then runs an RW x (4 RX) register tile over
//           the panels: per k pair, RW splat loads and RX widening loads feed
//           RW * RX dot products whose lanes are 4 X rows, so no horizontal
//           sums are needed and the per-block f32 epilogue serves 4 results.
// X is quantized by exactly the scalar arithmetic (the 8-bit activations are
// bit-identical) and every block's integer sum is exact, so results differ
// from the scalar reference only in float rounding: the block scale product
// and sum are a multiply and an add here (no FMA without relaxed SIMD) and
// the order of the f32 accumulation differs.
//
// q4_1 / q5_0 / q5_1 / k-quants: row dots (kernels_wasm_rowdot.h).
//
// f32 / f16: a register tile of RW W rows x RX X rows, four k lanes per
// accumulator (mul + add), the lanes summed once at the end. f16 weights are
// widened with integer ops and one multiply by 2^112 (exact for every finite
// value, subnormals included; wasm keeps subnormals); in the prompt GEMM a
// W row group is widened once per block of X rows into a buffer.
//
// Every output element is computed by the same sequence of operations
// whatever the tile it falls in, the thread count or the thread split, so Y
// is bit-identical across them (kernels.h).
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <iterator>
#include <type_traits>
#include <vector>

#include "backends/cpu/kernels_impl.h"
#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/unpack.h"
#include "quant/vq.h"

namespace wa::cpu::detail {
// The relaxed build's copy in a namespace of its own: its functions' names
// say which copy they are (the post-link step checks that every placeholder
// sits in one of them).
#if defined(WA_WASM_RELAXED)
namespace relaxed_simd {
#endif
namespace {

#define WA_UNROLL _Pragma("clang loop unroll(full)")

float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// A v128 constant as a value the compiler cannot see through. LLVM
// rematerializes a v128.const at every use, even inside loops, and V8 builds
// each one from two 64-bit immediates (3-4 x86 instructions), so in a hot
// loop the constants can cost more than the operations that use them. Read
// once through a volatile before the loop, a constant stays in a register
// (or is one load from the stack).
v128_t opaque(v128_t v) {
  volatile v128_t t = v;
  return t;
}

#if defined(WA_WASM_RELAXED)
// i16x8.relaxed_dot_i8x16_i7x16_s(a, b): lane i = a[2i] b[2i] + a[2i+1] b[2i+1],
// a signed, b in [0, 127]. clang 14 has no builtin for it: its relaxed
// swizzle (same shape, used nowhere else) stands in, and the post-link step
// (scripts/wasm_relaxed_patch.mjs) rewrites that opcode to the dot's.
v128_t relaxed_dot_i8x16_i7x16(v128_t a, v128_t b) {
  return reinterpret_cast<v128_t>(
      __builtin_wasm_relaxed_swizzle_i8x16(reinterpret_cast<__i8x16>(a), reinterpret_cast<__i8x16>(b)));
}
#endif

// The constants of f16x4_to_f32; hot loops make one with opaque values
// before the loop (F16Consts::loop()).
struct F16Consts {
  v128_t sign = wasm_i32x4_splat(0x8000), mag = wasm_i32x4_splat(0x7fff), exp = wasm_i32x4_splat(0x7c00),
         inf = wasm_i32x4_splat(0x7f800000), scale = wasm_f32x4_splat(0x1p112f);
  static F16Consts loop() {
    F16Consts c;
    c.sign = opaque(c.sign);
    c.mag = opaque(c.mag);
    c.exp = opaque(c.exp);
    c.inf = opaque(c.inf);
    c.scale = opaque(c.scale);
    return c;
  }
};

// Four halves (zero-extended into 32-bit lanes) -> four floats.
v128_t f16x4_to_f32(v128_t u32, const F16Consts& c = F16Consts()) {
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(u32, c.sign), 16);
  const v128_t mag = wasm_i32x4_shl(wasm_v128_and(u32, c.mag), 13);
  // 2^112 rebiases the exponent (15 -> 127) and turns f16 subnormals into
  // normal floats exactly.
  v128_t f = wasm_f32x4_mul(mag, c.scale);
  // Infinity and NaN: exponent all ones.
  const v128_t special = wasm_i32x4_eq(wasm_v128_and(u32, c.exp), c.exp);
  f = wasm_v128_bitselect(wasm_v128_or(mag, c.inf), f, special);
  return wasm_v128_or(f, sign);
}

void load_f16x8(const uint16_t* p, v128_t* lo, v128_t* hi, const F16Consts& c) {
  const v128_t h = wasm_v128_load(p);
  *lo = f16x4_to_f32(wasm_u32x4_extend_low_u16x8(h), c);
  *hi = f16x4_to_f32(wasm_u32x4_extend_high_u16x8(h), c);
}

v128_t load_f16x4(const uint16_t* p, const F16Consts& c = F16Consts()) { return f16x4_to_f32(wasm_u32x4_load16x4(p), c); }

// ---------------------------------------------------------------------------
// Vector primitives

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
  const F16Consts c = F16Consts::loop();
  for (; i + 8 <= n; i += 8) {
    v128_t lo, hi;
    load_f16x8(a + i, &lo, &hi, c);
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
  const F16Consts c = F16Consts::loop();
  for (; i + 8 <= n; i += 8) {
    v128_t lo, hi;
    load_f16x8(x + i, &lo, &hi, c);
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

// ---------------------------------------------------------------------------
// Row primitives of the elementwise ops

double sum_squares_f32_simd(const float* x, int64_t n) {
  // Squares of floats are exact in double, so as in the reference only the
  // order of the double additions differs (four running sums).
  v128_t a0 = wasm_f64x2_splat(0.0), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4);
    const v128_t d0 = wasm_f64x2_promote_low_f32x4(v0);
    const v128_t d1 = wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(v0, v0, 1, 0));
    const v128_t d2 = wasm_f64x2_promote_low_f32x4(v1);
    const v128_t d3 = wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(v1, v1, 1, 0));
    a0 = wasm_f64x2_add(a0, wasm_f64x2_mul(d0, d0));
    a1 = wasm_f64x2_add(a1, wasm_f64x2_mul(d1, d1));
    a2 = wasm_f64x2_add(a2, wasm_f64x2_mul(d2, d2));
    a3 = wasm_f64x2_add(a3, wasm_f64x2_mul(d3, d3));
  }
  const v128_t s = wasm_f64x2_add(wasm_f64x2_add(a0, a1), wasm_f64x2_add(a2, a3));
  double ss = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  return ss;
}

// (x * s) * w in the reference's order: bit-identical to it.
void scale_mul_f32_simd(float* y, const float* x, float s, const float* w, int64_t n) {
  const v128_t sv = wasm_f32x4_splat(s);
  int64_t i = 0;
  if (w) {
    for (; i + 4 <= n; i += 4) {
      wasm_v128_store(y + i, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(x + i), sv), wasm_v128_load(w + i)));
    }
    for (; i < n; ++i) y[i] = x[i] * s * w[i];
  } else {
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(x + i), sv));
    for (; i < n; ++i) y[i] = x[i] * s;
  }
}

void add_f32_simd(float* y, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    wasm_v128_store(y + i + 4, wasm_f32x4_add(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_f32_simd(float* y, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    wasm_v128_store(y + i + 4, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  for (; i < n; ++i) y[i] = a[i] * b[i];
}

// e^x for 4 floats: x = k ln2 + r with |r| <= ln2/2, ln2 split in two parts
// (the first has 9 significant bits, so k * hi and x - k * hi are exact for
// |k| <= 128), e^r by a degree-6 polynomial, 2^k built in the exponent bits.
// Without FMA the polynomial takes a rounding per step; relative error stays
// within a few ulp over the clamped range [-87.3, 88.7] (below it the result
// is the smallest normal, which silu turns into g / (1 + huge) = -0).
v128_t exp_f32x4(v128_t x) {
  x = wasm_f32x4_min(x, wasm_f32x4_splat(88.7f));
  x = wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f));
  const v128_t k = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(k, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(k, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, wasm_f32x4_mul(r, r)), wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)));
  const v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, e);
}

void swiglu_f32_simd(float* y, const float* g, const float* u, int64_t n) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gv = wasm_v128_load(g + i);
    const v128_t s = wasm_f32x4_div(gv, wasm_f32x4_add(one, exp_f32x4(wasm_f32x4_neg(gv))));
    wasm_v128_store(y + i, u ? wasm_f32x4_mul(s, wasm_v128_load(u + i)) : s);
  }
  for (; i < n; ++i) {
    const float s = g[i] / (1.0f + std::exp(-g[i]));
    y[i] = u ? s * u[i] : s;
  }
}

// A softmax's numerators in place, by exp_f32x4 (libm's scalar expf was
// most of the prompt's attention softmax in wasm: Node profile of pp512,
// 2026-11-28). Their sum in double as the reference keeps it, but per lane
// (4 partial sums, then added): the order of additions differs from the
// reference's, within double rounding. The scores are at most `shift`, so
// e^ never overflows; below e^-87.3 it gives the smallest normal, not 0.
double exp_shifted_f32_simd(float* s, int64_t n, float shift) {
  const v128_t sh = wasm_f32x4_splat(shift);
  v128_t lo = wasm_f64x2_splat(0.0), hi = wasm_f64x2_splat(0.0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(s + i), sh));
    wasm_v128_store(s + i, e);
    lo = wasm_f64x2_add(lo, wasm_f64x2_promote_low_f32x4(e));
    hi = wasm_f64x2_add(hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
  }
  const v128_t t = wasm_f64x2_add(lo, hi);
  double sum = wasm_f64x2_extract_lane(t, 0) + wasm_f64x2_extract_lane(t, 1);
  for (; i < n; ++i) {
    s[i] = std::exp(s[i] - shift);
    sum += s[i];
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Activation quantization (q4_0 / q8_0 weights)

// The scalar reference's quantization of one block of 32, vectorized where
// it is exact: the max of |x| is order-independent (f32x4.pmax, one maxps:
// f32x4.max's NaN and -0 handling cost V8 about 7 instructions, and |x| has
// no -0; a NaN x is skipped, as std::fmax does); the division, reciprocal and
// product are the same per element, and so is the rounding: v + 1.5 * 2^23
// rounds v to an integer (round to nearest even, as lrint) in the low
// mantissa bits, exactly for |v| < 2^22 (here |v| <= 127), so the bits minus
// those of 1.5 * 2^23 are the integer. nearest + trunc_sat gave the same
// values in about 10 x86 instructions per vector under V8 (trunc_sat's
// NaN/overflow fixups) instead of 2.
// Writes the 32 values to q[0] (0..15) and q[1] (16..31); returns the scale.
float quantize_block32(const float* xb, v128_t q[2]) {
  v128_t m = wasm_f32x4_splat(0);
  for (int j = 0; j < 32; j += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(xb + j)));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  const float amax = wasm_f32x4_extract_lane(m, 0);
  const float db = amax / 127.0f;
  const float id = db != 0.0f ? 1.0f / db : 0.0f;
  const v128_t vid = wasm_f32x4_splat(id);
  const v128_t magic = wasm_f32x4_splat(0x1.8p23f);
  for (int h = 0; h < 2; ++h) {
    v128_t v[4];
    for (int t = 0; t < 4; ++t) {
      const v128_t r = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xb + 16 * h + 4 * t), vid), magic);
      v[t] = wasm_i32x4_sub(r, magic);
    }
    q[h] = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(v[0], v[1]), wasm_i16x8_narrow_i32x4(v[2], v[3]));
  }
  return db;
}
float quantize_block32(const float* xb, int8_t* qs) {
  v128_t q[2];
  const float d = quantize_block32(xb, q);
  wasm_v128_store(qs, q[0]);
  wasm_v128_store(qs + 16, q[1]);
  return d;
}

void quantize_row(const float* x, int64_t k, int8_t* qs, int16_t* c, float* d) {
  for (int64_t b = 0; b < k / 32; ++b) {
    d[b] = quantize_block32(x + b * 32, qs + b * 32);
    for (int i = 0; i < 16; ++i) {
      c[b * 16 + i] = static_cast<int16_t>(-8 * (qs[b * 32 + 2 * i] + qs[b * 32 + 2 * i + 1]));
    }
  }
}

// m > 1: X rows into 4-row pair panels (kernels_impl.h); threads split the
// panels.
void prepare_pair_panels(const MatmulProblem& p, void* ws, int ith, int nth) {
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kPairPanelRows - 1) / kPairPanelRows;
  const Range r = split_range(p.m, ith, nth, kPairPanelRows);
  auto* base = static_cast<uint8_t*>(ws);
  for (int64_t row0 = r.begin; row0 < r.end; row0 += kPairPanelRows) {
    const int64_t pi = row0 / kPairPanelRows;
    for (int rr = 0; rr < kPairPanelRows; ++rr) {
      const int64_t row = row0 + rr;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = base + chunked_block_offset(pi, b, panels, nb, kPairPanelBlockBytes);
        alignas(16) int8_t q8[32] = {};
        float d = 0.0f;  // padding rows: zero values and scale
        if (row < p.m) d = quantize_block32(p.x + row * p.x_row_stride + b * 32, q8);
        for (int g = 0; g < 16; ++g) std::memcpy(blk + g * 8 + rr * 2, q8 + g * 2, 2);
        std::memcpy(blk + 128 + rr * 4, &d, 4);
      }
    }
  }
}

// m == 1, q4_0: X into the nibble row layout (kernels_impl.h); threads split
// the blocks.
void prepare_nibble_row(const MatmulProblem& p, void* ws, int ith, int nth) {
  const Range r = split_range(p.k / 32, ith, nth, 1);
  auto* base = static_cast<uint8_t*>(ws);
  const v128_t sixteen = wasm_i16x8_splat(16);
  for (int64_t b = r.begin; b < r.end; ++b) {
    uint8_t* rec = base + static_cast<size_t>(b) * kNibbleRowBlockBytes;
    alignas(16) int8_t q8[32];
    const float d = quantize_block32(p.x + b * 32, q8);
    const v128_t lo0 = wasm_i16x8_load8x8(q8), lo1 = wasm_i16x8_load8x8(q8 + 8);
    const v128_t hi0 = wasm_i16x8_load8x8(q8 + 16), hi1 = wasm_i16x8_load8x8(q8 + 24);
    const v128_t a0 = wasm_i16x8_mul(lo0, sixteen), a1 = wasm_i16x8_mul(lo1, sixteen);
    wasm_v128_store(rec, a0);
    wasm_v128_store(rec + 16, a1);
    wasm_v128_store(rec + 32, wasm_i16x8_sub(hi0, a0));
    wasm_v128_store(rec + 48, wasm_i16x8_sub(hi1, a1));
    int32_t sum = 0;
    for (int t = 0; t < 32; ++t) sum += q8[t];
    const int32_t c = -128 * sum;
    std::memcpy(rec + 64, &c, 4);
    std::memcpy(rec + 68, &d, 4);
  }
}

#if defined(WA_WASM_RELAXED)
void prepare_quad_panels(const MatmulProblem& p, void* ws, int ith, int nth);
void prepare_byte_row(const MatmulProblem& p, void* ws, int ith, int nth);
#endif

// q4_0 in either layout (the activations do not depend on it).
bool is_q4(DType t) { return t == DType::q4_0 || t == DType::q4_0x4; }

void prepare(const MatmulProblem& p, void* ws, int ith, int nth) {
  if (!is_q4(p.wtype) && p.wtype != DType::q8_0) return;
#if defined(WA_WASM_RELAXED)
  if (is_q4(p.wtype)) return p.m > 1 ? prepare_quad_panels(p, ws, ith, nth) : prepare_byte_row(p, ws, ith, nth);
#endif
  if (p.m > 1) {
    prepare_pair_panels(p, ws, ith, nth);
  } else if (is_q4(p.wtype)) {
    prepare_nibble_row(p, ws, ith, nth);
  } else {
    prepare_rows(p, ws, ith, nth, quantize_row);
  }
}

// ---------------------------------------------------------------------------
// q4_0 / q8_0, m == 1: matvec, 4 W rows per step sharing each activation load

// Weight block -> 32 values widened to i16, in k order (4 x 8 lanes). q4_0:
// `src` is the block's 16 nibble bytes (either q4_0 layout), the values the
// nibbles minus 8; q8_0: the block.
template <bool Q4>
void widen_block(const void* src, v128_t w[4]) {
  if constexpr (Q4) {
    // Byte t holds element t (low nibble) and t + 16 (high nibble).
    const auto* qs = static_cast<const uint8_t*>(src);
    const v128_t lo = wasm_u16x8_load8x8(qs), hi = wasm_u16x8_load8x8(qs + 8);
    const v128_t mask = wasm_i16x8_splat(0x0f), eight = wasm_i16x8_splat(8);
    w[0] = wasm_i16x8_sub(wasm_v128_and(lo, mask), eight);
    w[1] = wasm_i16x8_sub(wasm_v128_and(hi, mask), eight);
    w[2] = wasm_i16x8_sub(wasm_u16x8_shr(lo, 4), eight);
    w[3] = wasm_i16x8_sub(wasm_u16x8_shr(hi, 4), eight);
  } else {
    const int8_t* qs = static_cast<const BlockQ8_0*>(src)->qs;
    for (int i = 0; i < 4; ++i) w[i] = wasm_i16x8_load8x8(qs + 8 * i);
  }
}

// Four rows' integer sums (4 partial lanes each) -> one vector, lane r = row r.
v128_t transpose_sum4(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
  const v128_t u01 = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  const v128_t u23 = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5), wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5), wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7));
}

// The f16 scales of block b of 4 rows as floats, lane r = row r.
template <class Block>
v128_t row_scales4(const Block* const w[4], int64_t b, const F16Consts& c) {
  v128_t h = wasm_i16x8_splat(0);
  h = wasm_v128_load16_lane(&w[0][b].d, h, 0);
  h = wasm_v128_load16_lane(&w[1][b].d, h, 1);
  h = wasm_v128_load16_lane(&w[2][b].d, h, 2);
  h = wasm_v128_load16_lane(&w[3][b].d, h, 3);
  return f16x4_to_f32(wasm_u32x4_extend_low_u16x8(h), c);
}

// Integer sum of one q4_0 block times the nibble-row record (kernels_impl.h):
// 4 lanes that add up to 16 * sum(q * a) + sum((q & 0xf0) * b), i.e. 16 times
// the unsigned-nibble dot product; the record's c makes it signed.
v128_t q4_nibble_dot(const uint8_t* qs, v128_t a0, v128_t a1, v128_t b0, v128_t b1, v128_t hm) {
  const v128_t q0 = wasm_u16x8_load8x8(qs), q1 = wasm_u16x8_load8x8(qs + 8);
  const v128_t s = wasm_i32x4_add(wasm_i32x4_dot_i16x8(q0, a0), wasm_i32x4_dot_i16x8(q1, a1));
  return wasm_i32x4_add(s, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_and(q0, hm), b0),
                                          wasm_i32x4_dot_i16x8(wasm_v128_and(q1, hm), b1)));
}

// q4_0: rows j0 .. j0 + 4 (R == 4) or row j0 (R == 1) over the nibble rows.
// Per block the integer sum is exact (16x the signed one, shifted back), so
// both R give each row the same float sequence: y = sum_b sum_int * (dx dw).
template <int R>
void q4_gemv_rows(const MatmulProblem& p, const void* ws, int64_t j0) {
  static_assert(R == 1 || R == 4);
  const int64_t nb = p.k / 32;
  const auto* rec = static_cast<const uint8_t*>(ws);
  const BlockQ4_0* w[4];
  for (int r = 0; r < 4; ++r) {
    w[r] = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(p.w) + (j0 + (r < R ? r : 0)) * p.w_row_stride);
  }
  v128_t acc = wasm_f32x4_splat(0.0f);
  const F16Consts fc = F16Consts::loop();
  const v128_t hm = opaque(wasm_i16x8_splat(0xf0));  // the high nibble of each (zero-extended) byte
  for (int64_t b = 0; b < nb; ++b, rec += kNibbleRowBlockBytes) {
    const v128_t a0 = wasm_v128_load(rec), a1 = wasm_v128_load(rec + 16);
    const v128_t b0 = wasm_v128_load(rec + 32), b1 = wasm_v128_load(rec + 48);
    v128_t tot;
    if constexpr (R == 4) {
      tot = transpose_sum4(q4_nibble_dot(w[0][b].qs, a0, a1, b0, b1, hm), q4_nibble_dot(w[1][b].qs, a0, a1, b0, b1, hm),
                           q4_nibble_dot(w[2][b].qs, a0, a1, b0, b1, hm), q4_nibble_dot(w[3][b].qs, a0, a1, b0, b1, hm));
    } else {
      const v128_t s = q4_nibble_dot(w[0][b].qs, a0, a1, b0, b1, hm);
      tot = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
      tot = wasm_i32x4_add(tot, wasm_i32x4_shuffle(tot, tot, 1, 0, 3, 2));  // every lane: the sum
    }
    // Exact: tot + c is 16 times the block's signed integer sum.
    tot = wasm_i32x4_shr(wasm_i32x4_add(tot, wasm_v128_load32_splat(rec + 64)), 4);
    v128_t sc;
    if constexpr (R == 4) {
      sc = row_scales4(w, b, fc);
    } else {
      sc = wasm_f32x4_splat(fp16_to_fp32(w[0][b].d));
    }
    sc = wasm_f32x4_mul(wasm_v128_load32_splat(rec + 68), sc);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), sc));
  }
  if constexpr (R == 4) {
    wasm_v128_store(p.y + j0, acc);
  } else {
    p.y[j0] = wasm_f32x4_extract_lane(acc, 0);
  }
}

// The 4 f16 scales of a q4_0x4 record (finite, kernels_impl.h) as floats,
// lane r = row r: the halves sign-extended to 32 bits and shifted left by 13
// put the sign at bit 31 (bits 28-30, copies of it, masked off) and exponent
// and mantissa at bits 13-27; times 2^112 that is the value, exact for
// subnormal halves too. The same floats as f16x4_to_f32 in 3 operations
// instead of 10 (its infinity/NaN path is what finite scales make needless).
struct Q4x4Consts {
  v128_t mask = opaque(wasm_i32x4_splat(static_cast<int32_t>(0x8fffe000u)));
  v128_t scale = opaque(wasm_f32x4_splat(0x1p112f));
};
v128_t q4x4_scales(const uint8_t* rec, const Q4x4Consts& c) {
  return wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shl(wasm_i32x4_load16x4(rec + 64), 13), c.mask), c.scale);
}

// q4_0x4, SIMD128: the 4 rows of the group at j0 over the nibble rows, one
// sequential stream of records; the same integer sums and float sequence as
// q4_gemv_rows<4>, so the same bits.
void q4x4_gemv_group(const MatmulProblem& p, const void* ws, int64_t j0) {
  const int64_t nb = p.k / 32;
  const auto* rec = static_cast<const uint8_t*>(ws);
  const auto* w = static_cast<const uint8_t*>(p.w) + j0 * p.w_row_stride;
  v128_t acc = wasm_f32x4_splat(0.0f);
  const Q4x4Consts qc;
  const v128_t hm = opaque(wasm_i16x8_splat(0xf0));
  for (int64_t b = 0; b < nb; ++b, rec += kNibbleRowBlockBytes, w += kQ4x4RecordBytes) {
    const v128_t a0 = wasm_v128_load(rec), a1 = wasm_v128_load(rec + 16);
    const v128_t b0 = wasm_v128_load(rec + 32), b1 = wasm_v128_load(rec + 48);
    v128_t tot = transpose_sum4(q4_nibble_dot(w, a0, a1, b0, b1, hm), q4_nibble_dot(w + 16, a0, a1, b0, b1, hm),
                                q4_nibble_dot(w + 32, a0, a1, b0, b1, hm), q4_nibble_dot(w + 48, a0, a1, b0, b1, hm));
    tot = wasm_i32x4_shr(wasm_i32x4_add(tot, wasm_v128_load32_splat(rec + 64)), 4);
    const v128_t sc = wasm_f32x4_mul(wasm_v128_load32_splat(rec + 68), q4x4_scales(w, qc));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), sc));
  }
  wasm_v128_store(p.y + j0, acc);
}

// q8_0: R consecutive W rows (from j0) times the row-layout X, the same
// per-row float sequence for both R.
template <int R>
void q8_gemv_rows(const MatmulProblem& p, const void* ws, int64_t j0) {
  static_assert(R == 1 || R == 4);
  const int64_t nb = p.k / 32;
  const auto* base = static_cast<const uint8_t*>(ws);
  const auto* xq = reinterpret_cast<const int8_t*>(base);
  const auto* xd = reinterpret_cast<const float*>(base + nb * 64);
  const BlockQ8_0* w[4];
  for (int r = 0; r < 4; ++r) {
    w[r] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(p.w) + (j0 + (r < R ? r : 0)) * p.w_row_stride);
  }
  v128_t acc = wasm_f32x4_splat(0.0f);
  const F16Consts fc = F16Consts::loop();
  for (int64_t b = 0; b < nb; ++b) {
    v128_t x[4];
    for (int i = 0; i < 4; ++i) x[i] = wasm_i16x8_load8x8(xq + b * 32 + 8 * i);
    v128_t s[R];
    WA_UNROLL
    for (int r = 0; r < R; ++r) {
      v128_t wv[4];
      widen_block<false>(&w[r][b], wv);
      s[r] = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wv[0], x[0]), wasm_i32x4_dot_i16x8(wv[1], x[1])),
                            wasm_i32x4_add(wasm_i32x4_dot_i16x8(wv[2], x[2]), wasm_i32x4_dot_i16x8(wv[3], x[3])));
    }
    v128_t tot, sc;
    if constexpr (R == 4) {
      tot = transpose_sum4(s[0], s[1], s[2], s[3]);
      sc = row_scales4(w, b, fc);
    } else {
      tot = wasm_i32x4_add(s[0], wasm_i32x4_shuffle(s[0], s[0], 2, 3, 0, 1));
      tot = wasm_i32x4_add(tot, wasm_i32x4_shuffle(tot, tot, 1, 0, 3, 2));
      sc = wasm_f32x4_splat(fp16_to_fp32(w[0][b].d));
    }
    sc = wasm_f32x4_mul(wasm_f32x4_splat(xd[b]), sc);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), sc));
  }
  if constexpr (R == 4) {
    wasm_v128_store(p.y + j0, acc);
  } else {
    p.y[j0] = wasm_f32x4_extract_lane(acc, 0);
  }
}

// Threads take groups of 4 rows, so a q4_0x4 group is never split; rows
// past the last whole group (a q4_0x4 tensor keeps them as q4_0 rows) go one
// at a time.
template <bool Q4>
void int8_gemv(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const Range r = split_range(p.n, ith, nth, kQ4x4Rows);
  int64_t j = r.begin;
  if (p.wtype == DType::q4_0x4) {
    for (; j + kQ4x4Rows <= r.end; j += kQ4x4Rows) q4x4_gemv_group(p, ws, j);
  }
  for (; j + 4 <= r.end; j += 4) Q4 ? q4_gemv_rows<4>(p, ws, j) : q8_gemv_rows<4>(p, ws, j);
  for (; j < r.end; ++j) Q4 ? q4_gemv_rows<1>(p, ws, j) : q8_gemv_rows<1>(p, ws, j);
}

// ---------------------------------------------------------------------------
// q4_0 / q8_0, m > 1: pair-panel GEMM

constexpr int kGroupRows = 16;                   // W rows unpacked together
constexpr int kChunkBlocks = kPanelChunkBlocks;  // k blocks (x32) unpacked together

// One group's k chunk of weights as signed 16-bit values and f32 scales.
struct WBuf {
  alignas(16) int16_t w[kGroupRows][kChunkBlocks * 32];
  alignas(16) float d[kGroupRows][kChunkBlocks];
};

template <bool Q4>
void unpack_group(const MatmulProblem& p, int64_t j0, int rows, int64_t b0, int nbc, WBuf* buf) {
  using Block = std::conditional_t<Q4, BlockQ4_0, BlockQ8_0>;
  for (int r = 0; r < kGroupRows; ++r) {
    if (r >= rows) {  // padding rows: zero scale makes their (discarded) results 0
      std::memset(buf->w[r], 0, static_cast<size_t>(nbc) * 32 * sizeof(int16_t));
      for (int b = 0; b < nbc; ++b) buf->d[r][b] = 0.0f;
      continue;
    }
    for (int b = 0; b < nbc; ++b) {
      v128_t wv[4];
      if constexpr (Q4) {  // either q4_0 layout
        const Q4Block q = q4_block(p.wtype, p.w, p.w_row_stride, p.n, j0 + r, b0 + b);
        widen_block<true>(q.qs, wv);
        buf->d[r][b] = fp16_to_fp32(q.d);
      } else {
        const auto* row = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride);
        widen_block<false>(&row[b0 + b], wv);
        buf->d[r][b] = fp16_to_fp32(row[b0 + b].d);
      }
      for (int i = 0; i < 4; ++i) wasm_v128_store(&buf->w[r][b * 32 + 8 * i], wv[i]);
    }
  }
}

// acc[r][c] lane l += the chunk's W row (r0 + r) . X row l of panel c.
// xp: the chunk's first block of the first panel; panel c is panel_stride
// bytes further, block b another b * kPairPanelBlockBytes.
template <int RW, int RX>
void int8_gemm_tile(const WBuf& buf, int r0, const uint8_t* xp, size_t panel_stride, int nbc, v128_t acc[RW][RX]) {
  for (int b = 0; b < nbc; ++b) {
    const uint8_t* xb = xp + static_cast<size_t>(b) * kPairPanelBlockBytes;
    const int16_t* wb = &buf.w[r0][b * 32];
    v128_t s[RW][RX];
    WA_UNROLL
    for (int r = 0; r < RW; ++r)
      WA_UNROLL
      for (int c = 0; c < RX; ++c) s[r][c] = wasm_i32x4_splat(0);
    // |w| <= 128 and |x| <= 127: the 32 products of a block sum far below 2^31.
    // Unrolled so every load addresses with a constant offset (wasm has no
    // scaled-index addressing; the index arithmetic otherwise doubles the
    // instruction count of the loop).
    WA_UNROLL
    for (int g = 0; g < 16; ++g) {
      v128_t x[RX];
      WA_UNROLL
      for (int c = 0; c < RX; ++c) x[c] = wasm_i16x8_load8x8(xb + c * panel_stride + g * 8);
      WA_UNROLL
      for (int r = 0; r < RW; ++r) {
        const v128_t w = wasm_v128_load32_splat(wb + r * (kChunkBlocks * 32) + 2 * g);
        WA_UNROLL
        for (int c = 0; c < RX; ++c) s[r][c] = wasm_i32x4_add(s[r][c], wasm_i32x4_dot_i16x8(w, x[c]));
      }
    }
    v128_t dx[RX];
    WA_UNROLL
    for (int c = 0; c < RX; ++c) dx[c] = wasm_v128_load(xb + c * panel_stride + 128);
    WA_UNROLL
    for (int r = 0; r < RW; ++r) {
      const v128_t dw = wasm_f32x4_splat(buf.d[r0 + r][b]);
      WA_UNROLL
      for (int c = 0; c < RX; ++c) {
        // The f32 sums live in memory (one load + store per block): kept in
        // registers they and the integer sums exceed the 16 xmm registers a
        // wasm engine has on x86-64 for the larger tiles, and the engine then
        // spills inside the k loop.
        volatile v128_t* a = &acc[r][c];
        *a = wasm_f32x4_add(*a, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s[r][c]), wasm_f32x4_mul(dx[c], dw)));
      }
    }
  }
}

// An int8 tile's f32 accumulators, zeroed by volatile stores: LLVM makes a
// plain zeroing loop a memset call (1.8% of a one-thread pp512 profile).
template <int RW, int RX>
void zero_tile(v128_t acc[RW][RX]) {
  for (int r = 0; r < RW; ++r)
    for (int c = 0; c < RX; ++c) {
      volatile v128_t* a = &acc[r][c];
      *a = wasm_f32x4_splat(0.0f);
    }
}

// Writes (first chunk) or adds an int8 tile's results to Y: lane l of
// acc[r][c] is Y[row l of 4-row panel pi + c][column j0 + t + r]. Groups of
// 4 W rows are transposed into 4 Y row segments (a vector load and store
// each; lane by lane through a stack buffer, with the memset call above,
// cost 8-12% of the relaxed q4_0 GEMM's time at 16 blocks per chunk and
// nearly half of the SIMD128 one's), the rest go lane by lane; the same
// additions either way. Chunks after the first add to Y: the same order for
// every element.
template <int RW, int RX>
void store_tile(const MatmulProblem& p, v128_t acc[RW][RX], int64_t j0, int t, int rows, int64_t pi,
                bool first_chunk) {
  static_assert(kPairPanelRows == 4 && kQuadPanelRows == 4, "panels of 4 X rows");
  const int tr = rows - t < RW ? rows - t : RW;
  for (int c = 0; c < RX; ++c) {
    const int64_t row0 = (pi + c) * 4;
    const int prow = static_cast<int>(p.m - row0 < 4 ? p.m - row0 : 4);
    float* y0 = p.y + row0 * p.y_row_stride + j0 + t;
    int r = 0;
    for (; r + 4 <= tr; r += 4) {
      const v128_t t01 = wasm_i32x4_shuffle(acc[r][c], acc[r + 1][c], 0, 4, 1, 5);
      const v128_t t23 = wasm_i32x4_shuffle(acc[r + 2][c], acc[r + 3][c], 0, 4, 1, 5);
      const v128_t u01 = wasm_i32x4_shuffle(acc[r][c], acc[r + 1][c], 2, 6, 3, 7);
      const v128_t u23 = wasm_i32x4_shuffle(acc[r + 2][c], acc[r + 3][c], 2, 6, 3, 7);
      const v128_t v[4] = {wasm_i32x4_shuffle(t01, t23, 0, 1, 4, 5), wasm_i32x4_shuffle(t01, t23, 2, 3, 6, 7),
                           wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5), wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7)};
      for (int l = 0; l < prow; ++l) {
        float* y = y0 + l * p.y_row_stride + r;
        wasm_v128_store(y, first_chunk ? v[l] : wasm_f32x4_add(wasm_v128_load(y), v[l]));
      }
    }
    for (; r < tr; ++r) {
      alignas(16) float out[4];
      wasm_v128_store(out, acc[r][c]);
      float* y = y0 + r;
      if (first_chunk) {
        for (int l = 0; l < prow; ++l) y[l * p.y_row_stride] = out[l];
      } else {
        for (int l = 0; l < prow; ++l) y[l * p.y_row_stride] += out[l];
      }
    }
  }
}

// One tile at (W row t of the group, panel pi): computes and writes/adds Y.
template <int RW, int RX>
void int8_gemm_tile_store(const MatmulProblem& p, const WBuf& buf, int64_t j0, int t, int rows, const uint8_t* xp,
                          size_t panel_stride, int64_t pi, int nbc, bool first_chunk) {
  v128_t acc[RW][RX];
  zero_tile<RW, RX>(acc);
  int8_gemm_tile<RW, RX>(buf, t, xp, panel_stride, nbc, acc);
  store_tile<RW, RX>(p, acc, j0, t, rows, pi, first_chunk);
}

template <bool Q4, int RW, int RX>
void int8_gemm(const MatmulProblem& p, const void* ws, int ith, int nth) {
  static_assert(kGroupRows % RW == 0, "tiles must not read past the group buffer");
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kPairPanelRows - 1) / kPairPanelRows;
  const auto* base = static_cast<const uint8_t*>(ws);
  const Range rr = split_range(p.n, ith, nth, kGroupRows);
  static thread_local WBuf buf;
  // k chunk outermost: its slice of every panel is contiguous and small
  // (144 KiB at m = 512), so it stays in L2 while this thread's W rows pass.
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int nbc = static_cast<int>(nb - b0 < kChunkBlocks ? nb - b0 : kChunkBlocks);
    const size_t panel_stride = static_cast<size_t>(nbc) * kPairPanelBlockBytes;
    for (int64_t j0 = rr.begin; j0 < rr.end; j0 += kGroupRows) {
      const int rows = static_cast<int>(rr.end - j0 < kGroupRows ? rr.end - j0 : kGroupRows);
      unpack_group<Q4>(p, j0, rows, b0, nbc, &buf);
      int64_t pi = 0;
      for (; pi + RX <= panels; pi += RX) {
        const uint8_t* xp = base + chunked_block_offset(pi, b0, panels, nb, kPairPanelBlockBytes);
        for (int t = 0; t < rows; t += RW) int8_gemm_tile_store<RW, RX>(p, buf, j0, t, rows, xp, panel_stride, pi, nbc, b0 == 0);
      }
      for (; pi < panels; ++pi) {
        const uint8_t* xp = base + chunked_block_offset(pi, b0, panels, nb, kPairPanelBlockBytes);
        for (int t = 0; t < rows; t += RW) int8_gemm_tile_store<RW, 1>(p, buf, j0, t, rows, xp, panel_stride, pi, nbc, b0 == 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// f32 / f16 weights

// Acc lane l sums the products of k = l (mod 4) in k order; the k % 4 tail
// goes through zero-padded copies into the same lanes. T: float or f16 bits.
template <class T, int RW, int RX>
void float_tile(const T* const* w, const float* const* x, int64_t k, v128_t acc[RW][RX]) {
  // (f32 tiles need no constants: no volatile reads for them.)
  const F16Consts fc = sizeof(T) == 2 ? F16Consts::loop() : F16Consts();
  auto load_w = [&](const T* p) {
    if constexpr (sizeof(T) == 2) {
      return load_f16x4(p, fc);
    } else {
      return wasm_v128_load(p);
    }
  };
  int64_t t = 0;
  _Pragma("clang loop unroll_count(4)")
  for (; t + 4 <= k; t += 4) {
    v128_t xv[RX];
    WA_UNROLL
    for (int c = 0; c < RX; ++c) xv[c] = wasm_v128_load(x[c] + t);
    WA_UNROLL
    for (int r = 0; r < RW; ++r) {
      const v128_t wv = load_w(w[r] + t);
      WA_UNROLL
      for (int c = 0; c < RX; ++c) acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(wv, xv[c]));
    }
  }
  if (t < k) {
    alignas(16) float xt[RX][4] = {};
    alignas(16) float wt[RW][4] = {};
    for (int64_t e = t; e < k; ++e) {
      for (int c = 0; c < RX; ++c) xt[c][e - t] = x[c][e];
      for (int r = 0; r < RW; ++r) {
        if constexpr (sizeof(T) == 2) {
          wt[r][e - t] = fp16_to_fp32(w[r][e]);
        } else {
          wt[r][e - t] = w[r][e];
        }
      }
    }
    for (int r = 0; r < RW; ++r)
      for (int c = 0; c < RX; ++c) acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(wasm_v128_load(wt[r]), wasm_v128_load(xt[c])));
  }
}

// Y[i0 .. i0 + RX) x [j0 .. j0 + RW) from the W rows w (already offset to j0).
template <class T, int RW, int RX>
void float_tile_store(const MatmulProblem& p, const T* const* w, int64_t j0, int64_t i0) {
  const float* x[RX];
  for (int c = 0; c < RX; ++c) x[c] = p.x + (i0 + c) * p.x_row_stride;
  v128_t acc[RW][RX];
  for (int r = 0; r < RW; ++r)
    for (int c = 0; c < RX; ++c) acc[r][c] = wasm_f32x4_splat(0.0f);
  float_tile<T, RW, RX>(w, x, p.k, acc);
  for (int r = 0; r < RW; ++r)
    for (int c = 0; c < RX; ++c) p.y[(i0 + c) * p.y_row_stride + j0 + r] = hsum(acc[r][c]);
}

template <class T, int RW, int RX>
void float_rows(const MatmulProblem& p, const T* const* w, int64_t j0, int64_t i_begin, int64_t i_end) {
  int64_t i = i_begin;
  for (; i + RX <= i_end; i += RX) float_tile_store<T, RW, RX>(p, w, j0, i);
  for (; i < i_end; ++i) float_tile_store<T, RW, 1>(p, w, j0, i);
}

// W rows j .. j + R as pointers of type T.
template <class T, int R>
void row_pointers(const MatmulProblem& p, int64_t j, const T* w[R]) {
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const T*>(static_cast<const uint8_t*>(p.w) + (j + r) * p.w_row_stride);
}

// X rows per block: a block stays in L2 while the thread's W rows pass over
// it (and f16 rows are widened once per block).
constexpr int64_t kFloatXBlock = 32;

template <int RW, int RX>
void f32_gemm(const MatmulProblem& p, int ith, int nth) {
  const Range rr = split_range(p.n, ith, nth, 4);
  for (int64_t i0 = 0; i0 < p.m; i0 += kFloatXBlock) {
    const int64_t i1 = i0 + kFloatXBlock < p.m ? i0 + kFloatXBlock : p.m;
    int64_t j = rr.begin;
    for (; j + RW <= rr.end; j += RW) {
      const float* w[RW];
      row_pointers<float, RW>(p, j, w);
      float_rows<float, RW, RX>(p, w, j, i0, i1);
    }
    for (; j < rr.end; ++j) {
      const float* w[1];
      row_pointers<float, 1>(p, j, w);
      float_rows<float, 1, RX>(p, w, j, i0, i1);
    }
  }
}

template <int RW, int RX>
void f16_gemm(const MatmulProblem& p, int ith, int nth) {
  const Range rr = split_range(p.n, ith, nth, 4);
  if (p.m == 1) {  // decode: widen in registers, nothing to reuse
    int64_t j = rr.begin;
    for (; j + 4 <= rr.end; j += 4) {
      const uint16_t* w[4];
      row_pointers<uint16_t, 4>(p, j, w);
      float_tile_store<uint16_t, 4, 1>(p, w, j, 0);
    }
    for (; j < rr.end; ++j) {
      const uint16_t* w[1];
      row_pointers<uint16_t, 1>(p, j, w);
      float_tile_store<uint16_t, 1, 1>(p, w, j, 0);
    }
    return;
  }
  // Prompt: widen RW rows into a buffer once per X block, then f32 tiles.
  static thread_local std::vector<float> wide;
  wide.resize(static_cast<size_t>(RW * p.k));
  auto widen = [&](int64_t j, int rows) {
    for (int r = 0; r < rows; ++r) {
      const auto* src = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(p.w) + (j + r) * p.w_row_stride);
      float* dst = wide.data() + r * p.k;
      int64_t t = 0;
      const F16Consts fc = F16Consts::loop();
      for (; t + 4 <= p.k; t += 4) wasm_v128_store(dst + t, load_f16x4(src + t, fc));
      for (; t < p.k; ++t) dst[t] = fp16_to_fp32(src[t]);
    }
  };
  for (int64_t i0 = 0; i0 < p.m; i0 += kFloatXBlock) {
    const int64_t i1 = i0 + kFloatXBlock < p.m ? i0 + kFloatXBlock : p.m;
    int64_t j = rr.begin;
    for (; j + RW <= rr.end; j += RW) {
      widen(j, RW);
      const float* w[RW];
      for (int r = 0; r < RW; ++r) w[r] = wide.data() + r * p.k;
      float_rows<float, RW, RX>(p, w, j, i0, i1);
    }
    for (; j < rr.end; ++j) {
      widen(j, 1);
      const float* w[1] = {wide.data()};
      float_rows<float, 1, RX>(p, w, j, i0, i1);
    }
  }
}

// ---------------------------------------------------------------------------
// Row-dot types (q4_1, q5_0, q5_1, k-quants, wa_vq2 / wa_vq3)

#include "backends/cpu/kernels_wasm_rowdot.h"

// ---------------------------------------------------------------------------
// Relaxed SIMD (this file compiled again as kernels_wasm_relaxed.cpp): q4_0
// with i16x8.relaxed_dot_i8x16_i7x16_s, 16 byte products per instruction
// (pmaddubsw on x86 engines, which the engine needs the second operand in
// [0, 127] for: q4_0's unsigned nibbles; the -8 comes through the
// activations' sums).

#if defined(WA_WASM_RELAXED)


// m > 1: X rows into quad panels (kernels_impl.h); threads split the panels.
// A panel's 4 rows are quantized block by block and interleaved in
// registers (4x4 transposes of their 4-byte k groups), so each 16 bytes of
// the layout are one store (4 scattered stores per 16 bytes and a scalar
// sum per row took most of this function's time).
void prepare_quad_panels(const MatmulProblem& p, void* ws, int ith, int nth) {
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kQuadPanelRows - 1) / kQuadPanelRows;
  const Range r = split_range(p.m, ith, nth, kQuadPanelRows);
  auto* base = static_cast<uint8_t*>(ws);
  for (int64_t row0 = r.begin; row0 < r.end; row0 += kQuadPanelRows) {
    const int64_t pi = row0 / kQuadPanelRows;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = base + chunked_block_offset(pi, b, panels, nb, kQuadPanelBlockBytes);
      v128_t q[kQuadPanelRows][2], sum[kQuadPanelRows];
      alignas(16) float d[kQuadPanelRows];
      for (int rr = 0; rr < kQuadPanelRows; ++rr) {
        const int64_t row = row0 + rr;
        d[rr] = 0.0f;  // padding rows: zero values and scale
        q[rr][0] = q[rr][1] = wasm_i8x16_splat(0);
        if (row < p.m) d[rr] = quantize_block32(p.x + row * p.x_row_stride + b * 32, q[rr]);
        sum[rr] = wasm_i32x4_extadd_pairwise_i16x8(
            wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(q[rr][0]), wasm_i16x8_extadd_pairwise_i8x16(q[rr][1])));
      }
      for (int h = 0; h < 2; ++h) {
        const v128_t t01 = wasm_i32x4_shuffle(q[0][h], q[1][h], 0, 4, 1, 5);
        const v128_t t23 = wasm_i32x4_shuffle(q[2][h], q[3][h], 0, 4, 1, 5);
        const v128_t u01 = wasm_i32x4_shuffle(q[0][h], q[1][h], 2, 6, 3, 7);
        const v128_t u23 = wasm_i32x4_shuffle(q[2][h], q[3][h], 2, 6, 3, 7);
        wasm_v128_store(blk + (4 * h + 0) * 16, wasm_i32x4_shuffle(t01, t23, 0, 1, 4, 5));
        wasm_v128_store(blk + (4 * h + 1) * 16, wasm_i32x4_shuffle(t01, t23, 2, 3, 6, 7));
        wasm_v128_store(blk + (4 * h + 2) * 16, wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5));
        wasm_v128_store(blk + (4 * h + 3) * 16, wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7));
      }
      wasm_v128_store(blk + 128, wasm_v128_load(d));
      // c = -8 * sum of the row's 32 values, lane rr = row rr
      wasm_v128_store(blk + 144, wasm_i32x4_mul(transpose_sum4(sum[0], sum[1], sum[2], sum[3]), wasm_i32x4_splat(-8)));
    }
  }
}

// m == 1: X into byte-row records (kernels_impl.h); threads split the blocks.
void prepare_byte_row(const MatmulProblem& p, void* ws, int ith, int nth) {
  const Range r = split_range(p.k / 32, ith, nth, 1);
  auto* base = static_cast<uint8_t*>(ws);
  for (int64_t b = r.begin; b < r.end; ++b) {
    uint8_t* rec = base + static_cast<size_t>(b) * kByteRowBlockBytes;
    const float d = quantize_block32(p.x + b * 32, reinterpret_cast<int8_t*>(rec));
    int32_t sum = 0;
    for (int t = 0; t < 32; ++t) sum += static_cast<int8_t>(rec[t]);
    const int32_t c = -8 * sum;
    std::memcpy(rec + 32, &c, 4);
    std::memcpy(rec + 36, &d, 4);
  }
}

// One q4_0 block's 32 nibbles in k order as bytes (lo: elements 0..15, hi: 16..31).
void q4_nibbles(const uint8_t* qs, v128_t m0f, v128_t* lo, v128_t* hi) {
  const v128_t q = wasm_v128_load(qs);
  *lo = wasm_v128_and(q, m0f);
  *hi = wasm_v128_and(wasm_u16x8_shr(q, 4), m0f);
}

// q4_0, m == 1: rows j0 .. j0 + R over the byte-row records. Per block and
// row the integer sum is exact (|lane| <= 4 * 127 * 15 in 16 bits), so the
// float sequence is the SIMD128 kernel's: y = sum_b sum_int * (dx dw).
template <int R>
void q4_gemv_rows_relaxed(const MatmulProblem& p, const void* ws, int64_t j0) {
  static_assert(R == 1 || R == 4);
  const int64_t nb = p.k / 32;
  const auto* rec = static_cast<const uint8_t*>(ws);
  const BlockQ4_0* w[4];
  for (int r = 0; r < 4; ++r) {
    w[r] = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(p.w) + (j0 + (r < R ? r : 0)) * p.w_row_stride);
  }
  v128_t acc = wasm_f32x4_splat(0.0f);
  const F16Consts fc = F16Consts::loop();
  const v128_t m0f = opaque(wasm_i8x16_splat(0x0f));
  for (int64_t b = 0; b < nb; ++b, rec += kByteRowBlockBytes) {
    const v128_t x0 = wasm_v128_load(rec), x1 = wasm_v128_load(rec + 16);
    v128_t s[R];
    WA_UNROLL
    for (int r = 0; r < R; ++r) {
      v128_t lo, hi;
      q4_nibbles(w[r][b].qs, m0f, &lo, &hi);
      s[r] = wasm_i32x4_extadd_pairwise_i16x8(
          wasm_i16x8_add(relaxed_dot_i8x16_i7x16(x0, lo), relaxed_dot_i8x16_i7x16(x1, hi)));
    }
    v128_t tot, sc;
    if constexpr (R == 4) {
      tot = transpose_sum4(s[0], s[1], s[2], s[3]);
      sc = row_scales4(w, b, fc);
    } else {
      tot = wasm_i32x4_add(s[0], wasm_i32x4_shuffle(s[0], s[0], 2, 3, 0, 1));
      tot = wasm_i32x4_add(tot, wasm_i32x4_shuffle(tot, tot, 1, 0, 3, 2));
      sc = wasm_f32x4_splat(fp16_to_fp32(w[0][b].d));
    }
    tot = wasm_i32x4_add(tot, wasm_v128_load32_splat(rec + 32));
    sc = wasm_f32x4_mul(wasm_v128_load32_splat(rec + 36), sc);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), sc));
  }
  if constexpr (R == 4) {
    wasm_v128_store(p.y + j0, acc);
  } else {
    p.y[j0] = wasm_f32x4_extract_lane(acc, 0);
  }
}

// q4_0x4: the group of 4 rows at j0 over the byte-row records, its records
// one sequential stream (in q4_0 the 4 rows are 4 streams a row apart,
// which measured 3x slower per byte than one stream once the weights come
// from DRAM, as in decode). Per row the integer sum is
// q4_gemv_rows_relaxed's, added up in 16 bits before the transpose
// (|lane| <= 4 * 2 * 2 * 127 * 15 = 30480) and widened once; the float
// sequence is the same, so are the bits.
void q4x4_gemv_group_relaxed(const MatmulProblem& p, const void* ws, int64_t j0) {
  const int64_t nb = p.k / 32;
  const auto* rec = static_cast<const uint8_t*>(ws);
  const auto* w = static_cast<const uint8_t*>(p.w) + j0 * p.w_row_stride;
  v128_t acc = wasm_f32x4_splat(0.0f);
  const Q4x4Consts qc;
  const v128_t m0f = opaque(wasm_i8x16_splat(0x0f));
  for (int64_t b = 0; b < nb; ++b, rec += kByteRowBlockBytes, w += kQ4x4RecordBytes) {
    const v128_t x0 = wasm_v128_load(rec), x1 = wasm_v128_load(rec + 16);
    v128_t s[4];
    WA_UNROLL
    for (int r = 0; r < 4; ++r) {
      v128_t lo, hi;
      q4_nibbles(w + 16 * r, m0f, &lo, &hi);
      s[r] = wasm_i16x8_add(relaxed_dot_i8x16_i7x16(x0, lo), relaxed_dot_i8x16_i7x16(x1, hi));
    }
    // transpose_sum4 on 16-bit lanes: lanes 2r, 2r + 1 end up row r's.
    const v128_t u01 = wasm_i16x8_add(wasm_i32x4_shuffle(s[0], s[1], 0, 4, 1, 5), wasm_i32x4_shuffle(s[0], s[1], 2, 6, 3, 7));
    const v128_t u23 = wasm_i16x8_add(wasm_i32x4_shuffle(s[2], s[3], 0, 4, 1, 5), wasm_i32x4_shuffle(s[2], s[3], 2, 6, 3, 7));
    v128_t tot = wasm_i32x4_extadd_pairwise_i16x8(
        wasm_i16x8_add(wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5), wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7)));
    tot = wasm_i32x4_add(tot, wasm_v128_load32_splat(rec + 32));
    const v128_t sc = wasm_f32x4_mul(wasm_v128_load32_splat(rec + 36), q4x4_scales(w, qc));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), sc));
  }
  wasm_v128_store(p.y + j0, acc);
}

// Both q4_0 layouts; rows past a q4_0x4 tensor's last group are q4_0 rows.
void q4_gemv_relaxed(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const Range r = split_range(p.n, ith, nth, kQ4x4Rows);
  int64_t j = r.begin;
  if (p.wtype == DType::q4_0x4) {
    for (; j + kQ4x4Rows <= r.end; j += kQ4x4Rows) q4x4_gemv_group_relaxed(p, ws, j);
  }
  for (; j + 4 <= r.end; j += 4) q4_gemv_rows_relaxed<4>(p, ws, j);
  for (; j < r.end; ++j) q4_gemv_rows_relaxed<1>(p, ws, j);
}

// One group's k chunk of q4_0 weights as unsigned nibble bytes in k order.
struct NibbleBuf {
  alignas(16) uint8_t w[kGroupRows][kChunkBlocks * 32];
  alignas(16) float d[kGroupRows][kChunkBlocks];
};

// Rows j0 .. j0 + rows of the group (j0 a multiple of kGroupRows, so of
// kQ4x4Rows), k blocks b0 .. b0 + nbc. q4_0x4 rows go a group of 4 at a
// time: one record per block, its 4 scales converted together (q4x4_scales:
// the values fp16_to_fp32 gives, in 3 operations instead of 4 scalar
// conversions and 4 address computations through q4_block).
void unpack_group_nibbles(const MatmulProblem& p, int64_t j0, int rows, int64_t b0, int nbc, NibbleBuf* buf) {
  const v128_t m0f = wasm_i8x16_splat(0x0f);
  int r0 = 0;
  if (p.wtype == DType::q4_0x4) {
    const int64_t packed = p.n / kQ4x4Rows * kQ4x4Rows;  // rows past it stay q4_0
    const Q4x4Consts qc;
    for (; r0 + kQ4x4Rows <= rows && j0 + r0 + kQ4x4Rows <= packed; r0 += kQ4x4Rows) {
      const uint8_t* rec = static_cast<const uint8_t*>(p.w) + static_cast<size_t>(j0 + r0) * p.w_row_stride +
                           static_cast<size_t>(b0) * kQ4x4RecordBytes;
      for (int b = 0; b < nbc; ++b, rec += kQ4x4RecordBytes) {
        for (int i = 0; i < kQ4x4Rows; ++i) {
          v128_t lo, hi;
          q4_nibbles(rec + 16 * i, m0f, &lo, &hi);
          wasm_v128_store(&buf->w[r0 + i][b * 32], lo);
          wasm_v128_store(&buf->w[r0 + i][b * 32 + 16], hi);
        }
        const v128_t d = q4x4_scales(rec, qc);
        buf->d[r0][b] = wasm_f32x4_extract_lane(d, 0);
        buf->d[r0 + 1][b] = wasm_f32x4_extract_lane(d, 1);
        buf->d[r0 + 2][b] = wasm_f32x4_extract_lane(d, 2);
        buf->d[r0 + 3][b] = wasm_f32x4_extract_lane(d, 3);
      }
    }
  }
  for (int r = r0; r < kGroupRows; ++r) {
    if (r >= rows) {  // padding rows: zero scale makes their (discarded) results 0
      std::memset(buf->w[r], 0, static_cast<size_t>(nbc) * 32);
      for (int b = 0; b < nbc; ++b) buf->d[r][b] = 0.0f;
      continue;
    }
    for (int b = 0; b < nbc; ++b) {
      const Q4Block q = q4_block(p.wtype, p.w, p.w_row_stride, p.n, j0 + r, b0 + b);  // either layout
      v128_t lo, hi;
      q4_nibbles(q.qs, m0f, &lo, &hi);
      wasm_v128_store(&buf->w[r][b * 32], lo);
      wasm_v128_store(&buf->w[r][b * 32 + 16], hi);
      buf->d[r][b] = fp16_to_fp32(q.d);
    }
  }
}

// Pins v here: an empty asm statement, no code. LLVM then neither
// re-associates an integer sum through v (its reassociation turns a sum
// tree back into a serial chain) nor moves v's computation past a later
// pin: the pins keep the order the tile below writes its work in.
void pin(v128_t& v) { __asm__ volatile("" : "+r"(v)); }

// acc[r][c] lane l += the chunk's W row (r0 + r) . X row l of quad panel c.
// Per block the 16-bit sums are exact: a lane adds 8 pairs of products,
// |lane| <= 8 * 2 * 127 * 15 = 30480, and so does every partial sum.
//
// The loop is bound by latency, not by the engine's instruction throughput:
// a W row's block is a chain (splat load, dot, sums, widening, convert,
// multiply, add) of about 30 cycles on x86, and the out-of-order window holds
// the work of a few rows. So the dots of a row are summed as a tree (depth
// 3, not a chain of 7), two rows are interleaved (independent work next to
// each other in the code V8 emits, which follows the wasm order) and each
// pair's float update follows its sums (pin() keeps that order and the tree:
// LLVM would otherwise sink every update to the block's end and spill).
//
// The group buffer's address goes through a volatile once per tile: buf is a
// (thread_local) global, and with its address a link-time constant LLVM
// adds it to every W load's index as an i32.add instead of a load offset.
// (V8 in Chromium 156 still emits an lea per W splat: it adds a
// load32_splat's offset to the memory base; v128.load keeps it as a
// displacement. W pre-splat into 16-byte vectors, no lea and 287 instead of
// 350 instructions per block, measured within 2% either way: the loop is
// not bound by its instruction count.)
template <int RW, int RX>
void q4_gemm_tile_relaxed(const NibbleBuf& buf, int r0, const uint8_t* xp, size_t panel_stride, int nbc,
                          v128_t acc[RW][RX]) {
  constexpr int RP = RW % 2 == 0 ? 2 : 1;  // W rows interleaved
  const NibbleBuf* volatile bufv = &buf;
  const uint8_t* w0 = bufv->w[r0];
  const float* d0 = bufv->d[r0];
  // i32x4.dot_i16x8 with ones is extadd_pairwise (pmaddwd), its ones in a register.
  const v128_t ones = opaque(wasm_i16x8_splat(1));
  for (int b = 0; b < nbc; ++b) {
    const uint8_t* xb = xp + static_cast<size_t>(b) * kQuadPanelBlockBytes;
    const uint8_t* wb = w0 + b * 32;
    v128_t x[RX][8], dx[RX], cx[RX];
    WA_UNROLL
    for (int c = 0; c < RX; ++c) {
      WA_UNROLL
      for (int g = 0; g < 8; ++g) x[c][g] = wasm_v128_load(xb + c * panel_stride + g * 16);
      dx[c] = wasm_v128_load(xb + c * panel_stride + 128);
      cx[c] = wasm_v128_load(xb + c * panel_stride + 144);
    }
    WA_UNROLL
    for (int r = 0; r < RW; r += RP) {
      // dot of k group g (4 k) of row r + i with panel c
      auto dot = [&](int i, int c, int g) {
        return relaxed_dot_i8x16_i7x16(x[c][g], wasm_v128_load32_splat(wb + (r + i) * (kChunkBlocks * 32) + 4 * g));
      };
      v128_t h[RP][RX][2];
      WA_UNROLL
      for (int half = 0; half < 2; ++half) {
        v128_t q[RP][RX][2];
        WA_UNROLL
        for (int k = 0; k < 2; ++k)
          WA_UNROLL
          for (int i = 0; i < RP; ++i)
            WA_UNROLL
            for (int c = 0; c < RX; ++c) {
              const int g = 4 * half + 2 * k;
              q[i][c][k] = wasm_i16x8_add(dot(i, c, g), dot(i, c, g + 1));
              pin(q[i][c][k]);
            }
        WA_UNROLL
        for (int i = 0; i < RP; ++i)
          WA_UNROLL
          for (int c = 0; c < RX; ++c) {
            h[i][c][half] = wasm_i16x8_add(q[i][c][0], q[i][c][1]);
            pin(h[i][c][half]);
          }
      }
      WA_UNROLL
      for (int i = 0; i < RP; ++i) {
        const v128_t dw = wasm_v128_load32_splat(d0 + (r + i) * kChunkBlocks + b);
        WA_UNROLL
        for (int c = 0; c < RX; ++c) {
          const v128_t s = wasm_i16x8_add(h[i][c][0], h[i][c][1]);
          const v128_t tot = wasm_i32x4_add(wasm_i32x4_dot_i16x8(s, ones), cx[c]);
          volatile v128_t* a = &acc[r + i][c];  // in memory, as in int8_gemm_tile
          *a = wasm_f32x4_add(*a, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(tot), wasm_f32x4_mul(dx[c], dw)));
        }
      }
    }
  }
}

template <int RW, int RX>
void q4_gemm_tile_store_relaxed(const MatmulProblem& p, const NibbleBuf& buf, int64_t j0, int t, int rows,
                                const uint8_t* xp, size_t panel_stride, int64_t pi, int nbc, bool first_chunk) {
  v128_t acc[RW][RX];
  zero_tile<RW, RX>(acc);
  q4_gemm_tile_relaxed<RW, RX>(buf, t, xp, panel_stride, nbc, acc);
  store_tile<RW, RX>(p, acc, j0, t, rows, pi, first_chunk);
}

template <int RW, int RX>
void q4_gemm_relaxed(const MatmulProblem& p, const void* ws, int ith, int nth) {
  static_assert(kGroupRows % RW == 0, "tiles must not read past the group buffer");
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kQuadPanelRows - 1) / kQuadPanelRows;
  const auto* base = static_cast<const uint8_t*>(ws);
  const Range rr = split_range(p.n, ith, nth, kGroupRows);
  static thread_local NibbleBuf buf;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int nbc = static_cast<int>(nb - b0 < kChunkBlocks ? nb - b0 : kChunkBlocks);
    const size_t panel_stride = static_cast<size_t>(nbc) * kQuadPanelBlockBytes;
    for (int64_t j0 = rr.begin; j0 < rr.end; j0 += kGroupRows) {
      const int rows = static_cast<int>(rr.end - j0 < kGroupRows ? rr.end - j0 : kGroupRows);
      unpack_group_nibbles(p, j0, rows, b0, nbc, &buf);
      int64_t pi = 0;
      for (; pi + RX <= panels; pi += RX) {
        const uint8_t* xp = base + chunked_block_offset(pi, b0, panels, nb, kQuadPanelBlockBytes);
        for (int t = 0; t < rows; t += RW) {
          q4_gemm_tile_store_relaxed<RW, RX>(p, buf, j0, t, rows, xp, panel_stride, pi, nbc, b0 == 0);
        }
      }
      for (; pi < panels; ++pi) {
        const uint8_t* xp = base + chunked_block_offset(pi, b0, panels, nb, kQuadPanelBlockBytes);
        for (int t = 0; t < rows; t += RW) {
          q4_gemm_tile_store_relaxed<RW, 1>(p, buf, j0, t, rows, xp, panel_stride, pi, nbc, b0 == 0);
        }
      }
    }
  }
}

#endif  // WA_WASM_RELAXED

// ---------------------------------------------------------------------------
// Tile selection

using ComputeFn = void (*)(const MatmulProblem& p, const void* ws, int ith, int nth);

struct Int8Variant {
  int rw, rx;  // rx in X rows
  ComputeFn q4, q8;
};
struct FloatVariant {
  int rw, rx;
  ComputeFn f32, f16;
};

template <int RW, int RX>
constexpr Int8Variant int8_variant() {
  static_assert(kPairPanelRows == kQuadPanelRows, "a tile's X rows mean the same for both q4_0 layouts");
  return {RW, RX * kPairPanelRows,
#if defined(WA_WASM_RELAXED)
          [](const MatmulProblem& p, const void* ws, int ith, int nth) { q4_gemm_relaxed<RW, RX>(p, ws, ith, nth); },
#else
          [](const MatmulProblem& p, const void* ws, int ith, int nth) { int8_gemm<true, RW, RX>(p, ws, ith, nth); },
#endif
          [](const MatmulProblem& p, const void* ws, int ith, int nth) { int8_gemm<false, RW, RX>(p, ws, ith, nth); }};
}

template <int RW, int RX>
constexpr FloatVariant float_variant() {
  return {RW, RX, [](const MatmulProblem& p, const void*, int ith, int nth) { f32_gemm<RW, RX>(p, ith, nth); },
          [](const MatmulProblem& p, const void*, int ith, int nth) { f16_gemm<RW, RX>(p, ith, nth); }};
}

// The candidates bench/wasm_gemm_tiles.cpp measures; the first is the default.
// Relaxed SIMD: W rows x 1 panel (4 X rows), measured 3-9% faster than 4 x
// 2 panels on q4_0 with V8 on x86-64 (EPYC, Node 20; q8_0 within noise):
// V8's code keeps the block's 8 X vectors in registers and streams the W
// rows' splats past them (BENCHMARKS.md, 2026-11-27 22:58). 16 rows (the
// whole group) first: 2-7% over 8 rows on q4_0 (Node 26, whose V8 is close
// to Chromium's; BENCHMARKS.md, 2026-11-28 wasmpp3): the block's X loads,
// spills and loop overhead serve twice the rows, and a panel's k chunk is
// read once per group instead of twice.
constexpr Int8Variant kInt8Variants[] = {
#if defined(WA_WASM_RELAXED)
    int8_variant<16, 1>(), int8_variant<8, 1>(), int8_variant<4, 2>(), int8_variant<2, 2>(), int8_variant<2, 3>(),
    int8_variant<2, 4>(), int8_variant<1, 4>(),
#else
    int8_variant<4, 2>(), int8_variant<2, 2>(), int8_variant<2, 3>(), int8_variant<2, 4>(),
    int8_variant<8, 1>(), int8_variant<1, 4>(),
#endif
};
constexpr FloatVariant kFloatVariants[] = {
    float_variant<4, 2>(), float_variant<3, 3>(), float_variant<2, 4>(), float_variant<2, 2>(),
};

// Atomic: a measurement switches tiles on one thread while pool threads read them.
std::atomic<const Int8Variant*> g_int8{&kInt8Variants[0]};
std::atomic<const FloatVariant*> g_float{&kFloatVariants[0]};

void compute(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const Int8Variant* i8 = g_int8.load(std::memory_order_relaxed);
  const FloatVariant* fl = g_float.load(std::memory_order_relaxed);
  switch (p.wtype) {
    case DType::q4_0:
    case DType::q4_0x4:
#if defined(WA_WASM_RELAXED)
      if (p.m == 1) return q4_gemv_relaxed(p, ws, ith, nth);
#endif
      return p.m == 1 ? int8_gemv<true>(p, ws, ith, nth) : i8->q4(p, ws, ith, nth);
    case DType::q8_0:
      return p.m == 1 ? int8_gemv<false>(p, ws, ith, nth) : i8->q8(p, ws, ith, nth);
    case DType::f32:
      return p.m == 1 ? f32_gemm<4, 1>(p, ith, nth) : fl->f32(p, ws, ith, nth);
    case DType::f16:
      return fl->f16(p, ws, ith, nth);  // handles m == 1 itself
    default:
      return;
  }
}

#undef WA_UNROLL

}  // namespace
#if defined(WA_WASM_RELAXED)
}  // namespace relaxed_simd
using namespace relaxed_simd;
#endif

#if defined(WA_WASM_RELAXED)
#define WA_WASM_API(name) relaxed_##name
#define WA_WASM_TABLE kWasmRelaxedKernels
#define WA_WASM_ISA Isa::wasm_relaxed
#else
#define WA_WASM_API(name) name
#define WA_WASM_TABLE kWasmSimd128Kernels
#define WA_WASM_ISA Isa::wasm_simd128
#endif

int WA_WASM_API(wasm_int8_tile_count)() { return static_cast<int>(std::size(kInt8Variants)); }
WasmTile WA_WASM_API(wasm_int8_tile)(int i) { return {kInt8Variants[i].rw, kInt8Variants[i].rx}; }
int WA_WASM_API(wasm_float_tile_count)() { return static_cast<int>(std::size(kFloatVariants)); }
WasmTile WA_WASM_API(wasm_float_tile)(int i) { return {kFloatVariants[i].rw, kFloatVariants[i].rx}; }

bool WA_WASM_API(set_wasm_gemm_tiles)(WasmTile int8, WasmTile flt) {
  const Int8Variant* iv = nullptr;
  const FloatVariant* fv = nullptr;
  for (const auto& v : kInt8Variants)
    if (v.rw == int8.w && v.rx == int8.x) iv = &v;
  for (const auto& v : kFloatVariants)
    if (v.rw == flt.w && v.rx == flt.x) fv = &v;
  if (!iv || !fv) return false;
  g_int8.store(iv, std::memory_order_relaxed);
  g_float.store(fv, std::memory_order_relaxed);
  return true;
}

void WA_WASM_API(get_wasm_gemm_tiles)(WasmTile* int8, WasmTile* flt) {
  const Int8Variant* iv = g_int8.load(std::memory_order_relaxed);
  const FloatVariant* fv = g_float.load(std::memory_order_relaxed);
  *int8 = {iv->rw, iv->rx};
  *flt = {fv->rw, fv->rx};
}

const IsaKernels WA_WASM_TABLE = {
    WA_WASM_ISA,    prepare,           compute,        dot_f32_simd, dot_f16_f32_simd,
    axpy_f32_simd,        axpy_f16_f32_simd, scale_f32_simd,
    sum_squares_f32_simd, scale_mul_f32_simd, add_f32_simd, mul_f32_simd, swiglu_f32_simd,
    exp_shifted_f32_simd,
    wasm_row_dot,
    /*q4_0x4=*/true,
};

#undef WA_WASM_API
#undef WA_WASM_TABLE
#undef WA_WASM_ISA

}  // namespace wa::cpu::detail

#endif  // __wasm_simd128__
