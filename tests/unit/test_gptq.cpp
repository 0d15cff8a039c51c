// The error-compensating quantizers (quant/gptq.h) on constructed inputs:
// the factor, the output error on correlated inputs against round-to-nearest
// and the importance-weighted quantizers, and the edge cases. Models are
// quantized with them in tests/cli/run_adaptive_tests.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "quant/gptq.h"
#include "quant/weighted.h"

namespace wa {
namespace {

using quant::InputMoments;

const DType kTypes[] = {DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k};
// The 32-weight block types with the quantizer (the pass per block of 32;
// q8_0 has none: gptq.h).
const DType kTypes32[] = {DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1};

// Inputs with correlated columns, as a layer's activations are: x = z A with
// A mixing neighbouring columns (an AR(1)-like chain, correlation ~rho over
// one column) and a per-column scale over two orders of magnitude. H is
// measured from `tokens` samples, as calibration does.
InputMoments correlated_moments(int64_t n, int tokens, double rho, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> scale(static_cast<size_t>(n));
  for (auto& s : scale) s = std::pow(10.0, u(rng));
  InputMoments m;
  m.n = n;
  m.tokens = tokens;
  m.h.assign(static_cast<size_t>(n * n), 0.0);
  std::vector<double> x(static_cast<size_t>(n));
  for (int t = 0; t < tokens; ++t) {
    double prev = g(rng);
    for (int64_t i = 0; i < n; ++i) {
      prev = rho * prev + std::sqrt(1.0 - rho * rho) * g(rng);
      x[static_cast<size_t>(i)] = prev * scale[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) m.h[static_cast<size_t>(i * n + j)] += x[static_cast<size_t>(i)] * x[static_cast<size_t>(j)] / tokens;
    }
  }
  return m;
}

std::vector<float> diagonal(const InputMoments& m) {
  std::vector<float> d(static_cast<size_t>(m.n));
  for (int64_t i = 0; i < m.n; ++i) d[static_cast<size_t>(i)] = static_cast<float>(m.h[static_cast<size_t>(i * m.n + i)]);
  return d;
}

std::vector<float> random_rows(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = g(rng);
  return w;
}

enum class How { rtn, weighted, gptq };

// Quantizes and decodes every row.
std::vector<float> round_trip(DType type, const std::vector<float>& w, int64_t rows, int64_t cols, How how,
                              const quant::GptqFactor* f, const float* imp) {
  std::vector<uint8_t> q(row_bytes(type, cols));
  std::vector<float> back(w.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = w.data() + r * cols;
    if (how == How::gptq) {
      EXPECT_TRUE(quant::quantize_row_gptq(type, x, q.data(), cols, *f, imp));
    } else if (how == How::weighted) {
      EXPECT_TRUE(quant::quantize_row_weighted(type, x, q.data(), cols, imp));
    } else {
      type_traits(type)->from_f32(x, q.data(), cols);
    }
    type_traits(type)->to_f32(q.data(), back.data() + r * cols, cols);
  }
  return back;
}

TEST(Gptq, FactorInvertsTheDampedMoments) {
  const int64_t n = 64;
  const InputMoments m = correlated_moments(n, 40, 0.9, 3);  // fewer tokens than columns: singular without damping
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const auto& u = f.value()->u;
  EXPECT_GT(f.value()->damp, 0.0);
  // (U^T U)(H + damp I) = I
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        double inv_ik = 0.0;  // (U^T U)[i][k]
        for (int64_t l = 0; l <= std::min(i, k); ++l) inv_ik += static_cast<double>(u[static_cast<size_t>(l * n + i)]) * u[static_cast<size_t>(l * n + k)];
        const double hk = m.h[static_cast<size_t>(k * n + j)] + (k == j ? f.value()->damp : 0.0);
        s += inv_ik * hk;
      }
      worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  }
  EXPECT_LT(worst, 1e-3);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(u[static_cast<size_t>(i * n + i)], 0.0f);
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[static_cast<size_t>(i * n + j)], 0.0f) << "U is upper triangular";
  }
}

