#include "quant/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/pack.h"
#include "quant/unpack.h"

namespace wa::quant {

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const f16_bits*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<f16_bits*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
    std::memcpy(&dst[i], &bits, sizeof(float));
  }
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
      h[i] = static_cast<uint16_t>((bits >> 16) | 0x40u);  // keep NaN a NaN
    } else {
      bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
      h[i] = static_cast<uint16_t>(bits >> 16);
    }
  }
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < QK8_0; ++j) dst[b * QK8_0 + j] = d * static_cast<float>(blocks[b].qs[j]);
  }
}

// Symmetric: the largest magnitude maps to +-127.
void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float* x = src + b * QK8_0;
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) blocks[b].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
  }
}

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const float d = fp16_to_fp32(blocks[b].d);
    float* y = dst + b * QK4_0;
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((blocks[b].qs[j] & 0x0f) - 8);
      y[j + QK4_0 / 2] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

// The signed value of largest magnitude maps to -8, so the 16 levels are used
// asymmetrically in the direction that matters for this block.
void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const float* x = src + b * QK4_0;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + QK4_0 / 2] * id + 8.5f));
      blocks[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---------------------------------------------------------------------------
// Shared helpers of the formats below.

namespace {

// Round to nearest, ties to even (the default rounding mode), as an int.
int nearest(float v) { return static_cast<int>(std::lrint(v)); }

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = x[0];
  *mx = x[0];
  for (int i = 1; i < n; ++i) {
    *mn = std::min(*mn, x[i]);
    *mx = std::max(*mx, x[i]);
  }
}

// u in [0, levels] nearest to (x - lo) / step; 0 where the step is 0.
uint8_t level(float x, float lo, float step, int levels) {
  return static_cast<uint8_t>(step > 0.0f ? clampi(nearest((x - lo) / step), 0, levels) : 0);
}

template <class Block>
void dequantize_block32_row(DType t, const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Block*>(src);
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t u[32];
    Block32Params p;
    block32_unpack(t, &blocks[b], u, &p, fp16_to_fp32);
    for (int j = 0; j < 32; ++j) dst[b * 32 + j] = p.D * static_cast<float>(u[j] + p.O) + p.M;
  }
}

template <class Block>
void dequantize_k_row(DType t, const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Block*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    KScales k;
    uint8_t u[QK_K];
    k_scales(t, &blocks[b], &k, fp16_to_fp32);
    k_unpack(t, &blocks[b], u);
    for (int e = 0; e < QK_K; ++e) {
      const int s = e / 16;
      dst[b * QK_K + e] = k.D * static_cast<float>(k.S[s] * u[e]) + k.Cf * static_cast<float>(k.C[s]);
    }
  }
}

}  // namespace

// Type-1 super-block of `subs` sub-blocks (q2_K: 16 x 16, 4-bit scales;
// q4_K/q5_K: 8 x 32, 6-bit scales), values u in [0, levels]:
//   sub-block range [min(0, min x), max x] -> step = range / levels, min m;
//   d = largest step / smax, dmin = largest m / smax (stored as f16), each
//   sub-block's step and min rounded to integers sc, mn of d and dmin; then
//   u = nearest level of (x + dmin * mn) / (d * sc).
// Error: inside the grid half a step (d*sc/2); the grid's ends miss the range
// by at most dmin/2 below and levels * d/2 + dmin/2 above (the rounding of sc
// and mn), so |error| <= d*sc/2 + levels*d/2 + dmin/2 per element.
void quantize_type1_super(const float* x, int subs, int levels, int smax, Type1Super* o) {
  const int len = QK_K / subs;
  float step[16], mins[16], max_step = 0.0f, max_min = 0.0f;
  for (int s = 0; s < subs; ++s) {
    float lo, hi;
    min_max(x + s * len, len, &lo, &hi);
    lo = std::min(lo, 0.0f);
    step[s] = (hi - lo) / static_cast<float>(levels);
    mins[s] = -lo;
    max_step = std::max(max_step, step[s]);
    max_min = std::max(max_min, mins[s]);
  }
  o->d = fp32_to_fp16(max_step / static_cast<float>(smax));
  o->dmin = fp32_to_fp16(max_min / static_cast<float>(smax));
  const float D = fp16_to_fp32(o->d), Dm = fp16_to_fp32(o->dmin);
  for (int s = 0; s < subs; ++s) {
    o->sc[s] = D > 0.0f ? clampi(nearest(step[s] / D), 0, smax) : 0;
    o->mn[s] = Dm > 0.0f ? clampi(nearest(mins[s] / Dm), 0, smax) : 0;
    const float ds = D * static_cast<float>(o->sc[s]), dm = Dm * static_cast<float>(o->mn[s]);
    for (int i = 0; i < len; ++i) o->u[s * len + i] = level(x[s * len + i], -dm, ds, levels);
  }
}

