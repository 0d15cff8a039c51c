#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/pack.h"
#include "quant/vq.h"
#include "quant/weighted.h"

namespace wa::quant {
namespace {

// In-place lower Cholesky factor of the n x n row-major a (a = L L^T; the
// upper triangle is left as it was). False when a is not positive definite.
bool cholesky(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* rj = a.data() + j * n;
    double d = rj[j];
    for (int64_t k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    rj[j] = std::sqrt(d);
    for (int64_t i = j + 1; i < n; ++i) {
      double* ri = a.data() + i * n;
      double s = ri[j];
      for (int64_t k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / rj[j];
    }
  }
  return true;
}

// U with H^-1 = U^T U, U upper, without forming H^-1: with J the reversal of
// the index order, J H J = M M^T (M lower) gives H^-1 = (J M^-T J)(J M^-1 J),
// so U = J M^-1 J. One factorization and one triangular inverse.
bool inverse_upper_factor(const std::vector<double>& h, int64_t n, double damp, std::vector<float>* u) {
  std::vector<double> m(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) m[static_cast<size_t>(i * n + j)] = h[static_cast<size_t>((n - 1 - i) * n + (n - 1 - j))];
    m[static_cast<size_t>(i * n + i)] += damp;
  }
  if (!cholesky(m, n)) return false;
  // M^-1 column by column (lower triangular), written straight into U's places.
  u->assign(static_cast<size_t>(n * n), 0.0f);
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) {
    y[static_cast<size_t>(c)] = 1.0 / m[static_cast<size_t>(c * n + c)];
    for (int64_t i = c + 1; i < n; ++i) {
      const double* ri = m.data() + i * n;
      double s = 0.0;
      for (int64_t k = c; k < i; ++k) s += ri[k] * y[static_cast<size_t>(k)];
      y[static_cast<size_t>(i)] = -s / ri[i];
    }
    // Minv[i][c] -> U[n-1-i][n-1-c]
    for (int64_t i = c; i < n; ++i) {
      const double v = y[static_cast<size_t>(i)];
      if (!std::isfinite(v)) return false;
      (*u)[static_cast<size_t>((n - 1 - i) * n + (n - 1 - c))] = static_cast<float>(v);
    }
  }
  return true;
}

// Column j was rounded with error `diff`: the least-squares update of the
// columns after it (gptq.h).
inline void spread(float* w, int64_t n, const GptqFactor& f, int64_t j, float diff) {
  const float* row = f.u.data() + j * n;
  const float e = diff / row[j];
  for (int64_t k = j + 1; k < n; ++k) w[k] -= e * row[k];
}

int nearest(float v) { return static_cast<int>(std::lrint(std::min(std::max(v, -1.0e6f), 1.0e6f))); }

// A type-1 k-quant row (q2_K, q4_K, q5_K): per super-block, the scales from
// the compensated values (the importance-weighted fit), then the columns on
// that grid.
template <class Block>
void type1_row(float* w, const float* cw, int64_t n, const GptqFactor& f, int subs, int levels, int smax, void* dst,
               void (*pack)(const Type1Super&, Block*)) {
  const int len = QK_K / subs;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    float* xb = w + b * QK_K;
    Type1Super t;
    fit_type1_super(xb, cw + b * QK_K, subs, levels, smax, &t);
    const float D = fp16_to_fp32(t.d), Dm = fp16_to_fp32(t.dmin);
    for (int e = 0; e < QK_K; ++e) {
      const int s = e / len;
      const float ds = D * static_cast<float>(t.sc[s]), dm = Dm * static_cast<float>(t.mn[s]);
      const int u = ds > 0.0f ? clampi(nearest((xb[e] + dm) / ds), 0, levels) : 0;
      t.u[e] = static_cast<uint8_t>(u);
      spread(w, n, f, b * QK_K + e, xb[e] - (ds * static_cast<float>(u) - dm));
    }
    pack(t, static_cast<Block*>(dst) + b);
  }
}