TEST(Gptq, LowerOutputErrorThanRoundToNearestOnCorrelatedInputs) {
  const int64_t rows = 24, cols = 512;
  const InputMoments m = correlated_moments(cols, 1024, 0.95, 11);
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const std::vector<float> imp = diagonal(m);
  const std::vector<float> w = random_rows(rows, cols, 5);
  for (DType type : kTypes) {
    const auto rtn = round_trip(type, w, rows, cols, How::rtn, nullptr, nullptr);
    const auto wtd = round_trip(type, w, rows, cols, How::weighted, nullptr, imp.data());
    const auto gq = round_trip(type, w, rows, cols, How::gptq, f.value().get(), imp.data());
    const double e_rtn = quant::output_error(w.data(), rtn.data(), rows, cols, cols, m);
    const double e_wtd = quant::output_error(w.data(), wtd.data(), rows, cols, cols, m);
    const double e_gq = quant::output_error(w.data(), gq.data(), rows, cols, cols, m);
    // Measured when written: 0.05-0.10x round-to-nearest's output error and
    // 0.18-0.30x the weighted quantizer's (q2_K..q6_K); the bounds leave room.
    EXPECT_LT(e_gq, 0.3 * e_rtn) << dtype_name(type);
    EXPECT_LT(e_gq, 0.5 * e_wtd) << dtype_name(type);
  }
}

// The same on rows of 384 (whole 32-weight blocks, no k-quant super-block):
// the pass per block of 32 against round-to-nearest and, where the type has
// one, the importance-weighted quantizer.
TEST(Gptq, Block32LowerOutputErrorThanRoundToNearestOnCorrelatedInputs) {
  const int64_t rows = 24, cols = 384;
  const InputMoments m = correlated_moments(cols, 1024, 0.95, 13);
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const std::vector<float> imp = diagonal(m);
  const std::vector<float> w = random_rows(rows, cols, 6);
  for (DType type : kTypes32) {
    const auto rtn = round_trip(type, w, rows, cols, How::rtn, nullptr, nullptr);
    const auto gq = round_trip(type, w, rows, cols, How::gptq, f.value().get(), imp.data());
    const double e_rtn = quant::output_error(w.data(), rtn.data(), rows, cols, cols, m);
    const double e_gq = quant::output_error(w.data(), gq.data(), rows, cols, cols, m);
    // Measured when written: 0.06-0.16x round-to-nearest's output error and
    // 0.24-0.36x the weighted quantizer's; the bounds leave room.
    EXPECT_LT(e_gq, 0.3 * e_rtn) << dtype_name(type);
    if (!quant::has_weighted_quantizer(type)) continue;
    const auto wtd = round_trip(type, w, rows, cols, How::weighted, nullptr, imp.data());
    const double e_wtd = quant::output_error(w.data(), wtd.data(), rows, cols, cols, m);
    EXPECT_LT(e_gq, 0.5 * e_wtd) << dtype_name(type);
  }
}