// Type-0 super-block of 16 sub-blocks of 16 (q3_K: q in [-4, 3], 6-bit
// signed scales; q6_K: q in [-32, 31], 8-bit): each sub-block's value of
// largest magnitude v maps to -half (step v / -half, as q4_0 does); d =
// the largest-magnitude step / -smin; sc = nearest(step / d) in [smin, smax];
// q = nearest(x / (d * sc)) in [-half, half - 1], stored as u = q + half.
// Error: half a step inside the grid. sc is off by at most |d| (|d|/2 from
// rounding, |d| where +smax clamps), which moves the grid's ends by at most
// half * |d|; at the far end the +half level does not exist, which costs one
// more step. So |error| <= |d*sc| + half*|d| <= amax_sub/half + (half+1)*|d|.
void quantize_type0_super(const float* x, int half, int smin, int smax, Type0Super* o) {
  float step[16], big = 0.0f;
  for (int s = 0; s < 16; ++s) {
    step[s] = signed_amax(x + s * 16, 16) / static_cast<float>(-half);
    if (std::fabs(step[s]) > std::fabs(big)) big = step[s];
  }
  o->d = fp32_to_fp16(big / static_cast<float>(smin));
  const float D = fp16_to_fp32(o->d);
  for (int s = 0; s < 16; ++s) {
    o->sc[s] = D != 0.0f ? clampi(nearest(step[s] / D), smin, smax) : 0;
    const float ds = D * static_cast<float>(o->sc[s]);
    for (int i = 0; i < 16; ++i) {
      const int q = ds != 0.0f ? clampi(nearest(x[s * 16 + i] / ds), -half, half - 1) : 0;
      o->u[s * 16 + i] = static_cast<uint8_t>(q + half);
    }
  }
}


// ---------------------------------------------------------------------------
// Packing (quant/pack.h)

// Writes the 32 u values (q4_1 / q5_x) as nibbles plus, for 5 bits, qh.
void pack_block32(const uint8_t u[32], uint8_t qs[16], uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((u[j] & 15) | ((u[j + 16] & 15) << 4));
    h |= static_cast<uint32_t>(u[j] >> 4) << j;
    h |= static_cast<uint32_t>(u[j + 16] >> 4) << (j + 16);
  }
  if (qh) {
    for (int i = 0; i < 4; ++i) qh[i] = static_cast<uint8_t>(h >> (8 * i));
  }
}

namespace {

// Packs the low 2 bits of u as q2_K/q3_K do: bits 2p of qs[32h + l].
void pack_2bit(const uint8_t u[QK_K], uint8_t qs[QK_K / 4]) {
  std::memset(qs, 0, QK_K / 4);
  for (int e = 0; e < QK_K; ++e) {
    const int h = e / 128, p = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] = static_cast<uint8_t>(qs[32 * h + l] | ((u[e] & 3) << (2 * p)));
  }
}

