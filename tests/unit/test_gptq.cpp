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

TEST(Gptq, UncorrelatedEqualInputsAddNoCompensation) {
  // H = I: U is diagonal, nothing is spread, every value is rounded on its
  // super-block's grid: round-to-nearest's own for q3_K/q6_K (the same
  // bytes), the weighted fit's for the type-1 formats (its error, near the
  // weighted quantizer's).
  const int64_t rows = 8, cols = 256;
  InputMoments m;
  m.n = cols;
  m.tokens = 1;
  m.h.assign(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i) m.h[static_cast<size_t>(i * cols + i)] = 1.0;
  auto f = quant::gptq_factor(m);
  ASSERT_TRUE(f.ok());
  const std::vector<float> w = random_rows(rows, cols, 9), ones(static_cast<size_t>(cols), 1.0f);
  for (DType type : kTypes) {
    const auto gq = round_trip(type, w, rows, cols, How::gptq, f.value().get(), nullptr);
    if (type == DType::q3_k || type == DType::q6_k) {
      const auto rtn = round_trip(type, w, rows, cols, How::rtn, nullptr, nullptr);
      EXPECT_EQ(gq, rtn) << dtype_name(type);
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
  std::vector<uint8_t> a(row_bytes(DType::q4_k, cols)), b(a.size());
  // Types without the quantizer, and a row length that does not match the factor.
  EXPECT_FALSE(quant::has_gptq_quantizer(DType::q4_0));
  EXPECT_FALSE(quant::quantize_row_gptq(DType::q4_0, x.data(), a.data(), cols, *f.value(), nullptr));
  EXPECT_FALSE(quant::quantize_row_gptq(DType::q4_k, x.data(), a.data(), 2 * cols, *f.value(), nullptr));
  // A value that is not finite: the row is what round-to-nearest makes of it.
  x[7] = NAN;
  ASSERT_TRUE(quant::quantize_row_gptq(DType::q4_k, x.data(), a.data(), cols, *f.value(), nullptr));
  type_traits(DType::q4_k)->from_f32(x.data(), b.data(), cols);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size()));
  // An all-zero row stays zero.
  std::vector<float> zero(static_cast<size_t>(cols), 0.0f), back(static_cast<size_t>(cols), 1.0f);
  for (DType type : kTypes) {
    std::vector<uint8_t> q(row_bytes(type, cols));
    ASSERT_TRUE(quant::quantize_row_gptq(type, zero.data(), q.data(), cols, *f.value(), nullptr));
    type_traits(type)->to_f32(q.data(), back.data(), cols);
    for (float v : back) EXPECT_EQ(v, 0.0f) << dtype_name(type);
  }
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
