// webaccel's own vector-quantized formats wa_vq2 / wa_vq3 (quant/vq.h):
// ids and sizes, the codebook against its definition (every point in the
// coset D8 + 1/2, distinct, the search's answer the nearest by brute force),
// hand-built blocks pinning the bit layout, quantize -> dequantize error,
// the reference row dots and the CPU matmul against float64, and the
// error-compensating quantizer against round-to-nearest.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <unordered_set>
#include <vector>

#include "backends/cpu/kernels.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/gptq.h"
#include "quant/reference.h"
#include "quant/vq.h"
#include "quant/weighted.h"

namespace wa {
namespace {

constexpr DType kVqTypes[] = {DType::wa_vq2, DType::wa_vq3};

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, sigma);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  return x;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, n));
  type_traits(t)->from_f32(x.data(), q.data(), n);
  std::vector<float> y(x.size());
  type_traits(t)->to_f32(q.data(), y.data(), n);
  return y;
}

double rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    s += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

TEST(VqFormats, IdsAndSizes) {
  struct Row {
    DType t;
    uint32_t id;
    const char* name;
    size_t bytes;
  };
  for (const Row& r : {Row{DType::wa_vq2, 0x57410011u, "wa_vq2", 70}, Row{DType::wa_vq3, 0x57410012u, "wa_vq3", 98}}) {
    const TypeTraits* t = type_traits_from_id(r.id);
    ASSERT_NE(t, nullptr) << r.name;
    EXPECT_EQ(t->type, r.t);
    EXPECT_STREQ(t->name, r.name);
    EXPECT_EQ(t->block_size, 256);
    EXPECT_EQ(t->block_bytes, r.bytes);
    EXPECT_TRUE(t->quantized);
    EXPECT_EQ(dtype_from_name(r.name), r.t);
    EXPECT_TRUE(quant::is_vq_type(r.t));
    // Outside ggml's type ids (which are small integers).
    EXPECT_GT(r.id, 0xffffu);
  }
  EXPECT_EQ(row_bytes(DType::wa_vq2, 512), 140u);  // 2.1875 bits per weight
  EXPECT_EQ(row_bytes(DType::wa_vq3, 512), 196u);  // 3.0625
  EXPECT_EQ(quant::vq_code_bits(DType::wa_vq2), 16);
  EXPECT_EQ(quant::vq_code_bits(DType::wa_vq3), 23);
  EXPECT_FALSE(quant::is_vq_type(DType::q2_k));
}

// Every code decodes to a point of D8 + 1/2 (odd coordinates of 2y, sum of
// y even); the magnitude patterns are distinct, so the points are; the sign
// bits reach both signs of coordinates 0..6, with 7 following the parity.
TEST(VqFormats, CodebookIsInTheCosetAndDistinct) {
  for (DType t : kVqTypes) {
    const int bits = quant::vq_code_bits(t) - 7;
    std::unordered_set<uint64_t> patterns;
    int max_norm2 = 0;
    for (uint32_t idx = 0; idx < (1u << bits); ++idx) {
      for (uint32_t sg : {0u, 1u, 0x55u, 0x7fu}) {
        int8_t p[8];
        quant::vq_point(t, idx | (sg << bits), p);
        int sum = 0, n2 = 0;
        for (int i = 0; i < 8; ++i) {
          ASSERT_EQ(std::abs(p[i]) % 2, 1) << dtype_name(t) << " code " << idx;
          sum += p[i];
          n2 += p[i] * p[i];
          if (i < 7) {
            EXPECT_EQ(p[i] < 0, ((sg >> i) & 1u) != 0);
          }
        }
        ASSERT_EQ(((sum % 4) + 4) % 4, 0) << dtype_name(t) << " code " << idx << ": sum of y not even";
        max_norm2 = std::max(max_norm2, n2);
        if (sg == 0) {
          uint64_t key = 0;
          for (int i = 0; i < 8; ++i) key |= static_cast<uint64_t>(std::abs(p[i])) << (8 * i);
          patterns.insert(key);
        }
      }
    }
    // Codes a skipped multiset left over decode as pattern 0 (vq.h): a few at most.
    EXPECT_GE(patterns.size(), (size_t{1} << bits) - 64) << dtype_name(t);
    // A ball: the largest |2y|^2 is small next to a box of the same size.
    EXPECT_LT(max_norm2, t == DType::wa_vq2 ? 80 : 260) << dtype_name(t);
  }
}

