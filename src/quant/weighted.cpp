#include "quant/vq.h"
#include "quant/weighted.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/blocks.h"
#include "quant/pack.h"

namespace wa::quant {

double weighted_squared_error(const float* x, const float* y, const float* w, int64_t n) {
  double e = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    e += (w ? static_cast<double>(w[i]) : 1.0) * d * d;
  }
  return e;
}

namespace {

// Round to nearest even, without a library call (the fits below round
// millions of times): adding 1.5 * 2^23 leaves no fraction bits. Clamped
// first, so a huge quotient (a tiny trial step) cannot overflow; every caller
// clamps the level to a small range afterwards.
int nearest(float v) {
  v = std::min(std::max(v, -4.0e6f), 4.0e6f);
  return static_cast<int>((v + 12582912.0f) - 12582912.0f);
}

// The candidate grids of step 1 (weighted.h): the block's extreme value is
// mapped to `level` moved by t, t running over [-0.5, range] in 16 steps.
// Moving past the level (t < 0) widens the grid; moving inside it clips the
// extreme value for finer steps. Finer formats get a wider range of t, since
// clipping costs them less per level.
constexpr int kCandidates = 10;
float candidate_shift(int k, int levels) {
  const float range = std::max(2.0f, 0.2f * static_cast<float>(levels));
  return -0.5f + static_cast<float>(k) * (range + 0.5f) / static_cast<float>(kCandidates - 1);
}

// Type 0: x ~ s * q, q in [-half, half - 1]. Returns the step s (0 for an
// all-zero block). For fixed levels q the best step is sum w x q / sum w q^2,
// and the error is sum w x^2 - (sum w x q)^2 / sum w q^2, so a candidate is
// scored by (sum w x q)^2 / sum w q^2 (larger is better).
float fit_type0(const float* x, const float* w, int n, int half) {
  const float v = signed_amax(x, n);
  if (v == 0.0f) return 0.0f;
  // For step s: the levels, then the best step for them, scored by the error
  // reduction 2 s Sxq - s^2 Sqq (= Sxq^2 / Sqq at the best step).
  auto score = [&](float s, float* fitted) {
    double sxq = 0.0, sqq = 0.0;
    const float inv = 1.0f / s;
    for (int i = 0; i < n; ++i) {
      const int q = clampi(nearest(x[i] * inv), -half, half - 1);
      sxq += static_cast<double>(w[i]) * x[i] * q;
      sqq += static_cast<double>(w[i]) * q * q;
    }
    if (sqq <= 0.0) return -1.0;
    const float f = static_cast<float>(sxq / sqq);
    *fitted = f;
    return 2.0 * f * sxq - static_cast<double>(f) * f * sqq;
  };
  float best_s = v / static_cast<float>(-half);
  double best = -1.0;
  for (int k = 0; k < kCandidates; ++k) {
    const float t = candidate_shift(k, half);
    // The extreme value on the longer (negative) side, as round-to-nearest
    // does, and on the shorter (positive) side.
    for (float level : {static_cast<float>(-half) + t, static_cast<float>(half - 1) - t}) {
      if (std::fabs(level) < 0.5f) continue;
      float fitted = 0.0f;
      const double sc = score(v / level, &fitted);
      if (sc > best && fitted != 0.0f) best = sc, best_s = fitted;
    }
  }
  for (int it = 0; it < 2; ++it) {  // round again with the fitted step
    float fitted = 0.0f;
    const double sc = score(best_s, &fitted);
    if (!(sc > best) || fitted == 0.0f) break;
    best = sc, best_s = fitted;
  }
  return best_s;
}

// Type 1: x ~ s * u + lo, u in [0, levels], s >= 0; with nonpositive_min, lo
// <= 0 (the k-quants store -lo as an unsigned minimum). For fixed levels u,
// (s, lo) solve the 2x2 weighted least-squares problem.
struct Affine {
  float s = 0.0f, lo = 0.0f;
  double err = std::numeric_limits<double>::infinity();
};

// wxx = sum w x^2 of the block (the error follows from the sums, no second pass).
Affine fit_levels(const float* x, const float* w, int n, int levels, bool nonpositive_min, float s, float lo,
                  double wxx) {
  double A = 0, B = 0, C = 0, X1 = 0, X0 = 0;
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  for (int i = 0; i < n; ++i) {
    const int u = clampi(nearest((x[i] - lo) * inv), 0, levels);
    const double wi = w[i];
    A += wi * u * u;
    B += wi * u;
    C += wi;
    X1 += wi * x[i] * u;
    X0 += wi * x[i];
  }
  Affine a;
  const double det = A * C - B * B;
  double fs = s, flo = lo;
  if (C > 0.0 && det > 1e-12 * A * C) {
    fs = (C * X1 - B * X0) / det;
    flo = (A * X0 - B * X1) / det;
  } else if (C > 0.0) {
    flo = (X0 - fs * B) / C;  // every level equal: only the offset is free
  }
  if (nonpositive_min && flo > 0.0) {
    flo = 0.0;
    fs = A > 0.0 ? X1 / A : fs;
  }
  if (!(fs >= 0.0)) fs = s, flo = lo;  // a negative step is no grid: keep the candidate's
  a.s = static_cast<float>(fs);
  a.lo = static_cast<float>(flo);
  // sum w (x - s u - lo)^2 expanded; rounding can make it slightly negative
  fs = a.s, flo = a.lo;
  a.err = std::max(0.0, wxx - 2.0 * fs * X1 - 2.0 * flo * X0 + fs * fs * A + 2.0 * fs * flo * B + flo * flo * C);
  return a;
}

Affine fit_type1(const float* x, const float* w, int n, int levels, bool nonpositive_min) {
  float lo = x[0], hi = x[0];
  double wxx = 0.0;
  for (int i = 0; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]), wxx += static_cast<double>(w[i]) * x[i] * x[i];
  if (nonpositive_min) lo = std::min(lo, 0.0f);
  Affine best;
  if (!(hi > lo)) {  // constant block
    best.lo = lo;
    best.err = 0.0;
    return best;
  }
  for (int k = 0; k < kCandidates; ++k) {
    const float s = (hi - lo) / (static_cast<float>(levels) + candidate_shift(k, levels));
    // Anchored at the bottom (clipping the top) and at the top.
    for (float start : {lo, hi - static_cast<float>(levels) * s}) {
      if (nonpositive_min && start > 0.0f) continue;
      const Affine a = fit_levels(x, w, n, levels, nonpositive_min, s, start, wxx);
      if (a.err < best.err) best = a;
    }
  }
  for (int it = 0; it < 2; ++it) {
    const Affine a = fit_levels(x, w, n, levels, nonpositive_min, best.s, best.lo, wxx);
    if (!(a.err < best.err)) break;
    best = a;
  }
  return best;
}

