// CPU kernels: every weight type on every ISA this CPU supports, against the
// scalar kernels (same arithmetic) and against a float64
// dequantize-then-dot reference (what the numbers should be), on odd shapes,
// padded strides and several thread counts run as real threads with the
// prepare / barrier / compute sequence of the backend's pool. The same file
// runs on wasm (tests/CMakeLists.txt, under Node) for the SIMD128 kernels;
// the single-threaded wasm build runs each thread's share one after another.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/kernels.h"
#include "backends/cpu/kernels_impl.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "quant/blocks.h"

namespace wa::cpu {
namespace {


// Whether std::thread works: not in a wasm build without pthreads.
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kRealThreads = false;
#else
constexpr bool kRealThreads = true;
#endif

// Restores the ISA a test forced.
class IsaGuard {
 public:
  IsaGuard() : saved_(active_isa()) {}
  ~IsaGuard() { force_isa(saved_); }
  IsaGuard(const IsaGuard&) = delete;
  IsaGuard& operator=(const IsaGuard&) = delete;

 private:
  Isa saved_;
};

struct Weights {
  std::vector<uint8_t> bytes;
  size_t row_stride = 0;
  std::vector<double> deq;  // n x k, the exact values the weights encode
};

Weights make_weights(DType type, int64_t n, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const TypeTraits* t = type_traits(type);
  Weights w;
  // Padding between rows that breaks 8/16/32-byte alignment but keeps the
  // element's own (4 bytes for f32, 2 for f16 and the blocks' f16 scale).
  w.row_stride = row_bytes(type, k) + (type == DType::f32 ? 4 : 6);
  w.bytes.assign(w.row_stride * static_cast<size_t>(n), 0xcd);
  w.deq.resize(static_cast<size_t>(n * k));
  std::vector<float> src(static_cast<size_t>(k)), back(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    for (auto& v : src) v = dist(rng);
    void* row = w.bytes.data() + j * w.row_stride;
    if (type == DType::f32) {
      std::memcpy(row, src.data(), src.size() * sizeof(float));
    } else if (type == DType::wa_vq2 || type == DType::wa_vq3) {
      // Random codes and 4-bit scales, d = 1/16 (the super-block's last
      // field, quant/blocks.h): every pattern and sign of the codebook, at
      // no cost, where the quantizer's nearest-point search takes
      // microseconds per weight (tens of seconds per test under the
      // sanitizers) and rarely picks the largest points.
      auto* bytes = static_cast<uint8_t*>(row);
      for (size_t i = 0; i < row_bytes(type, k); ++i) bytes[i] = static_cast<uint8_t>(rng());
      const f16_bits d = fp32_to_fp16(1.0f / 16.0f);
      for (size_t o = t->block_bytes; o <= row_bytes(type, k); o += t->block_bytes) std::memcpy(bytes + o - sizeof d, &d, sizeof d);
    } else {
      t->from_f32(src.data(), row, k);
    }
    if (type == DType::f32) {
      back = src;
    } else {
      t->to_f32(row, back.data(), k);
    }
    for (int64_t i = 0; i < k; ++i) w.deq[static_cast<size_t>(j * k + i)] = back[static_cast<size_t>(i)];
  }
  return w;
}

struct Result {
  std::vector<float> y;  // m x ys
  int64_t ys = 0;
};

// Runs prepare / barrier / compute on nth real threads (or, without threads,
// every share's prepare and then every share's compute: the same contract).
Result run_matmul(DType type, const Weights& w, const std::vector<float>& x, int64_t xs, int64_t m, int64_t n,
                  int64_t k, int nth) {
  Result r;
  r.ys = n + 3;
  r.y.assign(static_cast<size_t>(m * r.ys), -12345.0f);
  MatmulProblem p{type, w.bytes.data(), w.row_stride, x.data(), xs, r.y.data(), r.ys, m, n, k};
  std::vector<uint8_t> ws(matmul_workspace_bytes(type, m, k) + 64);
  if (!kRealThreads) {
    for (int ith = 0; ith < nth; ++ith) matmul_prepare(p, ws.data(), ith, nth);
    for (int ith = 0; ith < nth; ++ith) matmul_compute(p, ws.data(), ith, nth);
    return r;
  }
  std::barrier sync(nth);
  auto body = [&](int ith) {
    matmul_prepare(p, ws.data(), ith, nth);
    sync.arrive_and_wait();
    matmul_compute(p, ws.data(), ith, nth);
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < nth; ++i) threads.emplace_back(body, i);
  body(0);
  for (auto& t : threads) t.join();
  return r;
}

// Squared error normalised by the sum of squared products sum_t (w*x)^2
// rather than by ref^2: a single dot product of random vectors can cancel to
// near zero, which would make plain NMSE measure luck instead of the kernel.
double nmse(const std::vector<double>& ref, const std::vector<float>& got, const std::vector<double>& mag) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += mag[i];
  }
  return den > 0 ? num / den : num;
}