// Packs 8 six-bit scales and minimums into q4_K/q5_K's 12 bytes (the inverse
// of kq_scale_min).
void pack_scale_min(const int sc[8], const int mn[8], uint8_t q[12]) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// q4_1 / q5_1: w = d * u + m over the block's [min, max]; u = nearest level.
// |error| <= d/2 plus the f16 rounding of d and m.

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) { dequantize_block32_row<BlockQ4_1>(DType::q4_1, src, dst, n); }
void dequantize_row_q5_0(const void* src, float* dst, int64_t n) { dequantize_block32_row<BlockQ5_0>(DType::q5_0, src, dst, n); }
void dequantize_row_q5_1(const void* src, float* dst, int64_t n) { dequantize_block32_row<BlockQ5_1>(DType::q5_1, src, dst, n); }

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* x = src + b * 32;
    float lo, hi;
    min_max(x, 32, &lo, &hi);
    blocks[b].d = fp32_to_fp16((hi - lo) / 15.0f);
    blocks[b].m = fp32_to_fp16(lo);
    const float D = fp16_to_fp32(blocks[b].d), M = fp16_to_fp32(blocks[b].m);
    uint8_t u[32];
    for (int j = 0; j < 32; ++j) u[j] = level(x[j], M, D, 15);
    pack_block32(u, blocks[b].qs, nullptr);
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* x = src + b * 32;
    float lo, hi;
    min_max(x, 32, &lo, &hi);
    blocks[b].d = fp32_to_fp16((hi - lo) / 31.0f);
    blocks[b].m = fp32_to_fp16(lo);
    const float D = fp16_to_fp32(blocks[b].d), M = fp16_to_fp32(blocks[b].m);
    uint8_t u[32];
    for (int j = 0; j < 32; ++j) u[j] = level(x[j], M, D, 31);
    pack_block32(u, blocks[b].qs, blocks[b].qh);
  }
}

// q5_0: as q4_0 with 32 levels: the value of largest magnitude maps to -16,
// so |error| <= one step (amax/16) at the opposite end, half a step elsewhere.
void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* x = src + b * 32;
    blocks[b].d = fp32_to_fp16(signed_amax(x, 32) / -16.0f);
    const float D = fp16_to_fp32(blocks[b].d);
    uint8_t u[32];
    for (int j = 0; j < 32; ++j) u[j] = static_cast<uint8_t>(D != 0.0f ? clampi(nearest(x[j] / D) + 16, 0, 31) : 16);
    pack_block32(u, blocks[b].qs, blocks[b].qh);
  }
}

// ---------------------------------------------------------------------------
// k-quants

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) { dequantize_k_row<BlockQ2_K>(DType::q2_k, src, dst, n); }
void dequantize_row_q3_k(const void* src, float* dst, int64_t n) { dequantize_k_row<BlockQ3_K>(DType::q3_k, src, dst, n); }
void dequantize_row_q4_k(const void* src, float* dst, int64_t n) { dequantize_k_row<BlockQ4_K>(DType::q4_k, src, dst, n); }
void dequantize_row_q5_k(const void* src, float* dst, int64_t n) { dequantize_k_row<BlockQ5_K>(DType::q5_k, src, dst, n); }
void dequantize_row_q6_k(const void* src, float* dst, int64_t n) { dequantize_k_row<BlockQ6_K>(DType::q6_k, src, dst, n); }

void pack_q2_k(const Type1Super& t, BlockQ2_K* o) {
  o->d = t.d;
  o->dmin = t.dmin;
  for (int s = 0; s < 16; ++s) o->scales[s] = static_cast<uint8_t>(t.sc[s] | (t.mn[s] << 4));
  pack_2bit(t.u, o->qs);
}