// Keeps round-to-nearest's encoding of a block when its weighted error is
// lower (weighted.h: never worse than round-to-nearest).
template <class Block>
void keep_better(DType type, const float* x, const float* w, int n, Block* mine) {
  const TypeTraits* t = type_traits(type);
  Block rtn;
  t->from_f32(x, &rtn, n);
  float ym[QK_K], yr[QK_K];
  t->to_f32(mine, ym, n);
  t->to_f32(&rtn, yr, n);
  if (weighted_squared_error(x, yr, w, n) < weighted_squared_error(x, ym, w, n)) std::memcpy(mine, &rtn, sizeof(Block));
}

// Whether the fit can run: some weight positive, every value and weight
// finite (others go to round-to-nearest, whatever it makes of them).
bool fittable(const float* x, const float* w, int n) {
  bool any = false;
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(w[i]) || w[i] < 0.0f) return false;
    any = any || w[i] > 0.0f;
  }
  return any;
}

// ---------------------------------------------------------------- 32-element blocks

void q4_0_block(const float* x, const float* w, BlockQ4_0* o) {
  o->d = fp32_to_fp16(fit_type0(x, w, 32, 8));
  const float D = fp16_to_fp32(o->d);
  uint8_t u[32];
  for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(D != 0.0f ? clampi(nearest(x[i] / D) + 8, 0, 15) : 8);
  pack_block32(u, o->qs, nullptr);
}

void q5_0_block(const float* x, const float* w, BlockQ5_0* o) {
  o->d = fp32_to_fp16(fit_type0(x, w, 32, 16));
  const float D = fp16_to_fp32(o->d);
  uint8_t u[32];
  for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(D != 0.0f ? clampi(nearest(x[i] / D) + 16, 0, 31) : 16);
  pack_block32(u, o->qs, o->qh);
}

template <class Block>
void type1_block32(const float* x, const float* w, int levels, Block* o, uint8_t* qh) {
  const Affine a = fit_type1(x, w, 32, levels, false);
  o->d = fp32_to_fp16(a.s);
  o->m = fp32_to_fp16(a.lo);
  const float D = fp16_to_fp32(o->d), M = fp16_to_fp32(o->m);
  uint8_t u[32];
  for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(D > 0.0f ? clampi(nearest((x[i] - M) / D), 0, levels) : 0);
  pack_block32(u, o->qs, qh);
}