// Error limits vs the float64 reference. Quantized types round X to 8 bits
// per element (about 3e-5 normalised error per 32-block, 4e-5 per 256-block
// for the k-quants): 5e-4 has headroom and still catches a wrong block or
// scale. f32/f16 differ only by f32 accumulation order.
double limit_vs_f64(DType t) { return (t == DType::f32 || t == DType::f16) ? 1e-10 : 5e-4; }

// Row lengths: odd numbers of blocks, and a long row.
std::vector<int64_t> k_values(DType t) {
  // Super-block types stop at 1280 (five super-blocks): their kernels loop
  // per super-block, and LargeShapes covers k = 5632; k = 4096 on every odd
  // shape took 45 s per ISA under the sanitizers.
  if (block_size(t) == 256) return {256, 512, 1280};
  return {32, 64, 96, 4096};
}

constexpr DType kWeightTypes[] = {DType::f32,  DType::f16,  DType::q8_0, DType::q4_0,  DType::q4_1,
                                  DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k,  DType::q4_k,
                                  DType::q5_k, DType::q6_k, DType::wa_vq2, DType::wa_vq3};

// k-quants and the own vq formats: each super-block is exact integer sums and
// the reference's float expression on every ISA, so results equal the scalar
// kernels' bits.
bool bit_exact_vs_scalar(DType t) {
  return t == DType::q2_k || t == DType::q3_k || t == DType::q4_k || t == DType::q5_k || t == DType::q6_k ||
         t == DType::wa_vq2 || t == DType::wa_vq3;
}

struct Case {
  Isa isa;
  DType type;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(isa_name(info.param.isa)) + "_" + dtype_name(info.param.type);
}

class MatmulTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam().isa)) {
      GTEST_SKIP() << "this CPU/build lacks " << isa_name(GetParam().isa)
                   << "; run on a machine that has it to cover these kernels";
    }
  }
};

TEST_P(MatmulTest, MatchesScalarAndFloat64OnOddShapes) {
  IsaGuard guard;
  const Case c = GetParam();
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t k : k_values(c.type)) {
    for (int64_t n : {1, 5, 7, 11, 13, 64, 67}) {
      const Weights w = make_weights(c.type, n, k, rng);
      for (int64_t m : {1, 2, 3, 5, 7, 13, 33}) {
        if (k == 4096 && m > 13 && n < 64) continue;  // keep the run short; big-k is covered below
        const int64_t xs = k + 5;
        std::vector<float> x(static_cast<size_t>(m * xs), 0.0f);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t t = 0; t < k; ++t) x[static_cast<size_t>(i * xs + t)] = dist(rng);
        std::vector<double> ref(static_cast<size_t>(m * n)), mag(ref.size());
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double s = 0, s2 = 0;
            for (int64_t t = 0; t < k; ++t) {
              const double pr = w.deq[static_cast<size_t>(j * k + t)] * static_cast<double>(x[static_cast<size_t>(i * xs + t)]);
              s += pr;
              s2 += pr * pr;
            }
            ref[static_cast<size_t>(i * n + j)] = s;
            mag[static_cast<size_t>(i * n + j)] = s2;
          }
        ASSERT_TRUE(force_isa(Isa::scalar));
        const Result scalar = run_matmul(c.type, w, x, xs, m, n, k, 1);
        ASSERT_TRUE(force_isa(c.isa));
        Result first;
        for (int nth : {1, 2, 3}) {
          const Result got = run_matmul(c.type, w, x, xs, m, n, k, nth);
          std::vector<float> packed(static_cast<size_t>(m * n)), spacked(static_cast<size_t>(m * n));
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              packed[static_cast<size_t>(i * n + j)] = got.y[static_cast<size_t>(i * got.ys + j)];
              spacked[static_cast<size_t>(i * n + j)] = scalar.y[static_cast<size_t>(i * scalar.ys + j)];
            }
          const std::string where = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" +
                                    std::to_string(k) + " nth=" + std::to_string(nth);
          for (float v : packed) ASSERT_TRUE(std::isfinite(v)) << where;
          // Padding between Y rows is never written.
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = n; j < got.ys; ++j) ASSERT_EQ(got.y[static_cast<size_t>(i * got.ys + j)], -12345.0f) << where;
          EXPECT_LT(nmse(ref, packed, mag), limit_vs_f64(c.type)) << where;
          std::vector<double> sref(spacked.begin(), spacked.end());
          // Same X quantization and integer block sums as the scalar kernels:
          // only the float summation order may differ.
          EXPECT_LT(nmse(sref, packed, mag), 1e-9) << where << " vs scalar";
          if (bit_exact_vs_scalar(c.type)) {
            EXPECT_EQ(0, std::memcmp(packed.data(), spacked.data(), packed.size() * sizeof(float))) << where << " vs scalar bits";
          }
          // The thread count must not change a single bit.
          if (nth == 1) {
            first = got;
          } else {
            ASSERT_EQ(0, std::memcmp(first.y.data(), got.y.data(), got.y.size() * sizeof(float))) << where;
          }
        }
      }
    }
  }
}

