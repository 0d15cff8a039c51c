// The precision planner (quant/planner.h) and the importance-weighted
// quantizers (quant/weighted.h) on constructed cases. The whole
// `quantize --adaptive` path on model files is in tests/cli/run_adaptive_tests.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "quant/planner.h"
#include "quant/weighted.h"

namespace wa {
namespace {

using quant::Plan;
using quant::PlanItem;
using quant::PlanOption;

// A ladder of options like a real matrix's: bytes grow, loss falls roughly
// by 4x per step, scaled by the matrix's sensitivity.
PlanItem ladder(const std::string& name, uint64_t weights, double sensitivity) {
  PlanItem it;
  it.name = name;
  const DType types[] = {DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::q8_0};
  const double bits[] = {2.625, 3.4375, 4.5, 5.5, 6.5625, 8.5};
  for (int k = 0; k < 6; ++k) {
    it.options.push_back({types[k], static_cast<uint64_t>(bits[k] * static_cast<double>(weights) / 8.0),
                          sensitivity * std::pow(0.25, k)});
  }
  return it;
}

double brute_force(const std::vector<PlanItem>& items, uint64_t budget, size_t i = 0, uint64_t used = 0) {
  if (i == items.size()) return 0.0;
  double best = INFINITY;
  for (const auto& o : items[i].options) {
    if (used + o.bytes > budget) continue;
    best = std::min(best, o.loss + brute_force(items, budget, i + 1, used + o.bytes));
  }
  return best;
}

TEST(Planner, MeetsTheBudgetAndIsDeterministic) {
  std::mt19937 rng(7);
  std::vector<PlanItem> items;
  for (int i = 0; i < 24; ++i) {
    items.push_back(ladder(strformat("m%d", i), 256 * (1 + rng() % 64),
                           std::exp(std::uniform_real_distribution<double>(-5, 2)(rng))));
  }
  uint64_t smallest = 0, largest = 0;
  for (const auto& it : items) smallest += it.options.front().bytes, largest += it.options.back().bytes;
  for (uint64_t budget : {smallest, smallest + 1, (smallest + largest) / 2, largest - 1, largest, largest * 2}) {
    auto a = quant::plan_precision(items, budget);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    EXPECT_LE(a.value().bytes, budget);
    if (budget == (smallest + largest) / 2) {
      auto b = quant::plan_precision(items, budget);
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(a.value().choice, b.value().choice);
    }
    uint64_t sum = 0;
    double loss = 0.0;
    for (size_t i = 0; i < items.size(); ++i) {
      sum += items[i].options[static_cast<size_t>(a.value().choice[i])].bytes;
      loss += items[i].options[static_cast<size_t>(a.value().choice[i])].loss;
    }
    EXPECT_EQ(sum, a.value().bytes);
    EXPECT_DOUBLE_EQ(loss, a.value().loss);
    if (budget >= largest) {  // everything fits: every item at its lowest loss
      for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(a.value().choice[i], 5) << i;
    }
  }
}

TEST(Planner, SpendsBytesWhereTheLossIsAndIsNearOptimal) {
  // Two matrices of equal size, one 100x more sensitive: with room for one
  // step up, it goes to the sensitive one.
  std::vector<PlanItem> items = {ladder("robust", 4096, 0.01), ladder("sensitive", 4096, 1.0)};
  const uint64_t step = items[1].options[1].bytes - items[1].options[0].bytes;
  auto p = quant::plan_precision(items, items[0].options[0].bytes + items[1].options[0].bytes + step);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().choice[0], 0);
  EXPECT_EQ(p.value().choice[1], 1);