// The kernels' view of the codebook (magnitude bytes + parity per pattern;
// the SIMD kernels' packed patterns and sign table) decodes every sampled
// code to vq_point's point.
TEST(VqFormats, KernelCodebookViewDecodesAsVqPoint) {
  std::mt19937 rng(11);
  for (DType t : kVqTypes) {
    const quant::VqCodebookView cb = quant::vq_codebook(t);
    ASSERT_EQ(cb.index_bits + 7, quant::vq_code_bits(t));
    ASSERT_NE(cb.magnitudes, nullptr);
    ASSERT_NE(cb.parity, nullptr);
    ASSERT_NE(cb.packed, nullptr);
    ASSERT_NE(cb.signs, nullptr);
    // packed: the magnitudes (below 16, as vq.h says: the kernels' int16
    // pair sums rely on it) and the parity in bit 63, for every pattern.
    for (uint32_t idx = 0; idx < (1u << cb.index_bits); ++idx) {
      for (int i = 0; i < 8; ++i) {
        const uint8_t m = cb.magnitudes[8 * idx + static_cast<uint32_t>(i)];
        ASSERT_LT(m, 16) << dtype_name(t) << " pattern " << idx;
        ASSERT_EQ(static_cast<uint8_t>(cb.packed[idx] >> (8 * i)) & 0x7f, m) << dtype_name(t) << " pattern " << idx;
      }
      ASSERT_EQ(cb.packed[idx] >> 63, cb.parity[idx]) << dtype_name(t) << " pattern " << idx;
    }
    for (int trial = 0; trial < 4096; ++trial) {
      const uint32_t code = rng() & ((1u << quant::vq_code_bits(t)) - 1);
      const uint32_t idx = code & ((1u << cb.index_bits) - 1), sg = code >> cb.index_bits;
      int8_t want[8];
      quant::vq_point(t, code, want);
      int neg = 0;
      for (int i = 0; i < 8; ++i) {
        const int m = cb.magnitudes[8 * idx + static_cast<uint32_t>(i)];
        bool negative;
        if (i < 7) {
          negative = ((sg >> i) & 1u) != 0;
          neg += negative;
        } else {
          negative = (neg & 1) != cb.parity[idx];
        }
        ASSERT_EQ(negative ? -m : m, want[i]) << dtype_name(t) << " code " << code << " coordinate " << i;
        // The SIMD kernels' decode: the sign byte keyed by sign bits | parity.
        const uint32_t key = sg | static_cast<uint32_t>((cb.packed[idx] >> 56) & 0x80u);
        const auto s = static_cast<int8_t>(cb.signs[key] >> (8 * i));
        ASSERT_EQ(s * m, want[i]) << dtype_name(t) << " code " << code << " coordinate " << i << " (sign table)";
      }
    }
  }
}

// The packed words the GPU kernels read (vq_codebook_words), decoded as
// shaders/mv4_vq.wgsl decodes them (whole-word operations: 3-bit fields to
// odd magnitude bytes, the sign bits spread to byte masks, bytes negated as
// two's complement), give vq_point's coordinates for every pattern.
TEST(VqFormats, PackedCodebookWordsDecodeAsVqPoint) {
  std::mt19937 rng(12);
  for (DType t : kVqTypes) {
    const std::span<const uint32_t> words = quant::vq_codebook_words(t);
    const int index_bits = quant::vq_code_bits(t) - 7;
    ASSERT_EQ(words.size(), size_t{1} << index_bits);
    for (uint32_t idx = 0; idx < words.size(); ++idx) {
      const uint32_t code = idx | ((rng() & 127u) << index_bits);
      const uint32_t w = words[idx];
      const uint32_t sg = code >> index_bits;
      const uint32_t s8 = sg | (((static_cast<uint32_t>(std::popcount(sg)) ^ (w >> 3)) & 1u) << 7);
      int8_t want[8];
      quant::vq_point(t, code, want);
      for (uint32_t h = 0; h < 2; ++h) {
        const uint32_t mag = ((w >> (4 * h)) & 0x07070707u) * 2u + 0x01010101u;
        const uint32_t neg = (((s8 >> (4 * h)) & 15u) * 0x00204081u) & 0x01010101u;
        const uint32_t q = (mag ^ (neg * 0xffu)) + neg;
        for (uint32_t i = 0; i < 4; ++i) {
          ASSERT_EQ(static_cast<int8_t>(q >> (8 * i)), want[4 * h + i]) << dtype_name(t) << " code " << code;
        }
      }
    }
  }
}