// The 1B-model shapes' k values and multiple chunks/groups per thread.
TEST_P(MatmulTest, LargeShapes) {
  IsaGuard guard;
  const Case c = GetParam();
  std::mt19937 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t m : {1, 40}) {
    const int64_t n = 131, k = 5632;
    const Weights w = make_weights(c.type, n, k, rng);
    std::vector<float> x(static_cast<size_t>(m * k));
    for (auto& v : x) v = dist(rng);
    std::vector<double> ref(static_cast<size_t>(m * n)), mag(ref.size());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0, s2 = 0;
        for (int64_t t = 0; t < k; ++t) {
          const double pr = w.deq[static_cast<size_t>(j * k + t)] * static_cast<double>(x[static_cast<size_t>(i * k + t)]);
          s += pr;
          s2 += pr * pr;
        }
        ref[static_cast<size_t>(i * n + j)] = s;
        mag[static_cast<size_t>(i * n + j)] = s2;
      }
    ASSERT_TRUE(force_isa(c.isa));
    const Result got = run_matmul(c.type, w, x, k, m, n, k, 2);
    std::vector<float> packed(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) packed[static_cast<size_t>(i * n + j)] = got.y[static_cast<size_t>(i * got.ys + j)];
    EXPECT_LT(nmse(ref, packed, mag), limit_vs_f64(c.type)) << "m=" << m;
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (Isa isa : kAllIsas)
    for (DType t : kWeightTypes) v.push_back({isa, t});
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, MatmulTest, testing::ValuesIn(all_cases()), case_name);

TEST(CpuKernels, IsaSelection) {
  IsaGuard guard;
  EXPECT_TRUE(isa_supported(Isa::scalar));
  EXPECT_TRUE(isa_supported(detect_isa()));
  EXPECT_TRUE(force_isa(Isa::scalar));
  EXPECT_EQ(active_isa(), Isa::scalar);
#if defined(__x86_64__)
  EXPECT_FALSE(force_isa(Isa::wasm_simd128));
  EXPECT_EQ(active_isa(), Isa::scalar);  // a refused force changes nothing
#endif
#if defined(__wasm_simd128__)
  EXPECT_EQ(detect_isa(), Isa::wasm_simd128);
  EXPECT_FALSE(force_isa(Isa::avx2));
  EXPECT_EQ(active_isa(), Isa::scalar);
#endif
  // Every ISA but the reference runs every weight type with its own kernels
  // (a missing row dot would fall back to the scalar one and still pass the
  // comparisons above, only slowly).
  for (Isa isa : kAllIsas) {
    if (!force_isa(isa)) continue;
    for (DType t : kWeightTypes) EXPECT_EQ(matmul_has_simd(t), isa != Isa::scalar) << isa_name(isa) << " " << dtype_name(t);
  }
  EXPECT_STREQ(isa_name(Isa::avx512), "avx512");
  EXPECT_TRUE(matmul_supports(DType::q4_0));
  for (DType t : kWeightTypes) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
  EXPECT_FALSE(matmul_supports(DType::q8_1));
  EXPECT_FALSE(matmul_supports(DType::q8_k));
  EXPECT_GE(matmul_workspace_bytes(DType::q4_k, 3, 512), size_t{3 * 2 * 292});
  EXPECT_GE(matmul_workspace_bytes(DType::q5_0, 3, 64), size_t{3 * 2 * 40});
  EXPECT_EQ(matmul_workspace_bytes(DType::f32, 7, 64), 0u);
  EXPECT_GE(matmul_workspace_bytes(DType::q4_0, 7, 64), size_t{7 * 64});
}