void pack_q3_k(const Type0Super& t, BlockQ3_K* o) {
  o->d = t.d;
  std::memset(o->scales, 0, sizeof o->scales);
  for (int s = 0; s < 16; ++s) {
    const int v = t.sc[s] + 32;  // 0..63
    if (s < 8) {
      o->scales[s] = static_cast<uint8_t>(o->scales[s] | (v & 15));
    } else {
      o->scales[s - 8] = static_cast<uint8_t>(o->scales[s - 8] | ((v & 15) << 4));
    }
    o->scales[8 + s % 4] = static_cast<uint8_t>(o->scales[8 + s % 4] | ((v >> 4) << (2 * (s / 4))));
  }
  pack_2bit(t.u, o->qs);
  std::memset(o->hmask, 0, sizeof o->hmask);
  for (int e = 0; e < QK_K; ++e) o->hmask[e % 32] = static_cast<uint8_t>(o->hmask[e % 32] | ((t.u[e] >> 2) << (e / 32)));
}

void pack_q4_k(const Type1Super& t, BlockQ4_K* o) {
  o->d = t.d;
  o->dmin = t.dmin;
  pack_scale_min(t.sc, t.mn, o->scales);
  std::memset(o->qs, 0, sizeof o->qs);
  for (int e = 0; e < QK_K; ++e) {
    const int s = e / 32, l = e % 32;
    o->qs[32 * (s / 2) + l] = static_cast<uint8_t>(o->qs[32 * (s / 2) + l] | ((t.u[e] & 15) << (4 * (s & 1))));
  }
}

void pack_q5_k(const Type1Super& t, BlockQ5_K* o) {
  o->d = t.d;
  o->dmin = t.dmin;
  pack_scale_min(t.sc, t.mn, o->scales);
  std::memset(o->qs, 0, sizeof o->qs);
  std::memset(o->qh, 0, sizeof o->qh);
  for (int e = 0; e < QK_K; ++e) {
    const int s = e / 32, l = e % 32;
    o->qs[32 * (s / 2) + l] = static_cast<uint8_t>(o->qs[32 * (s / 2) + l] | ((t.u[e] & 15) << (4 * (s & 1))));
    o->qh[l] = static_cast<uint8_t>(o->qh[l] | ((t.u[e] >> 4) << s));
  }
}

void pack_q6_k(const Type0Super& t, BlockQ6_K* o) {
  o->d = t.d;
  for (int s = 0; s < 16; ++s) o->scales[s] = static_cast<int8_t>(t.sc[s]);
  std::memset(o->ql, 0, sizeof o->ql);
  std::memset(o->qh, 0, sizeof o->qh);
  for (int e = 0; e < QK_K; ++e) {
    const int h = e / 128, p = (e % 128) / 32, l = e % 32;
    uint8_t& lo = o->ql[64 * h + 32 * (p & 1) + l];
    lo = static_cast<uint8_t>(lo | ((t.u[e] & 15) << (4 * (p >> 1))));
    o->qh[32 * h + l] = static_cast<uint8_t>(o->qh[32 * h + l] | ((t.u[e] >> 4) << (2 * p)));
  }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    Type1Super t;
    quantize_type1_super(src + b * QK_K, 16, 3, 15, &t);
    pack_q2_k(t, static_cast<BlockQ2_K*>(dst) + b);
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    Type0Super t;
    quantize_type0_super(src + b * QK_K, 4, -32, 31, &t);
    pack_q3_k(t, static_cast<BlockQ3_K*>(dst) + b);
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    Type1Super t;
    quantize_type1_super(src + b * QK_K, 8, 15, 63, &t);
    pack_q4_k(t, static_cast<BlockQ4_K*>(dst) + b);
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    Type1Super t;
    quantize_type1_super(src + b * QK_K, 8, 31, 63, &t);
    pack_q5_k(t, static_cast<BlockQ5_K*>(dst) + b);
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    Type0Super t;
    quantize_type0_super(src + b * QK_K, 32, -128, 127, &t);
    pack_q6_k(t, static_cast<BlockQ6_K*>(dst) + b);
  }
}