// The search through the multisets finds the nearest point: brute force
// over all 2^16 points of wa_vq2, and over a sample of wa_vq3's.
TEST(VqFormats, SearchFindsTheNearestPoint) {
  std::mt19937 rng(4);
  std::normal_distribution<float> g(0.0f, 1.3f);
  {
    const DType t = DType::wa_vq2;
    std::vector<int8_t> all(size_t{1} << 16 << 3);
    for (uint32_t c = 0; c < (1u << 16); ++c) quant::vq_point(t, c, all.data() + 8 * c);
    for (int trial = 0; trial < 200; ++trial) {
      float y[8], q[8];
      for (float& v : y) v = g(rng) * (trial % 4 == 0 ? 3.0f : 1.0f);
      quant::vq_nearest(t, y, q);
      double got = 0, best = std::numeric_limits<double>::infinity();
      for (int i = 0; i < 8; ++i) got += (y[i] - q[i]) * (y[i] - q[i]);
      for (uint32_t c = 0; c < (1u << 16); ++c) {
        double d = 0;
        for (int i = 0; i < 8; ++i) {
          const double e = y[i] - 0.5 * all[8 * c + i];
          d += e * e;
        }
        best = std::min(best, d);
      }
      ASSERT_LE(got, best + 1e-4) << "trial " << trial;
    }
  }
  {
    const DType t = DType::wa_vq3;
    for (int trial = 0; trial < 3; ++trial) {
      float y[8], q[8];
      for (float& v : y) v = 2.0f * g(rng);
      const uint32_t code = quant::vq_nearest(t, y, q);
      int8_t p[8];
      quant::vq_point(t, code, p);
      double got = 0;
      for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(0.5f * p[i], q[i]);
        got += (y[i] - q[i]) * (y[i] - q[i]);
      }
      double best = std::numeric_limits<double>::infinity();
      for (uint32_t c = 0; c < (1u << 23); ++c) {
        quant::vq_point(t, c, p);
        double d = 0;
        for (int i = 0; i < 8; ++i) {
          const double e = y[i] - 0.5 * p[i];
          d += e * e;
        }
        best = std::min(best, d);
      }
      ASSERT_LE(got, best + 1e-4) << "trial " << trial;
    }
  }
}

// Hand-built blocks: where each field lives.
TEST(VqFormats, GoldenBlocks) {
  const f16_bits one = 0x3c00;
  {
    BlockWaVq2 b{};
    b.d = one;
    b.scales[0] = 0x21;  // block 0: sc 1 (step 2 * 1/2 = 1 per unit of 2y), block 1: sc 2
    b.qs[0] = 0;         // pattern 0 (all magnitudes 1/2), no signs
    b.qs[1] = static_cast<uint16_t>(1u << 9);  // coordinate 0 negative, 7 too (parity)
    b.qs[4] = 0;         // block 1's first vector: step 3 / 2
    std::vector<float> y(256);
    quant::dequantize_row_wa_vq2(&b, y.data(), 256);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], 1.0f) << i;
    EXPECT_EQ(y[8], -1.0f);
    for (int i = 9; i < 15; ++i) EXPECT_EQ(y[i], 1.0f) << i;
    EXPECT_EQ(y[15], -1.0f);
    for (int i = 32; i < 40; ++i) EXPECT_EQ(y[i], 1.5f) << i;
  }
  {
    BlockWaVq3 b{};
    b.d = one;
    // Block 0: vector 1's code at bits 23..45 (pattern 0, sign of coordinate 1)
    // and sc = 3 at bits 92..95; vector 0 pattern 0, no signs.
    const uint32_t code = 1u << (16 + 1);
    for (int i = 0; i < 23; ++i) {
      if ((code >> i) & 1u) b.qs[0][(23 + i) / 8] = static_cast<uint8_t>(b.qs[0][(23 + i) / 8] | (1u << ((23 + i) % 8)));
    }
    b.qs[0][11] = 0x30;
    std::vector<float> y(256);
    quant::dequantize_row_wa_vq3(&b, y.data(), 256);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], 2.0f) << i;  // (3 + 1) * 1/2
    EXPECT_EQ(y[8], 2.0f);
    EXPECT_EQ(y[9], -2.0f);
    EXPECT_EQ(y[15], -2.0f);
    EXPECT_EQ(y[32], 0.5f);  // block 1: sc 0
  }
}