// A type-0 k-quant row (q3_K, q6_K): the same with symmetric levels, the
// scales chosen as round-to-nearest does (gptq.h says why).
template <class Block>
void type0_row(float* w, const float* cw, int64_t n, const GptqFactor& f, int half, int smin, int smax, void* dst,
               void (*pack)(const Type0Super&, Block*)) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    float* xb = w + b * QK_K;
    Type0Super t;
    quantize_type0_super(xb, half, smin, smax, &t);
    const float D = fp16_to_fp32(t.d);
    for (int e = 0; e < QK_K; ++e) {
      const float ds = D * static_cast<float>(t.sc[e / 16]);
      const int q = ds != 0.0f ? clampi(nearest(xb[e] / ds), -half, half - 1) : 0;
      t.u[e] = static_cast<uint8_t>(q + half);
      spread(w, n, f, b * QK_K + e, xb[e] - ds * static_cast<float>(q));
    }
    pack(t, static_cast<Block*>(dst) + b);
  }
}

// The 32-column block formats: q4_0, q5_0 (w = d * q, q signed) and q4_1,
// q5_1 (w = d * u + m, u unsigned). Levels [lo, hi]; `offset`: a stored
// minimum m.
struct Grid32 {
  int lo = 0, hi = 0;
  bool offset = false;
};

Grid32 grid32(DType type) {
  switch (type) {
    case DType::q4_0: return {-8, 7, false};
    case DType::q5_0: return {-16, 15, false};
    case DType::q4_1: return {0, 15, true};
    case DType::q5_1: return {0, 31, true};
    default: return {};
  }
}

// Stores one block: levels q (grid32's range), step d, minimum m (the _1 types).
void pack_block32_levels(DType type, const int q[32], f16_bits d, f16_bits m, void* dst) {
  uint8_t u[32];
  const int zero = -grid32(type).lo;  // the stored level of 0 (q4_0 8, q5_0 16, the _1 types 0)
  for (int e = 0; e < 32; ++e) u[e] = static_cast<uint8_t>(q[e] + zero);
  switch (type) {
    case DType::q4_0: {
      auto* o = static_cast<BlockQ4_0*>(dst);
      o->d = d;
      pack_block32(u, o->qs, nullptr);  // q4_0's nibbles are laid out as q4_1's
      break;
    }
    case DType::q5_0: {
      auto* o = static_cast<BlockQ5_0*>(dst);
      o->d = d;
      pack_block32(u, o->qs, o->qh);
      break;
    }
    case DType::q4_1: {
      auto* o = static_cast<BlockQ4_1*>(dst);
      o->d = d, o->m = m;
      pack_block32(u, o->qs, nullptr);
      break;
    }
    case DType::q5_1: {
      auto* o = static_cast<BlockQ5_1*>(dst);
      o->d = d, o->m = m;
      pack_block32(u, o->qs, o->qh);
      break;
    }
    default: break;
  }
}

// Round-to-nearest's step and minimum for these 32 values (its own quantizer's choice).
void rtn_block32(DType type, const float* x, f16_bits* d, f16_bits* m) {
  alignas(4) uint8_t block[sizeof(BlockQ5_1)];  // the largest of the four blocks
  static_assert(sizeof(BlockQ5_1) >= sizeof(BlockQ5_0) && sizeof(BlockQ5_1) >= sizeof(BlockQ4_1));
  type_traits(type)->from_f32(x, block, 32);
  std::memcpy(d, block, sizeof(f16_bits));  // every block starts with d, the _1 types' m next
  *m = 0;
  if (grid32(type).offset) std::memcpy(m, block + sizeof(f16_bits), sizeof(f16_bits));
}

// sum_e cw[e] (x[e] - x'[e])^2 of the 32 values rounded to nearest on the grid (d, m).
double block32_error(const float* x, const float* cw, Grid32 g, f16_bits d16, f16_bits m16) {
  const float D = fp16_to_fp32(d16), M = fp16_to_fp32(m16);
  double err = 0.0;
  for (int e = 0; e < 32; ++e) {
    const int q = D != 0.0f ? clampi(nearest((x[e] - M) / D), g.lo, g.hi) : 0;
    const double r = static_cast<double>(x[e]) - (static_cast<double>(D) * q + M);
    err += static_cast<double>(cw[e]) * r * r;
  }
  return err;
}