// A block of huge values next to a block of tiny ones, and all-zero blocks:
// per-block scales must keep both and never divide by zero.
TEST(CpuKernels, QuantizedExtremesStayFinite) {
  IsaGuard guard;
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    ASSERT_TRUE(force_isa(isa));
    for (DType type : kWeightTypes) {
      if (type == DType::f32 || type == DType::f16) continue;
      std::mt19937 rng(5);
      const int64_t n = 9, k = block_size(type) == 256 ? 512 : 128;
      const Weights w = make_weights(type, n, k, rng);
      for (int64_t m : {1, 9}) {
        std::vector<float> x(static_cast<size_t>(m * k), 0.0f);
        for (int64_t i = 0; i < m; ++i) {
          for (int t = 0; t < 32; ++t) x[static_cast<size_t>(i * k + t)] = (t % 2 ? 1e4f : -3e4f);
          for (int t = 32; t < 64; ++t) x[static_cast<size_t>(i * k + t)] = 1e-20f * static_cast<float>(t);
        }
        const Result got = run_matmul(type, w, x, k, m, n, k, 2);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const float v = got.y[static_cast<size_t>(i * got.ys + j)];
            ASSERT_TRUE(std::isfinite(v)) << isa_name(isa) << " " << dtype_name(type);
            double s = 0;
            for (int64_t t = 0; t < k; ++t)
              s += w.deq[static_cast<size_t>(j * k + t)] * static_cast<double>(x[static_cast<size_t>(i * k + t)]);
            EXPECT_NEAR(v, s, 2e-2 * 3e4 * 32 / 10) << isa_name(isa) << " " << dtype_name(type);
          }
      }
    }
  }
}

// q4_0x4 (kernels_impl.h: q4_0 repacked in place, 4 rows interleaved per
// block): on every ISA the same bits as the q4_0 it was made from, computed
// where q4_0x4 runs (the ISA's own kernels, or the scalar reference where it
// has none); row counts with a partial last group (its rows stay q4_0),
// padded row strides, k of odd block counts and of several GEMM chunks,
// decode and prompt shapes, 1-3 threads.
TEST(CpuKernels, Q4x4MatchesQ4_0BitForBit) {
  IsaGuard guard;
  std::mt19937 rng(77);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t k : {32, 96, 608, 2080}) {
    for (int64_t n : {1, 3, 4, 5, 7, 13, 16, 67}) {
      const Weights w = make_weights(DType::q4_0, n, k, rng);
      Weights x4 = w;
      ASSERT_TRUE(repack_q4_0x4(x4.bytes.data(), x4.row_stride, n, k));
      const int64_t n4 = n / 4 * 4;
      // Whole groups changed (their rows are interleaved), the rest did not.
      if (n4 > 0) {
        EXPECT_NE(0, std::memcmp(w.bytes.data(), x4.bytes.data(), row_bytes(DType::q4_0, k) * 4));
      }
      EXPECT_EQ(0, std::memcmp(w.bytes.data() + n4 * w.row_stride, x4.bytes.data() + n4 * x4.row_stride,
                               static_cast<size_t>(n - n4) * w.row_stride));
      // get_rows reads a repacked (tied) embedding row by row.
      std::vector<float> want_row(static_cast<size_t>(k)), got_row(static_cast<size_t>(k));
      for (int64_t j = 0; j < n; ++j) {
        type_traits(DType::q4_0)->to_f32(w.bytes.data() + j * w.row_stride, want_row.data(), k);
        dequantize_row_q4_0x4(x4.bytes.data(), x4.row_stride, n, j, got_row.data(), k);
        ASSERT_EQ(0, std::memcmp(want_row.data(), got_row.data(), want_row.size() * sizeof(float))) << "row " << j;
      }
      for (int64_t m : {1, 2, 5, 13}) {
        const int64_t xs = k + 3;
        std::vector<float> x(static_cast<size_t>(m * xs));
        for (auto& v : x) v = dist(rng);
        for (Isa isa : kAllIsas) {
          if (!isa_supported(isa)) continue;
          ASSERT_TRUE(force_isa(isa));
          if (!matmul_has_simd(DType::q4_0x4)) {
            ASSERT_TRUE(force_isa(Isa::scalar));
          }
          const Result want = run_matmul(DType::q4_0, w, x, xs, m, n, k, 1);
          ASSERT_TRUE(force_isa(isa));
          for (int nth : {1, 2, 3}) {
            const Result got = run_matmul(DType::q4_0x4, x4, x, xs, m, n, k, nth);
            EXPECT_EQ(0, std::memcmp(want.y.data(), got.y.data(), got.y.size() * sizeof(float)))
                << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " nth=" << nth;
          }
        }
      }
    }
  }
}