// Quantize -> dequantize on unit Gaussians, in relative rms error (measured
// when written: wa_vq2 0.294, below q2_K's 0.326 at 2.625 bits; wa_vq3
// 0.160, near q3_K's 0.155 at 3.4375).
TEST(VqFormats, RoundTripError) {
  const std::vector<float> x = gaussian(256 * 64, 7);
  const double e2 = rel_rms(x, round_trip(DType::wa_vq2, x)), e3 = rel_rms(x, round_trip(DType::wa_vq3, x));
  std::printf("  wa_vq2 relative rms error %.4f, wa_vq3 %.4f, q2_K %.4f, q3_K %.4f\n", e2, e3,
              rel_rms(x, round_trip(DType::q2_k, x)), rel_rms(x, round_trip(DType::q3_k, x)));
  EXPECT_LT(e2, 0.30);
  EXPECT_LT(e3, 0.165);
  EXPECT_LT(e2, rel_rms(x, round_trip(DType::q2_k, x)));
  EXPECT_LT(e3, e2);
  // Scale does not matter (a block of huge and one of tiny values too).
  std::vector<float> y = x;
  for (size_t i = 0; i < y.size(); ++i) y[i] *= (i / 256) % 2 ? 1e4f : 1e-4f;
  EXPECT_LT(rel_rms(y, round_trip(DType::wa_vq2, y)), 0.31);
  for (DType t : kVqTypes) {
    std::vector<float> z(512, 0.0f);
    for (float v : round_trip(t, z)) EXPECT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// The reference row dots equal float64 sums of the decoded weights times the
// decoded q8_K activations, up to f32 rounding.
TEST(VqFormats, RowDotsMatchDecodedValues) {
  const int64_t k = 1024;
  const std::vector<float> w = gaussian(k, 21), x = gaussian(k, 22);
  std::vector<BlockQ8_K> xq(k / 256);
  quant::quantize_row_q8_k(x.data(), xq.data(), k);
  std::vector<float> xv(static_cast<size_t>(k));
  quant::dequantize_row_q8_k(xq.data(), xv.data(), k);
  for (DType t : kVqTypes) {
    std::vector<uint8_t> wq(row_bytes(t, k));
    type_traits(t)->from_f32(w.data(), wq.data(), k);
    std::vector<float> wv(static_cast<size_t>(k));
    type_traits(t)->to_f32(wq.data(), wv.data(), k);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < k; ++i) {
      ref += static_cast<double>(wv[static_cast<size_t>(i)]) * xv[static_cast<size_t>(i)];
      mag += std::fabs(static_cast<double>(wv[static_cast<size_t>(i)]) * xv[static_cast<size_t>(i)]);
    }
    const float got = t == DType::wa_vq2 ? quant::dot_wa_vq2_q8_k(wq.data(), xq.data(), k / 256)
                                         : quant::dot_wa_vq3_q8_k(wq.data(), xq.data(), k / 256);
    EXPECT_NEAR(got, ref, 1e-5 * mag) << dtype_name(t);
  }
}

// The CPU matmul runs them on every ISA (each ISA's own row dot, except the
// scalar table's reference), the same bits for every ISA and thread split,
// near float64. (tests/unit/test_cpu_kernels.cpp runs the odd shapes.)
TEST(VqFormats, CpuMatmulMatchesFloat64) {
  using namespace cpu;
  const int64_t n = 7, k = 512, m = 3;
  for (DType t : kVqTypes) {
    ASSERT_TRUE(matmul_supports(t));
    const std::vector<float> w = gaussian(n * k, 31), x = gaussian(m * k, 32);
    const size_t rb = row_bytes(t, k);
    std::vector<uint8_t> wq(rb * n);
    std::vector<float> wv(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) {
      type_traits(t)->from_f32(w.data() + j * k, wq.data() + j * rb, k);
      type_traits(t)->to_f32(wq.data() + j * rb, wv.data() + j * k, k);
    }
    std::vector<float> first;
    for (Isa isa : kAllIsas) {
      if (!isa_supported(isa) || !force_isa(isa)) continue;
      EXPECT_EQ(matmul_has_simd(t), isa != Isa::scalar) << isa_name(isa);
      for (int nth : {1, 3}) {
        std::vector<float> y(static_cast<size_t>(m * n), -1.0f);
        MatmulProblem p{t, wq.data(), rb, x.data(), k, y.data(), n, m, n, k};
        std::vector<uint8_t> ws(matmul_workspace_bytes(t, m, k) + 64);
        for (int ith = 0; ith < nth; ++ith) matmul_prepare(p, ws.data(), ith, nth);
        for (int ith = 0; ith < nth; ++ith) matmul_compute(p, ws.data(), ith, nth);
        if (first.empty()) first = y;
        EXPECT_EQ(y, first) << dtype_name(t) << " " << isa_name(isa) << " threads " << nth;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double ref = 0, mag = 0;
            for (int64_t e = 0; e < k; ++e) {
              ref += static_cast<double>(wv[static_cast<size_t>(j * k + e)]) * x[static_cast<size_t>(i * k + e)];
              mag += std::fabs(static_cast<double>(wv[static_cast<size_t>(j * k + e)]) * x[static_cast<size_t>(i * k + e)]);
            }
            // The activations' 8-bit grid (q8_K) is the error here.
            EXPECT_NEAR(y[static_cast<size_t>(i * n + j)], ref, 0.02 * mag) << dtype_name(t);
          }
        }
      }
    }
    force_isa(detect_isa());
  }
}

