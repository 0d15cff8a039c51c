#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "quant/blocks.h"

namespace wa {
namespace {

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = fp16_to_fp32(static_cast<f16_bits>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    EXPECT_EQ(fp32_to_fp16(f), h) << "half bits " << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.0f + 1.0f / 2048.0f)), 1.0f);  // tie -> even
  EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.0f + 3.0f / 2048.0f)), 1.0f + 2.0f / 1024.0f);
  EXPECT_TRUE(std::isinf(fp16_to_fp32(fp32_to_fp16(70000.0f))));
  EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1e-9f)), 0.0f);
}

// Quantize -> dequantize error is bounded by the format's step: half a
// quantization step per element (q8_0: amax/127/2; q4_0: |max|/8/2 plus the
// clamp at the top level, so one step), plus the scale's own f16 rounding.
void check_roundtrip(DType type, float step_divisor, float steps) {
  const TypeTraits* t = type_traits(type);
  ASSERT_NE(t, nullptr);
  std::mt19937 rng(123);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t n = 32 * 64;
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> q(row_bytes(type, n));
  t->from_f32(x.data(), q.data(), n);
  t->to_f32(q.data(), y.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    // The scale is stored as f16 (relative error <= 2^-11), which moves every
    // dequantized value by up to amax * 2^-11 on top of the rounding step.
    const float bound = amax / step_divisor * steps + amax / 2048.0f + 1e-7f;
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), bound) << t->name << " block " << b;
    }
  }
}

TEST(QuantReference, Q8_0ErrorWithinHalfStep) { check_roundtrip(DType::q8_0, 127.0f, 0.5f); }
TEST(QuantReference, Q4_0ErrorWithinOneStep) { check_roundtrip(DType::q4_0, 8.0f, 1.0f); }

TEST(QuantReference, ZeroBlockStaysZero) {
  std::vector<float> x(32, 0.0f), y(32, 1.0f);
  BlockQ4_0 b4;
  type_traits(DType::q4_0)->from_f32(x.data(), &b4, 32);
  type_traits(DType::q4_0)->to_f32(&b4, y.data(), 32);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(DType, NamesAndSizes) {
  EXPECT_EQ(dtype_from_name("q4_K"), DType::q4_k);
  EXPECT_EQ(dtype_from_name("q4_k"), DType::q4_k);
  EXPECT_EQ(dtype_from_name("nope"), std::nullopt);
  EXPECT_EQ(row_bytes(DType::q4_0, 64), 36u);
  EXPECT_EQ(row_bytes(DType::q8_0, 64), 68u);
  EXPECT_EQ(row_bytes(DType::f16, 3), 6u);
  EXPECT_EQ(type_traits_from_id(4), nullptr);  // removed q4_2
}

}  // namespace
}  // namespace wa