// Every block the pass writes is one of the format's: finite step (and
// minimum), a non-negative step where there is a minimum; decoding and
// re-rounding each value on its block's grid gives the value back (the
// levels are whole and in range), clamped outliers included.
TEST(Gptq, Block32ValuesStayOnTheGrid) {
  const int64_t rows = 16, cols = 256;
  const InputMoments m = correlated_moments(cols, 600, 0.95, 17);
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok());
  const std::vector<float> imp = diagonal(m);
  std::vector<float> w = random_rows(rows, cols, 8);
  for (int64_t c = 0; c < cols; c += 37) w[static_cast<size_t>(c)] *= 20.0f;  // outliers: clamped levels
  for (DType type : kTypes32) {
    const bool offset = type == DType::q4_1 || type == DType::q5_1;
    const int lo = type == DType::q4_0 ? -8 : type == DType::q5_0 ? -16 : 0;
    const int hi = type == DType::q4_0 ? 7 : type == DType::q5_0 ? 15 : type == DType::q4_1 ? 15 : 31;
    const size_t bb = type_traits(type)->block_bytes;
    std::vector<uint8_t> q(row_bytes(type, cols));
    std::vector<float> y(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(quant::quantize_row_gptq(type, w.data() + r * cols, q.data(), cols, *f.value(), imp.data()));
      type_traits(type)->to_f32(q.data(), y.data(), cols);
      for (int64_t b = 0; b < cols / 32; ++b) {
        const uint8_t* blk = q.data() + b * bb;
        f16_bits d16, m16 = 0;
        std::memcpy(&d16, blk, sizeof d16);  // every block starts with d, the _1 types' m next
        if (offset) std::memcpy(&m16, blk + sizeof d16, sizeof m16);
        const float d = fp16_to_fp32(d16), mn = fp16_to_fp32(m16);
        ASSERT_TRUE(std::isfinite(d) && std::isfinite(mn)) << dtype_name(type);
        if (offset) {
          EXPECT_GE(d, 0.0f) << dtype_name(type);
        }
        for (int e = 0; e < 32; ++e) {
          const float v = y[static_cast<size_t>(b * 32 + e)];
          if (d == 0.0f) {
            EXPECT_EQ(v, mn) << dtype_name(type);
            continue;
          }
          const float t = (v - mn) / d;
          const float level = std::nearbyint(t);
          EXPECT_NEAR(t, level, 1e-3f) << dtype_name(type);
          EXPECT_GE(level, static_cast<float>(lo)) << dtype_name(type);
          EXPECT_LE(level, static_cast<float>(hi)) << dtype_name(type);
        }
      }
    }
  }
}

TEST(Gptq, UncorrelatedEqualInputsAddNoCompensation) {
  // H = I: U is diagonal, nothing is spread, every value is rounded on its
  // (super-)block's grid: round-to-nearest's own for q3_K/q6_K and q4_0,
  // q5_0 (the same values), the weighted fit's (or, q4_1/q5_1, round-to-
  // nearest's where its weighted error is lower) for the formats with a
  // minimum (their error, near the weighted quantizer's).
  const int64_t rows = 8, cols = 256;
  InputMoments m;
  m.n = cols;
  m.tokens = 1;
  m.h.assign(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i) m.h[static_cast<size_t>(i * cols + i)] = 1.0;
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok());
  const std::vector<float> w = random_rows(rows, cols, 9), ones(static_cast<size_t>(cols), 1.0f);
  std::vector<DType> types(std::begin(kTypes), std::end(kTypes));
  types.insert(types.end(), std::begin(kTypes32), std::end(kTypes32));
  for (DType type : types) {
    const auto gq = round_trip(type, w, rows, cols, How::gptq, f.value().get(), nullptr);
    // The signed-step formats take round-to-nearest's scales (gptq.h), so
    // without compensation they round every value as it does.
    if (type == DType::q3_k || type == DType::q6_k) {
      const auto rtn = round_trip(type, w, rows, cols, How::rtn, nullptr, nullptr);
      EXPECT_EQ(gq, rtn) << dtype_name(type);
      continue;
    }
    // q4_0 and q5_0 on round-to-nearest's step too, each value to the
    // nearest level of the step as stored (f16), where round-to-nearest
    // divides by the step before its f16 rounding: the same values but for
    // a rare neighbour, and never a larger error.
    if (type == DType::q4_0 || type == DType::q5_0) {
      const auto rtn = round_trip(type, w, rows, cols, How::rtn, nullptr, nullptr);
      int64_t differ = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        EXPECT_LE(std::fabs(w[i] - gq[i]), std::fabs(w[i] - rtn[i]) * (1.0f + 1e-6f)) << dtype_name(type) << " " << i;
        differ += gq[i] != rtn[i];
      }
      EXPECT_LE(differ, static_cast<int64_t>(w.size()) / 100) << dtype_name(type);
      continue;
    }
    const auto wtd = round_trip(type, w, rows, cols, How::weighted, nullptr, ones.data());
    const double e_wtd = quant::weighted_squared_error(w.data(), wtd.data(), nullptr, rows * cols);
    const double e_gq = quant::weighted_squared_error(w.data(), gq.data(), nullptr, rows * cols);
    EXPECT_LE(e_gq, 1.05 * e_wtd) << dtype_name(type);
  }
}