  // Against exhaustive search on small random cases (options in any order,
  // not convex, some dominated): the optimum (the budget is small enough for
  // the exact dynamic program).
  std::mt19937 rng(11);
  for (int c = 0; c < 200; ++c) {
    std::vector<PlanItem> small;
    for (int i = 0; i < 5; ++i) {
      PlanItem it;
      it.name = strformat("t%d", i);
      for (int k = 0; k < 4; ++k) {
        it.options.push_back({DType::q4_0, 10 + rng() % 100, std::uniform_real_distribution<double>(0, 1)(rng)});
      }
      small.push_back(it);
    }
    uint64_t lo = 0, hi = 0;
    for (const auto& it : small) {
      uint64_t mn = UINT64_MAX, mx = 0;
      for (const auto& o : it.options) mn = std::min(mn, o.bytes), mx = std::max(mx, o.bytes);
      lo += mn, hi += mx;
    }
    const uint64_t budget = lo + rng() % (hi - lo + 1);
    auto plan = quant::plan_precision(small, budget);
    ASSERT_TRUE(plan.ok());
    EXPECT_LE(plan.value().bytes, budget);
    const double best = brute_force(small, budget);
    EXPECT_NEAR(plan.value().loss, best, 1e-12) << "case " << c;
  }
}

TEST(Planner, RejectsWhatCannotBePlanned) {
  std::vector<PlanItem> items = {ladder("a", 4096, 1.0), ladder("b", 4096, 1.0)};
  const uint64_t smallest = items[0].options[0].bytes + items[1].options[0].bytes;
  auto p = quant::plan_precision(items, smallest - 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(p.status().message().find("below the smallest plan"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find(std::to_string(smallest)), std::string::npos);
  EXPECT_FALSE(quant::plan_precision({}, 100).ok());
  PlanItem empty;
  empty.name = "empty";
  EXPECT_FALSE(quant::plan_precision({empty}, 100).ok());
}

// ---------------------------------------------------------------------------

std::vector<float> gaussian_rows(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (auto& v : x) v = nd(rng);
  // A few outliers, as trained weights have.
  for (size_t i = 0; i < x.size(); i += 97) x[i] *= 4.0f;
  return x;
}

struct Errors {
  double rtn = 0.0, weighted = 0.0, uniform = 0.0;  // all measured with the importance weights
};

Errors errors(DType type, const std::vector<float>& x, int64_t cols, const std::vector<float>& imp) {
  const int64_t rows = static_cast<int64_t>(x.size()) / cols;
  const TypeTraits* t = type_traits(type);
  std::vector<uint8_t> q(row_bytes(type, cols));
  std::vector<float> y(static_cast<size_t>(cols));
  const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  Errors e;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    t->from_f32(xr, q.data(), cols);
    t->to_f32(q.data(), y.data(), cols);
    e.rtn += quant::weighted_squared_error(xr, y.data(), imp.data(), cols);
    EXPECT_TRUE(quant::quantize_row_weighted(type, xr, q.data(), cols, imp.data()));
    t->to_f32(q.data(), y.data(), cols);
    e.weighted += quant::weighted_squared_error(xr, y.data(), imp.data(), cols);
    quant::quantize_row_weighted(type, xr, q.data(), cols, ones.data());
    t->to_f32(q.data(), y.data(), cols);
    e.uniform += quant::weighted_squared_error(xr, y.data(), imp.data(), cols);
  }
  return e;
}

const DType kWeightedTypes[] = {DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k,
                                DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k};

TEST(WeightedQuantizers, ImportanceLowersTheWeightedError) {
  // Columns of very different importance (as after an RMSNorm with uneven
  // gains): every 8th column matters 50x more.
  const int64_t cols = 512, rows = 24;
  const auto x = gaussian_rows(rows, cols, 3);
  std::vector<float> imp(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) imp[static_cast<size_t>(j)] = j % 8 == 0 ? 50.0f : 1.0f;
  for (DType type : kWeightedTypes) {
    ASSERT_TRUE(quant::has_weighted_quantizer(type));
    const Errors e = errors(type, x, cols, imp);
    // Never worse than round-to-nearest (checked per block), clearly better
    // here, and better than the same search ignoring the importance.
    EXPECT_LT(e.weighted, 0.9 * e.rtn) << dtype_name(type);
    EXPECT_LT(e.weighted, e.uniform) << dtype_name(type);
  }
}

TEST(WeightedQuantizers, UniformWeightsNeverLoseToRoundToNearest) {
  const int64_t cols = 256, rows = 16;
  const auto x = gaussian_rows(rows, cols, 5);
  const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  for (DType type : kWeightedTypes) {
    const Errors e = errors(type, x, cols, ones);
    EXPECT_LE(e.uniform, e.rtn) << dtype_name(type);
  }
}

TEST(WeightedQuantizers, DegenerateInput) {
  const int64_t cols = 256;
  std::vector<float> x = gaussian_rows(1, cols, 9);
  const std::vector<float> zeros(static_cast<size_t>(cols), 0.0f);
  for (DType type : kWeightedTypes) {
    // All weights zero: round-to-nearest's bytes exactly.
    std::vector<uint8_t> a(row_bytes(type, cols)), b(row_bytes(type, cols));
    type_traits(type)->from_f32(x.data(), a.data(), cols);
    ASSERT_TRUE(quant::quantize_row_weighted(type, x.data(), b.data(), cols, zeros.data()));
    EXPECT_EQ(a, b) << dtype_name(type);
    // Constant and all-zero rows decode exactly to themselves or close; no NaN.
    std::vector<float> c(static_cast<size_t>(cols), 0.0f), y(static_cast<size_t>(cols));
    const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
    quant::quantize_row_weighted(type, c.data(), b.data(), cols, ones.data());
    type_traits(type)->to_f32(b.data(), y.data(), cols);
    for (float v : y) EXPECT_EQ(v, 0.0f) << dtype_name(type);
    // A NaN in the row: handled by round-to-nearest, no crash.
    std::vector<float> n = x;
    n[3] = NAN;
    quant::quantize_row_weighted(type, n.data(), b.data(), cols, ones.data());
  }
  std::vector<uint8_t> q(row_bytes(DType::q8_0, cols));
  EXPECT_FALSE(quant::quantize_row_weighted(DType::q8_0, x.data(), q.data(), cols, zeros.data()));
  EXPECT_FALSE(quant::has_weighted_quantizer(DType::f16));
}

}  // namespace
}  // namespace wa