// The wasm kernels have their own q4_0x4 kernels (so models are repacked
// there), the x86 ones do not (the reference would run it).
TEST(CpuKernels, Q4x4KernelsWhereRepacked) {
  IsaGuard guard;
  for (Isa isa : kAllIsas) {
    if (!force_isa(isa)) continue;
    const bool wasm = isa == Isa::wasm_simd128 || isa == Isa::wasm_relaxed;
    EXPECT_EQ(matmul_prefers_q4_0x4(), wasm) << isa_name(isa);
    EXPECT_EQ(matmul_has_simd(DType::q4_0x4), wasm) << isa_name(isa);
    EXPECT_TRUE(matmul_supports(DType::q4_0x4));
    EXPECT_EQ(matmul_workspace_bytes(DType::q4_0x4, 5, 96), matmul_workspace_bytes(DType::q4_0, 5, 96));
  }
  EXPECT_EQ(type_traits_from_id(static_cast<uint32_t>(DType::q4_0x4)), nullptr);  // never a file's type
  EXPECT_FALSE(dtype_from_name("q4_0x4").has_value());
  EXPECT_EQ(row_bytes(DType::q4_0x4, 64), row_bytes(DType::q4_0, 64));
}

// A non-finite block scale (the q4_0x4 kernels' fast scale conversion
// assumes finite ones) leaves the tensor q4_0, byte for byte.
TEST(CpuKernels, Q4x4RepackRefusesNonFiniteScales) {
  std::mt19937 rng(78);
  for (f16_bits bad : {f16_bits{0x7c00}, f16_bits{0xfc00}, f16_bits{0x7e00}}) {
    Weights w = make_weights(DType::q4_0, 9, 96, rng);
    std::memcpy(w.bytes.data() + 5 * w.row_stride + sizeof(BlockQ4_0), &bad, sizeof bad);  // row 5, block 1
    const std::vector<uint8_t> before = w.bytes;
    EXPECT_FALSE(repack_q4_0x4(w.bytes.data(), w.row_stride, 9, 96));
    EXPECT_EQ(before, w.bytes);
  }
}

class VectorTest : public testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) {
      GTEST_SKIP() << "this CPU/build lacks " << isa_name(GetParam())
                   << "; run on a machine that has it to cover these kernels";
    }
  }
};