// A row of 32-column blocks (q4_0, q5_0, q4_1, q5_1): per block, the step
// (and minimum) from the compensated values, then its columns on that grid.
// The step: round-to-nearest's for q4_0 / q5_0; for q4_1 / q5_1 the
// importance-weighted fit's or round-to-nearest's, whichever has the lower
// weighted error on these values (weighted.h's rule) (gptq.h says why).
void block32_row(DType type, float* w, const float* cw, int64_t n, const GptqFactor& f, void* dst) {
  const Grid32 g = grid32(type);
  const size_t bytes = type_traits(type)->block_bytes;
  for (int64_t b = 0; b < n / 32; ++b) {
    float* xb = w + b * 32;
    const float* cb = cw + b * 32;
    f16_bits d16, m16;
    rtn_block32(type, xb, &d16, &m16);
    float step = 0.0f, lo = 0.0f;
    if (g.offset && fit_block32(type, xb, cb, &step, &lo)) {
      const f16_bits fd = fp32_to_fp16(step), fm = fp32_to_fp16(lo);
      if (block32_error(xb, cb, g, fd, fm) < block32_error(xb, cb, g, d16, m16)) d16 = fd, m16 = fm;
    }
    const float D = fp16_to_fp32(d16), M = fp16_to_fp32(m16);
    int q[32];
    for (int e = 0; e < 32; ++e) {
      q[e] = D != 0.0f ? clampi(nearest((xb[e] - M) / D), g.lo, g.hi) : 0;
      spread(w, n, f, b * 32 + e, xb[e] - (D * static_cast<float>(q[e]) + M));
    }
    pack_block32_levels(type, q, d16, m16, static_cast<uint8_t*>(dst) + static_cast<size_t>(b) * bytes);
  }
}

}  // namespace

Result<std::shared_ptr<const GptqFactor>> gptq_factor(const InputMoments& m) {
  const int64_t n = m.n;
  if (n <= 0 || m.h.size() != static_cast<size_t>(n * n)) return invalid_argument("gptq: no second-moment matrix");
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += m.h[static_cast<size_t>(i * n + i)];
  mean /= static_cast<double>(n);
  if (!(mean > 0.0) || !std::isfinite(mean)) return invalid_argument("gptq: the inputs' second moments are zero or not finite");
  auto f = std::make_shared<GptqFactor>();
  f->n = n;
  double damp = 0.01 * mean;
  for (int attempt = 0; attempt < 4; ++attempt, damp *= 10.0) {
    if (inverse_upper_factor(m.h, n, damp, &f->u)) {
      f->damp = damp;
      return std::shared_ptr<const GptqFactor>(std::move(f));
    }
  }
  return invalid_argument(strformat("gptq: the second-moment matrix of %lld inputs is not positive definite even "
                                    "with %g added to its diagonal", static_cast<long long>(n), damp / 10.0));
}

Result<std::map<std::string, std::shared_ptr<const GptqFactor>>> gptq_factors(
    const std::map<std::string, std::shared_ptr<const InputMoments>>& moments) {
  std::map<const InputMoments*, std::shared_ptr<const GptqFactor>> done;
  std::map<std::string, std::shared_ptr<const GptqFactor>> out;
  for (const auto& [name, m] : moments) {
    if (!m) continue;
    auto& f = done[m.get()];
    if (!f) {
      auto r = gptq_factor(*m);
      if (!r.ok()) return r.status().with_context("tensor '" + name + "'");
      f = r.value();
    }
    out.emplace(name, f);
  }
  return out;
}

bool has_gptq_quantizer(DType type) {
  switch (type) {
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k:
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1:
      return true;
    default:
      return is_vq_type(type);
  }
}