// ---------------------------------------------------------------------------
// Activations

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    for (int e = 0; e < QK_K; ++e) dst[b * QK_K + e] = blocks[b].d * static_cast<float>(blocks[b].qs[e]);
  }
}

namespace {
// Symmetric 8-bit: largest magnitude -> 127, f32 scale, nearest even (the
// same arithmetic as the q4_0/q8_0 kernels' activation blocks).
float quantize_sym8(const float* x, int n, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < n; ++j) q[j] = static_cast<int8_t>(std::lrint(x[j] * id));
  return d;
}
}  // namespace

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    BlockQ8_K& o = blocks[b];
    o.d = quantize_sym8(src + b * QK_K, QK_K, o.qs);
    for (int i = 0; i < 16; ++i) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += o.qs[16 * i + j];
      o.bsums[i] = static_cast<int16_t>(s);
    }
  }
}

void quantize_row_q8_sum(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8Sum*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    BlockQ8Sum& o = blocks[b];
    o.d = quantize_sym8(src + b * 32, 32, o.qs);
    int s = 0;
    for (int j = 0; j < 32; ++j) s += o.qs[j];
    o.sum = s;
  }
}

// ---------------------------------------------------------------------------
// Reference dot products

namespace {

template <class Block>
float dot_block32(DType t, const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8Sum*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t u[32];
    Block32Params p;
    block32_unpack(t, &wb[b], u, &p, fp16_to_fp32);
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += u[j] * xb[b].qs[j];
    // sum (D (u + O) + M) dx qx = dx D sum(u qx) + dx (D O + M) sum(qx)
    const float off = p.D * static_cast<float>(p.O) + p.M;
    acc = std::fma(xb[b].d * p.D, static_cast<float>(isum), acc);
    acc = std::fma(xb[b].d * off, static_cast<float>(xb[b].sum), acc);
  }
  return acc;
}

// Per super-block: two exact integer sums, then one float expression.
template <class Block>
float dot_k(DType t, const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    KScales k;
    uint8_t u[QK_K];
    k_scales(t, &wb[b], &k, fp16_to_fp32);
    k_unpack(t, &wb[b], u);
    int32_t isa = 0, isc = 0;
    for (int s = 0; s < 16; ++s) {
      int32_t part = 0;
      for (int i = 0; i < 16; ++i) part += u[16 * s + i] * xb[b].qs[16 * s + i];
      isa += k.S[s] * part;
      isc += k.C[s] * xb[b].bsums[s];
    }
    acc += xb[b].d * (k.D * static_cast<float>(isa) + k.Cf * static_cast<float>(isc));
  }
  return acc;
}

}  // namespace

float dot_q4_1_q8_sum(const void* w, const void* x, int64_t nb) { return dot_block32<BlockQ4_1>(DType::q4_1, w, x, nb); }
float dot_q5_0_q8_sum(const void* w, const void* x, int64_t nb) { return dot_block32<BlockQ5_0>(DType::q5_0, w, x, nb); }
float dot_q5_1_q8_sum(const void* w, const void* x, int64_t nb) { return dot_block32<BlockQ5_1>(DType::q5_1, w, x, nb); }
float dot_q2_k_q8_k(const void* w, const void* x, int64_t nb) { return dot_k<BlockQ2_K>(DType::q2_k, w, x, nb); }
float dot_q3_k_q8_k(const void* w, const void* x, int64_t nb) { return dot_k<BlockQ3_K>(DType::q3_k, w, x, nb); }
float dot_q4_k_q8_k(const void* w, const void* x, int64_t nb) { return dot_k<BlockQ4_K>(DType::q4_k, w, x, nb); }
float dot_q5_k_q8_k(const void* w, const void* x, int64_t nb) { return dot_k<BlockQ5_K>(DType::q5_k, w, x, nb); }
float dot_q6_k_q8_k(const void* w, const void* x, int64_t nb) { return dot_k<BlockQ6_K>(DType::q6_k, w, x, nb); }

}  // namespace wa::quant