// ---------------------------------------------------------------- k-quants

// Type-1 super-block (pack.h): sub-block fits, then the integer scales.
// Sub-block scales of q2_K have 4 bits, so rounding them loses much: there a
// few super-block scales below the largest sub-block's are tried as well
// (the largest sub-block's scale then clips at smax; the others gain
// resolution).
double type1_super(const float* x, const float* w, int subs, int levels, int smax, Type1Super* out) {
  const int len = QK_K / subs;
  float step[16], mins[16], max_step = 0.0f, max_min = 0.0f;
  for (int s = 0; s < subs; ++s) {
    const Affine a = fit_type1(x + s * len, w + s * len, len, levels, true);
    step[s] = a.s;
    mins[s] = -a.lo;
    max_step = std::max(max_step, step[s]);
    max_min = std::max(max_min, mins[s]);
  }
  const float factors[] = {1.0f, 0.9f, 0.8f};
  const int n_factors = smax < 63 ? 3 : 1;
  double best_total = std::numeric_limits<double>::infinity();
  for (int f = 0; f < n_factors; ++f) {
    Type1Super t;
    t.d = fp32_to_fp16(max_step / static_cast<float>(smax) * factors[f]);
    t.dmin = fp32_to_fp16(max_min / static_cast<float>(smax));
    const float D = fp16_to_fp32(t.d), Dm = fp16_to_fp32(t.dmin);
    double total = 0.0;
    for (int s = 0; s < subs; ++s) {
      const float* xs = x + s * len;
      const float* ws = w + s * len;
      const int sc0 = D > 0.0f ? static_cast<int>(std::floor(step[s] / D)) : 0;
      const int mn0 = Dm > 0.0f ? static_cast<int>(std::floor(mins[s] / Dm)) : 0;
      double best = std::numeric_limits<double>::infinity();
      for (int dsc = 0; dsc < 2; ++dsc) {
        for (int dmn = 0; dmn < 2; ++dmn) {
          const int sc = clampi(sc0 + dsc, 0, smax), mn = clampi(mn0 + dmn, 0, smax);
          const float ds = D * static_cast<float>(sc), dm = Dm * static_cast<float>(mn);
          double e = 0.0;
          uint8_t u[32];
          for (int i = 0; i < len; ++i) {
            u[i] = static_cast<uint8_t>(ds > 0.0f ? clampi(nearest((xs[i] + dm) / ds), 0, levels) : 0);
            const double d = xs[i] - (static_cast<double>(ds) * u[i] - dm);
            e += ws[i] * d * d;
          }
          if (e < best) {
            best = e;
            t.sc[s] = sc;
            t.mn[s] = mn;
            std::memcpy(t.u + s * len, u, static_cast<size_t>(len));
          }
        }
      }
      total += best;
    }
    if (total < best_total) {
      best_total = total;
      *out = t;
    }
  }
  return best_total;
}

// Type-0 super-block of 16 x 16 (pack.h): each sub-block's step, d mapping
// the largest-magnitude step to smin (the side with one more value, as
// round-to-nearest does), each integer scale tried at both neighbours.
void type0_super(const float* x, const float* w, int half, int smin, int smax, Type0Super* t) {
  float step[16], big = 0.0f;
  for (int s = 0; s < 16; ++s) {
    step[s] = fit_type0(x + s * 16, w + s * 16, 16, half);
    if (std::fabs(step[s]) > std::fabs(big)) big = step[s];
  }
  t->d = fp32_to_fp16(big / static_cast<float>(smin));
  const float D = fp16_to_fp32(t->d);
  for (int s = 0; s < 16; ++s) {
    const float* xs = x + s * 16;
    const float* ws = w + s * 16;
    const int sc0 = D != 0.0f ? static_cast<int>(std::floor(step[s] / D)) : 0;
    double best = std::numeric_limits<double>::infinity();
    for (int dsc = 0; dsc < 2; ++dsc) {
      const int sc = D != 0.0f ? clampi(sc0 + dsc, smin, smax) : 0;
      const float ds = D * static_cast<float>(sc);
      double e = 0.0;
      uint8_t u[16];
      for (int i = 0; i < 16; ++i) {
        const int q = ds != 0.0f ? clampi(nearest(xs[i] / ds), -half, half - 1) : 0;
        u[i] = static_cast<uint8_t>(q + half);
        const double d = xs[i] - static_cast<double>(ds) * q;
        e += ws[i] * d * d;
      }
      if (e < best) {
        best = e;
        t->sc[s] = sc;
        std::memcpy(t->u + s * 16, u, 16);
      }
    }
  }
}