TEST(Gptq, EdgeCases) {
  const int64_t cols = 256;
  const InputMoments m = correlated_moments(cols, 300, 0.5, 1);
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok());
  std::vector<float> x = random_rows(1, cols, 2);
  std::vector<uint8_t> a(row_bytes(DType::q4_k, cols));
  // Types without the quantizer, and a row length that does not match the factor.
  for (DType type : {DType::f32, DType::f16, DType::bf16, DType::q8_0}) {
    EXPECT_FALSE(quant::has_gptq_quantizer(type)) << dtype_name(type);
    EXPECT_FALSE(quant::quantize_row_gptq(type, x.data(), a.data(), cols, *f.value(), nullptr)) << dtype_name(type);
  }
  EXPECT_FALSE(quant::quantize_row_gptq(DType::q4_k, x.data(), a.data(), 2 * cols, *f.value(), nullptr));
  EXPECT_FALSE(quant::quantize_row_gptq(DType::q4_0, x.data(), a.data(), cols - 32, *f.value(), nullptr));
  // Rows that are not whole blocks: 48 columns are no 32-weight blocks, 96 no super-block.
  for (int64_t n : {48, 96}) {
    auto fn = quant::gptq_factor(correlated_moments(n, 200, 0.5, 4));
    ASSERT_TRUE(fn.ok());
    for (DType type : kTypes32) {
      EXPECT_EQ(n % 32 == 0, quant::quantize_row_gptq(type, x.data(), a.data(), n, *fn.value(), nullptr)) << dtype_name(type);
    }
    for (DType type : kTypes) {
      EXPECT_FALSE(quant::quantize_row_gptq(type, x.data(), a.data(), n, *fn.value(), nullptr)) << dtype_name(type);
    }
  }
  // A value that is not finite: the row is what round-to-nearest makes of it.
  x[7] = NAN;
  std::vector<DType> types(std::begin(kTypes), std::end(kTypes));
  types.insert(types.end(), std::begin(kTypes32), std::end(kTypes32));
  for (DType type : types) {
    std::vector<uint8_t> qa(row_bytes(type, cols), 0x5a), qb(qa.size(), 0xa5);
    ASSERT_TRUE(quant::quantize_row_gptq(type, x.data(), qa.data(), cols, *f.value(), nullptr)) << dtype_name(type);
    type_traits(type)->from_f32(x.data(), qb.data(), cols);
    EXPECT_EQ(0, std::memcmp(qa.data(), qb.data(), qa.size())) << dtype_name(type);
  }
  // An all-zero row stays zero.
  std::vector<float> zero(static_cast<size_t>(cols), 0.0f), back(static_cast<size_t>(cols), 1.0f);
  for (DType type : types) {
    std::vector<uint8_t> q(row_bytes(type, cols));
    ASSERT_TRUE(quant::quantize_row_gptq(type, zero.data(), q.data(), cols, *f.value(), nullptr));
    type_traits(type)->to_f32(q.data(), back.data(), cols);
    for (float v : back) EXPECT_EQ(v, 0.0f) << dtype_name(type);
  }
  // A tied embedding (a lookup table too) is compensated where measured to help (gptq.h).
  EXPECT_FALSE(quant::compensate_lookup_table(DType::q4_0));
  EXPECT_FALSE(quant::compensate_lookup_table(DType::q4_1));
  EXPECT_FALSE(quant::compensate_lookup_table(DType::q8_0));
  EXPECT_TRUE(quant::compensate_lookup_table(DType::q5_0));
  EXPECT_TRUE(quant::compensate_lookup_table(DType::q5_1));
  // Moments that cannot be factored.
  InputMoments empty;
  EXPECT_FALSE(quant::gptq_factor(empty).ok());
  InputMoments zeros;
  zeros.n = 4;
  zeros.h.assign(16, 0.0);
  EXPECT_FALSE(quant::gptq_factor(zeros).ok());
}

}  // namespace
}  // namespace wa