bool compensate_lookup_table(DType type, bool per_row_metric) {
  switch (type) {
    case DType::q4_0: case DType::q4_1: case DType::wa_vq2: return false;
    case DType::q2_k: return per_row_metric;
    default: return has_gptq_quantizer(type);
  }
}

bool quantize_row_gptq(DType type, const float* x, void* dst, int64_t n, const GptqFactor& f, const float* col_weights) {
  const int64_t bs = block_size(type);
  if (!has_gptq_quantizer(type) || n % bs != 0 || f.n != n) return false;
  std::vector<float> w(x, x + n), cw(static_cast<size_t>(n), 1.0f);
  bool finite = true;
  for (int64_t j = 0; j < n; ++j) {
    if (col_weights) cw[static_cast<size_t>(j)] = std::isfinite(col_weights[j]) && col_weights[j] > 0.0f ? col_weights[j] : 0.0f;
    finite = finite && std::isfinite(x[j]);
  }
  // A value that is not finite would spread into every later column: such a
  // row gets what round-to-nearest makes of it, as the weighted quantizers do.
  if (!finite) {
    type_traits(type)->from_f32(x, dst, n);
    return true;
  }
  // A (super-)block whose fit weights are all zero would have nothing to fit: equal weights there.
  for (int64_t b = 0; b < n / bs; ++b) {
    float* c = cw.data() + b * bs;
    if (std::all_of(c, c + bs, [](float v) { return v == 0.0f; })) std::fill(c, c + bs, 1.0f);
  }
  if (is_vq_type(type)) {
    return quantize_row_vq_gptq(type, w.data(), cw.data(), dst, n, f);
  }
  switch (type) {
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1:
      block32_row(type, w.data(), cw.data(), n, f, dst);
      break;
    case DType::q2_k: type1_row<BlockQ2_K>(w.data(), cw.data(), n, f, 16, 3, 15, dst, pack_q2_k); break;
    case DType::q4_k: type1_row<BlockQ4_K>(w.data(), cw.data(), n, f, 8, 15, 63, dst, pack_q4_k); break;
    case DType::q5_k: type1_row<BlockQ5_K>(w.data(), cw.data(), n, f, 8, 31, 63, dst, pack_q5_k); break;
    case DType::q3_k: type0_row<BlockQ3_K>(w.data(), cw.data(), n, f, 4, -32, 31, dst, pack_q3_k); break;
    case DType::q6_k: type0_row<BlockQ6_K>(w.data(), cw.data(), n, f, 32, -128, 127, dst, pack_q6_k); break;
    default: return false;
  }
  return true;
}

double output_error(const float* x, const float* y, int64_t rows, int64_t cols, int64_t stride, const InputMoments& m,
                    int64_t row_step) {
  if (m.n != cols || rows <= 0) return 0.0;
  row_step = std::max<int64_t>(1, row_step);
  std::vector<double> d(static_cast<size_t>(cols)), hd(static_cast<size_t>(cols));
  double total = 0.0;
  int64_t used = 0;
  for (int64_t r = 0; r < rows; r += row_step, ++used) {
    for (int64_t j = 0; j < cols; ++j) {
      d[static_cast<size_t>(j)] = static_cast<double>(x[r * stride + j]) - (y ? y[r * stride + j] : 0.0f);
    }
    // H d as a sum of H's rows (contiguous), then d . (H d).
    std::fill(hd.begin(), hd.end(), 0.0);
    for (int64_t i = 0; i < cols; ++i) {
      const double di = d[static_cast<size_t>(i)];
      if (di == 0.0) continue;
      const double* hi = m.h.data() + i * cols;
      for (int64_t j = 0; j < cols; ++j) hd[static_cast<size_t>(j)] += di * hi[j];
    }
    double e = 0.0;
    for (int64_t j = 0; j < cols; ++j) e += d[static_cast<size_t>(j)] * hd[static_cast<size_t>(j)];
    total += e;
  }
  return total * static_cast<double>(rows) / static_cast<double>(used);
}

}  // namespace wa::quant