TEST_P(VectorTest, PrimitivesMatchFloat64) {
  IsaGuard guard;
  ASSERT_TRUE(force_isa(GetParam()));
  std::mt19937 rng(77);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 1000, 4099}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    std::vector<uint16_t> h(static_cast<size_t>(n));
    for (auto& v : a) v = dist(rng);
    for (auto& v : b) v = dist(rng);
    for (auto& v : y) v = dist(rng);
    for (size_t i = 0; i < h.size(); ++i) h[i] = fp32_to_fp16(a[i]);
    double d = 0, dh = 0, mag = 0, magh = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      d += static_cast<double>(a[i]) * b[i];
      dh += static_cast<double>(fp16_to_fp32(h[i])) * b[i];
      mag += std::fabs(static_cast<double>(a[i]) * b[i]);
      magh += std::fabs(static_cast<double>(fp16_to_fp32(h[i])) * b[i]);
    }
    // f32 accumulation: error bounded by about n * eps * sum|a*b|.
    const double eps = 1.2e-7 * static_cast<double>(n + 1);
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), d, eps * mag + 1e-30) << "n=" << n;
    EXPECT_NEAR(dot_f16_f32(h.data(), b.data(), n), dh, eps * magh + 1e-30) << "n=" << n;

    const float alpha = 0.75f;
    std::vector<float> y1 = y, y2 = y, y3 = y;
    axpy_f32(y1.data(), alpha, b.data(), n);
    axpy_f16_f32(y2.data(), alpha, h.data(), n);
    scale_f32(y3.data(), alpha, n);
    for (size_t i = 0; i < y.size(); ++i) {
      // One rounding (or one fma) per element.
      EXPECT_NEAR(y1[i], static_cast<double>(y[i]) + alpha * static_cast<double>(b[i]),
                  2.4e-7 * (std::fabs(y[i]) + std::fabs(alpha * b[i])))
          << "n=" << n << " i=" << i;
      EXPECT_NEAR(y2[i], static_cast<double>(y[i]) + alpha * static_cast<double>(fp16_to_fp32(h[i])),
                  2.4e-7 * (std::fabs(y[i]) + std::fabs(alpha * a[i])) + 1e-6)
          << "n=" << n << " i=" << i;
      EXPECT_EQ(y3[i], y[i] * alpha) << "n=" << n << " i=" << i;  // exact: one multiply
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, VectorTest, testing::ValuesIn(kAllIsas),
                         [](const testing::TestParamInfo<Isa>& p) { return std::string(isa_name(p.param)); });

// The row primitives of the elementwise ops (rms_norm, add, mul, scale,
// silu/swiglu) on every ISA: the multiplications and additions are exact
// matches of the reference's order; the sum of squares differs only in the
// order of double additions; silu's e^x is a polynomial, within a few ulp.
TEST_P(VectorTest, RowPrimitivesMatchReference) {
  IsaGuard guard;
  ASSERT_TRUE(force_isa(GetParam()));
  std::mt19937 rng(78);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int64_t n : {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100, 1000, 4099}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), w(static_cast<size_t>(n));
    for (auto& v : a) v = dist(rng);
    for (auto& v : b) v = dist(rng);
    for (auto& v : w) v = dist(rng);
    // The ends of e^x's range and beyond, where silu must stay finite.
    const float extremes[] = {0.0f, -0.0f, 88.0f, -88.0f, 87.4f, -87.4f, 100.0f, -100.0f, 1e4f, -1e4f, 1e-30f};
    for (size_t i = 0; i < a.size() && i < std::size(extremes); ++i) a[a.size() - 1 - i] = extremes[i];
    const std::string where = "n=" + std::to_string(n);

    double ss = 0;
    for (float v : a) ss += static_cast<double>(v) * v;
    EXPECT_NEAR(sum_squares_f32(a.data(), n), ss, 2.3e-16 * static_cast<double>(n + 1) * ss) << where;

    const float s = 0.37f;
    std::vector<float> y(static_cast<size_t>(n) + 1, 7.0f);  // one sentinel past the end
    scale_mul_f32(y.data(), a.data(), s, w.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float xs = a[static_cast<size_t>(i)] * s;
      ASSERT_EQ(y[static_cast<size_t>(i)], xs * w[static_cast<size_t>(i)]) << where << " i=" << i;
    }
    scale_mul_f32(y.data(), a.data(), s, nullptr, n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], a[static_cast<size_t>(i)] * s) << where;
    add_f32(y.data(), a.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], a[static_cast<size_t>(i)] + b[static_cast<size_t>(i)]) << where;
    mul_f32(y.data(), a.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], a[static_cast<size_t>(i)] * b[static_cast<size_t>(i)]) << where;
    for (bool gated : {true, false}) {
      swiglu_f32(y.data(), a.data(), gated ? b.data() : nullptr, n);
      for (int64_t i = 0; i < n; ++i) {
        const double g = a[static_cast<size_t>(i)], u = gated ? b[static_cast<size_t>(i)] : 1.0;
        const double ref = g / (1.0 + std::exp(-g)) * u;
        const float got = y[static_cast<size_t>(i)];
        ASSERT_TRUE(std::isfinite(got)) << where << " g=" << g;
        // A few ulp of the result, plus an absolute floor for the far negative
        // tail where the clamped e^x leaves g / (1 + e^87.3) instead of 0.
        EXPECT_NEAR(got, ref, 1e-6 * std::fabs(ref) + 1e-30) << where << " g=" << g << " gated=" << gated;
      }
    }
    EXPECT_EQ(y[static_cast<size_t>(n)], 7.0f) << where << ": wrote past the end";

    // A softmax's numerators: e^(s - shift) for scores at most the shift
    // (down to -1e4 below it, where e^ is 0 or, clamped, the smallest normal).
    float shift = -INFINITY;
    for (float v : a) shift = std::max(shift, v);
    std::vector<float> e(a);
    e.push_back(7.0f);  // a sentinel
    const double sum = exp_shifted_f32(e.data(), n, shift);
    double ref_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double ref = std::exp(static_cast<double>(a[static_cast<size_t>(i)]) - static_cast<double>(shift));
      ref_sum += ref;
      EXPECT_NEAR(e[static_cast<size_t>(i)], ref, 1e-6 * ref + 2e-38) << where << " s=" << a[static_cast<size_t>(i)];
    }
    EXPECT_NEAR(sum, ref_sum, 1e-6 * ref_sum) << where;
    EXPECT_EQ(e[static_cast<size_t>(n)], 7.0f) << where << ": wrote past the end";
  }
}