void q2_k_block(const float* x, const float* w, BlockQ2_K* o) {
  Type1Super t;
  type1_super(x, w, 16, 3, 15, &t);
  pack_q2_k(t, o);
}
void q4_k_block(const float* x, const float* w, BlockQ4_K* o) {
  Type1Super t;
  type1_super(x, w, 8, 15, 63, &t);
  pack_q4_k(t, o);
}
void q5_k_block(const float* x, const float* w, BlockQ5_K* o) {
  Type1Super t;
  type1_super(x, w, 8, 31, 63, &t);
  pack_q5_k(t, o);
}
void q3_k_block(const float* x, const float* w, BlockQ3_K* o) {
  Type0Super t;
  type0_super(x, w, 4, -32, 31, &t);
  pack_q3_k(t, o);
}
void q6_k_block(const float* x, const float* w, BlockQ6_K* o) {
  Type0Super t;
  type0_super(x, w, 32, -128, 127, &t);
  pack_q6_k(t, o);
}

// One row of blocks: the block's fit, then the comparison with round-to-nearest.
template <class Block, int QK>
void weighted_row(DType type, const float* x, void* dst, int64_t n, const float* w,
                  void (*fit)(const float*, const float*, Block*)) {
  auto* blocks = static_cast<Block*>(dst);
  for (int64_t b = 0; b < n / QK; ++b) {
    const float* xb = x + b * QK;
    const float* wb = w + b * QK;
    if (!fittable(xb, wb, QK)) {
      type_traits(type)->from_f32(xb, &blocks[b], QK);
      continue;
    }
    fit(xb, wb, &blocks[b]);
    keep_better(type, xb, wb, QK, &blocks[b]);
  }
}

void q4_1_block(const float* x, const float* w, BlockQ4_1* o) { type1_block32(x, w, 15, o, nullptr); }
void q5_1_block(const float* x, const float* w, BlockQ5_1* o) { type1_block32(x, w, 31, o, o->qh); }

}  // namespace

void fit_type1_super(const float* x, const float* w, int subs, int levels, int smax, Type1Super* out) {
  type1_super(x, w, subs, levels, smax, out);
}

bool fit_block32(DType type, const float* x, const float* w, float* step, float* lo) {
  switch (type) {
    case DType::q4_0: case DType::q5_0:
      *step = fit_type0(x, w, 32, type == DType::q4_0 ? 8 : 16);
      *lo = 0.0f;
      return true;
    case DType::q4_1: case DType::q5_1: {
      const Affine a = fit_type1(x, w, 32, type == DType::q4_1 ? 15 : 31, false);
      *step = a.s;
      *lo = a.lo;
      return true;
    }
    default:
      return false;
  }
}

bool has_weighted_quantizer(DType type) {
  switch (type) {
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1: case DType::q2_k: case DType::q3_k:
    case DType::q4_k: case DType::q5_k: case DType::q6_k: case DType::wa_vq2: case DType::wa_vq3:
      return true;
    default:
      return false;
  }
}

bool weighting_helps(DType type) {
  return type == DType::q2_k || type == DType::q4_k || type == DType::q4_0 || is_vq_type(type);
}

bool quantize_row_weighted(DType type, const float* x, void* dst, int64_t n, const float* w) {
  switch (type) {
    case DType::q4_0: weighted_row<BlockQ4_0, 32>(type, x, dst, n, w, q4_0_block); return true;
    case DType::q4_1: weighted_row<BlockQ4_1, 32>(type, x, dst, n, w, q4_1_block); return true;
    case DType::q5_0: weighted_row<BlockQ5_0, 32>(type, x, dst, n, w, q5_0_block); return true;
    case DType::q5_1: weighted_row<BlockQ5_1, 32>(type, x, dst, n, w, q5_1_block); return true;
    case DType::q2_k: weighted_row<BlockQ2_K, QK_K>(type, x, dst, n, w, q2_k_block); return true;
    case DType::q3_k: weighted_row<BlockQ3_K, QK_K>(type, x, dst, n, w, q3_k_block); return true;
    case DType::q4_k: weighted_row<BlockQ4_K, QK_K>(type, x, dst, n, w, q4_k_block); return true;
    case DType::q5_k: weighted_row<BlockQ5_K, QK_K>(type, x, dst, n, w, q5_k_block); return true;
    case DType::q6_k: weighted_row<BlockQ6_K, QK_K>(type, x, dst, n, w, q6_k_block); return true;
    case DType::wa_vq2: case DType::wa_vq3: return quantize_row_vq_weighted(type, x, dst, n, w);
    default: return false;
  }
}

}  // namespace wa::quant