// Correlated inputs: the error-compensating quantizer's output error d^T H d
// is well below round-to-nearest's and the importance-weighted one's.
TEST(VqFormats, CompensationLowersOutputError) {
  const int64_t rows = 6, cols = 512;
  std::mt19937 rng(11);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> scale(static_cast<size_t>(cols));
  for (auto& s : scale) s = std::pow(10.0, u(rng));
  quant::InputMoments mo;
  mo.n = cols;
  mo.tokens = 1024;
  mo.h.assign(static_cast<size_t>(cols * cols), 0.0);
  std::vector<double> xs(static_cast<size_t>(cols));
  for (int tk = 0; tk < 1024; ++tk) {
    double prev = g(rng);
    for (int64_t i = 0; i < cols; ++i) {
      prev = 0.95 * prev + std::sqrt(1 - 0.95 * 0.95) * g(rng);
      xs[static_cast<size_t>(i)] = prev * scale[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) mo.h[static_cast<size_t>(i * cols + j)] += xs[static_cast<size_t>(i)] * xs[static_cast<size_t>(j)] / 1024.0;
  }
  auto f = quant::gptq_factor(mo);
  ASSERT_TRUE(f.ok());
  std::vector<float> imp(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) imp[static_cast<size_t>(i)] = static_cast<float>(mo.h[static_cast<size_t>(i * cols + i)]);
  const std::vector<float> w = gaussian(rows * cols, 5);
  for (DType t : kVqTypes) {
    ASSERT_TRUE(quant::has_gptq_quantizer(t));
    const size_t rb = row_bytes(t, cols);
    std::vector<uint8_t> a(rb * rows), b(rb * rows), c(rb * rows);
    std::vector<float> ya(w.size()), yb(w.size()), yc(w.size());
    for (int64_t r = 0; r < rows; ++r) {
      type_traits(t)->from_f32(w.data() + r * cols, a.data() + r * rb, cols);
      ASSERT_TRUE(quant::quantize_row_weighted(t, w.data() + r * cols, b.data() + r * rb, cols, imp.data()));
      ASSERT_TRUE(quant::quantize_row_gptq(t, w.data() + r * cols, c.data() + r * rb, cols, *f.value(), imp.data()));
      type_traits(t)->to_f32(a.data() + r * rb, ya.data() + r * cols, cols);
      type_traits(t)->to_f32(b.data() + r * rb, yb.data() + r * cols, cols);
      type_traits(t)->to_f32(c.data() + r * rb, yc.data() + r * cols, cols);
    }
    const double e_rtn = quant::output_error(w.data(), ya.data(), rows, cols, cols, mo);
    const double e_wtd = quant::output_error(w.data(), yb.data(), rows, cols, cols, mo);
    const double e_gq = quant::output_error(w.data(), yc.data(), rows, cols, cols, mo);
    std::printf("  %s output error: rtn %.4g, weighted %.4g, gptq %.4g\n", dtype_name(t), e_rtn, e_wtd, e_gq);
    EXPECT_LT(e_wtd, e_rtn) << dtype_name(t);
    EXPECT_LT(e_gq, 0.3 * e_rtn) << dtype_name(t);
    EXPECT_LT(e_gq, 0.5 * e_wtd) << dtype_name(t);
  }
}

}  // namespace
}  // namespace wa