#if defined(WA_HAVE_WASM_SIMD128)
// Every candidate register tile of the SIMD128 prompt GEMMs (and of the
// relaxed-SIMD ones, in the relaxed build) gives the same bits as the
// default one, on shapes with partial tiles, partial panels and several k
// chunks (the tile is a speed choice, never a numerics one).
void check_wasm_gemm_tiles(Isa isa);

TEST(CpuKernels, WasmGemmTilesAgreeBitForBit) {
  for (Isa isa : {Isa::wasm_simd128, Isa::wasm_relaxed}) {
    if (!isa_supported(isa)) continue;
    SCOPED_TRACE(isa_name(isa));
    check_wasm_gemm_tiles(isa);
  }
}

void check_wasm_gemm_tiles(Isa isa) {
  IsaGuard guard;
  ASSERT_TRUE(force_isa(isa));
  const detail::WasmTileApi api = detail::wasm_tile_api(isa);
  detail::WasmTile int8_default, float_default;
  api.get(&int8_default, &float_default);
  std::mt19937 rng(321);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType type : {DType::f32, DType::f16, DType::q8_0, DType::q4_0}) {
    const bool int8 = type == DType::q8_0 || type == DType::q4_0;
    const int count = int8 ? api.int8_count() : api.float_count();
    for (int64_t k : {96, 608}) {
      const int64_t n = 37, m = 23;
      const Weights w = make_weights(type, n, k, rng);
      std::vector<float> x(static_cast<size_t>(m * k));
      for (auto& v : x) v = dist(rng);
      ASSERT_TRUE(api.set(int8_default, float_default));
      const Result want = run_matmul(type, w, x, k, m, n, k, 1);
      for (int i = 0; i < count; ++i) {
        const detail::WasmTile t = int8 ? api.int8_tile(i) : api.float_tile(i);
        ASSERT_TRUE(api.set(int8 ? t : int8_default, int8 ? float_default : t));
        for (int nth : {1, 2}) {
          const Result got = run_matmul(type, w, x, k, m, n, k, nth);
          EXPECT_EQ(0, std::memcmp(want.y.data(), got.y.data(), got.y.size() * sizeof(float)))
              << dtype_name(type) << " k=" << k << " tile " << t.w << "x" << t.x << " nth=" << nth;
        }
      }
    }
  }
  EXPECT_FALSE(api.set({3, 5}, float_default));  // not a candidate
  ASSERT_TRUE(api.set(int8_default, float_default));
}
#endif

}  // namespace
}  // namespace wa::cpu
