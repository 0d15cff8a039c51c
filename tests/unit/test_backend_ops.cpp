// Backend ops: every graph op, through the CPU backend, for every ISA this CPU
// has and several thread counts, against an independent float64 reference
// written here. Odd shapes, NMSE limits, NaN/inf checks (in the spirit of
// llama.cpp's test-backend-ops). The wasm build of this file (see
// tests/CMakeLists.txt) runs the same cases on the SIMD128 kernels under
// Node; the WebGPU backend joins the list and must meet the same limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "core/fp16.h"
#include "core/graph.h"

namespace wa {
namespace {

using Ref = std::vector<double>;

struct Buffer {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // f32 view of what the bytes encode (after quantization)
};

// Random f32 data encoded in `type`; `values` holds the decoded numbers so the
// reference sees exactly what the kernel sees.
Buffer make_data(DType type, int64_t cols, int64_t rows, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> raw(static_cast<size_t>(cols * rows));
  for (auto& v : raw) v = dist(rng);
  Buffer b;
  b.bytes.resize(row_bytes(type, cols) * static_cast<size_t>(rows));
  const TypeTraits* t = type_traits(type);
  for (int64_t r = 0; r < rows; ++r) t->from_f32(raw.data() + r * cols, b.bytes.data() + r * row_bytes(type, cols), cols);
  b.values.resize(raw.size());
  for (int64_t r = 0; r < rows; ++r) t->to_f32(b.bytes.data() + r * row_bytes(type, cols), b.values.data() + r * cols, cols);
  return b;
}

double nmse(const float* got, const Ref& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (got[i] - ref[i]) * (got[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? err / norm : err;
}

struct Variant {
  cpu::Isa isa;
  int threads;
};

// Threads per backend: one only where the build has none (single-threaded wasm).
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr int kMaxThreads = 1;
#else
constexpr int kMaxThreads = 3;
#endif

// Every ISA this build and CPU have (the wasm build of this file runs the
// SIMD128 kernels under Node).
std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (cpu::Isa isa : cpu::kAllIsas) {
    if (!cpu::isa_supported(isa)) continue;
    for (int t = 1; t <= kMaxThreads; ++t) v.push_back({isa, t});
  }
  return v;
}

// Builds the graph with `build`, runs it in every variant, compares the output to `ref`.
void check_op(const std::string& what, const std::function<Node*(Graph&)>& build, const Ref& ref, double max_nmse) {
  for (const Variant& v : variants()) {
    ASSERT_TRUE(cpu::force_isa(v.isa));
    auto backend = make_cpu_backend({v.threads, nullptr});
    Graph g;
    Node* out = build(g);
    g.mark_output(out);
    Status s = backend->compute(g);
    ASSERT_TRUE(s.ok()) << what << ": " << s.to_string();
    ASSERT_EQ(static_cast<size_t>(out->n_elements()), ref.size()) << what;
    const float* y = static_cast<const float*>(out->data);
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << what << " [" << cpu::isa_name(v.isa) << ", " << v.threads << " threads] element " << i;
    }
    const double e = nmse(y, ref);
    EXPECT_LE(e, max_nmse) << what << " [" << cpu::isa_name(v.isa) << ", " << v.threads << " threads]";
  }
  cpu::force_isa(cpu::detect_isa());
}

const int64_t kOdd[] = {5, 7, 11, 13};

// Quantized weights multiply activations that the kernels first quantize to
// 8-bit blocks (32 values; 256, q8_K, for the k-quants and the own vq
// formats), as GGUF's integer dot products define. So each
// case is checked twice: tightly against a float64 reference fed the same
// q8_0-rounded activations (catches kernel bugs), and loosely against exact
// f32 activations (bounds what the activation rounding costs).
TEST(BackendOps, MulMatEveryWeightType) {
  std::mt19937 rng(1);
  struct TypeLimit {
    DType type;
    double exact_nmse;      // vs the reference that sees what the kernel sees
    double f32_act_nmse;    // vs unrounded f32 activations
  };
  for (TypeLimit tl : {TypeLimit{DType::f32, 1e-10, 1e-10}, TypeLimit{DType::f16, 1e-6, 1e-6},
                       TypeLimit{DType::q8_0, 1e-10, 2e-3}, TypeLimit{DType::q4_0, 1e-10, 2e-3},
                       TypeLimit{DType::q4_1, 1e-10, 2e-3}, TypeLimit{DType::q5_0, 1e-10, 2e-3},
                       TypeLimit{DType::q5_1, 1e-10, 2e-3}, TypeLimit{DType::q2_k, 1e-10, 2e-3},
                       TypeLimit{DType::q3_k, 1e-10, 2e-3}, TypeLimit{DType::q4_k, 1e-10, 2e-3},
                       TypeLimit{DType::q5_k, 1e-10, 2e-3}, TypeLimit{DType::q6_k, 1e-10, 2e-3},
                       TypeLimit{DType::wa_vq2, 1e-10, 2e-3}, TypeLimit{DType::wa_vq3, 1e-10, 2e-3}}) {
    const bool q8_activations = tl.type != DType::f32 && tl.type != DType::f16;
    // Activation blocks: 32 values, or 256 (q8_K) for the k-quants.
    const int64_t ab = block_size(tl.type) == 256 ? 256 : 32;
    const std::vector<int64_t> ks = ab == 256 ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{32, 64, 96, 256};
    for (int64_t k : ks) {
      for (int64_t n : kOdd) {
        for (int64_t m : {1, 2, 5, 13}) {
          Buffer w = make_data(tl.type, k, n, rng);
          Buffer x = make_data(DType::f32, k, m, rng);
          std::vector<float> xq = x.values;
          if (q8_activations) {
            // The kernels' activation blocks: ab values, largest magnitude -> 127,
            // scale kept in f32, round to nearest even (see kernels_scalar.cpp).
            for (int64_t b = 0; b < m * k / ab; ++b) {
              float amax = 0;
              for (int j = 0; j < ab; ++j) amax = std::max(amax, std::fabs(x.values[b * ab + j]));
              const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
              for (int j = 0; j < ab; ++j) xq[b * ab + j] = d * static_cast<float>(std::nearbyint(x.values[b * ab + j] * id));
            }
          }
          Ref ref(static_cast<size_t>(n * m)), ref_f32(static_cast<size_t>(n * m));
          for (int64_t j = 0; j < m; ++j)
            for (int64_t i = 0; i < n; ++i) {
              double acc = 0, acc32 = 0;
              for (int64_t q = 0; q < k; ++q) {
                acc += static_cast<double>(w.values[i * k + q]) * xq[j * k + q];
                acc32 += static_cast<double>(w.values[i * k + q]) * x.values[j * k + q];
              }
              ref[j * n + i] = acc;
              ref_f32[j * n + i] = acc32;
            }
          auto build = [&](Graph& g) {
            Node* wn = g.leaf("w", tl.type, {k, n}, w.bytes.data());
            Node* xn = g.leaf("x", DType::f32, {k, m}, x.bytes.data());
            return g.mul_mat(wn, xn);
          };
          const std::string what = strformat("mul_mat %s k=%lld n=%lld m=%lld", dtype_name(tl.type), (long long)k,
                                             (long long)n, (long long)m);
          check_op(what, build, ref, tl.exact_nmse);
          check_op(what + " vs f32 activations", build, ref_f32, tl.f32_act_nmse);
        }
      }
    }
  }
}

TEST(BackendOps, GetRowsEveryTableType) {
  std::mt19937 rng(2);
  for (DType type : {DType::f32, DType::f16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                     DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k}) {
    const int64_t d = block_size(type) == 256 ? 512 : 64, vocab = 13;
    Buffer table = make_data(type, d, vocab, rng);
    std::vector<int32_t> ids = {3, 0, 12, 7, 7};
    Ref ref;
    for (int32_t id : ids)
      for (int64_t i = 0; i < d; ++i) ref.push_back(table.values[id * d + i]);
    check_op(strformat("get_rows %s", dtype_name(type)),
             [&](Graph& g) {
               return g.get_rows(g.leaf("t", type, {d, vocab}, table.bytes.data()),
                                 g.leaf("ids", DType::i32, {static_cast<int64_t>(ids.size())}, ids.data()));
             },
             ref, 0.0);
  }
}

// Hot rows (Graph::get_rows, formats/hot_rows.h): ids in the hot list read
// the hot table (here q8_0), the others the low-bit table, on a q2_K, a
// q4_0 and a repacked q4_0x4 table; the first, last and a missing id.
TEST(BackendOps, GetRowsWithHotRows) {
  std::mt19937 rng(6);
  const int64_t d = 256, vocab = 9;
  for (DType type : {DType::q2_k, DType::q4_0, DType::q4_0x4}) {
    Buffer table = make_data(type == DType::q4_0x4 ? DType::q4_0 : type, d, vocab, rng);
    if (type == DType::q4_0x4) {
      ASSERT_TRUE(cpu::repack_q4_0x4(table.bytes.data(), row_bytes(DType::q4_0, d), vocab, d));
    }
    std::vector<int32_t> hot_ids = {0, 4, 8};
    Buffer hot = make_data(DType::q8_0, d, static_cast<int64_t>(hot_ids.size()), rng);
    std::vector<int32_t> ids = {8, 3, 0, 4, 5, 4};
    Ref ref;
    for (int32_t id : ids) {
      const auto at = std::find(hot_ids.begin(), hot_ids.end(), id);
      for (int64_t i = 0; i < d; ++i) {
        ref.push_back(at != hot_ids.end() ? hot.values[(at - hot_ids.begin()) * d + i] : table.values[id * d + i]);
      }
    }
    check_op(strformat("get_rows %s + hot rows q8_0", dtype_name(type)),
             [&](Graph& g) {
               return g.get_rows(g.leaf("t", type, {d, vocab}, table.bytes.data()),
                                 g.leaf("ids", DType::i32, {static_cast<int64_t>(ids.size())}, ids.data()),
                                 g.leaf("hot", DType::q8_0, {d, static_cast<int64_t>(hot_ids.size())}, hot.bytes.data()),
                                 g.leaf("hot_ids", DType::i32, {static_cast<int64_t>(hot_ids.size())}, hot_ids.data()));
             },
             ref, 0.0);
  }
}

// A q4_0x4 weight (q4_0 repacked in place, kernels.h) as a mul_mat weight
// and as a get_rows table (a tied embedding): the numbers its q4_0 holds,
// with a partial last group of rows.
TEST(BackendOps, Q4x4WeightsAndTable) {
  std::mt19937 rng(4);
  for (int64_t n : {5, 13, 16}) {
    const int64_t k = 96;
    Buffer w = make_data(DType::q4_0, k, n, rng);
    ASSERT_TRUE(cpu::repack_q4_0x4(w.bytes.data(), row_bytes(DType::q4_0, k), n, k));
    for (int64_t m : {1, 5}) {
      Buffer x = make_data(DType::f32, k, m, rng);
      Ref ref(static_cast<size_t>(n * m));
      for (int64_t j = 0; j < m; ++j)
        for (int64_t i = 0; i < n; ++i) {
          double acc = 0;
          for (int64_t q = 0; q < k; ++q) acc += static_cast<double>(w.values[i * k + q]) * x.values[j * k + q];
          ref[j * n + i] = acc;
        }
      check_op(strformat("mul_mat q4_0x4 n=%lld m=%lld", (long long)n, (long long)m),
               [&](Graph& g) {
                 return g.mul_mat(g.leaf("w", DType::q4_0x4, {k, n}, w.bytes.data()), g.leaf("x", DType::f32, {k, m}, x.bytes.data()));
               },
               ref, 2e-3);  // the activations are rounded to 8 bits, as for q4_0
    }
    std::vector<int32_t> ids = {3, 0, static_cast<int32_t>(n - 1), 4, 4};
    Ref ref;
    for (int32_t id : ids)
      for (int64_t i = 0; i < k; ++i) ref.push_back(w.values[id * k + i]);
    check_op(strformat("get_rows q4_0x4 n=%lld", (long long)n),
             [&](Graph& g) {
               return g.get_rows(g.leaf("t", DType::q4_0x4, {k, n}, w.bytes.data()),
                                 g.leaf("ids", DType::i32, {static_cast<int64_t>(ids.size())}, ids.data()));
             },
             ref, 0.0);
  }
}

TEST(BackendOps, RmsNormWithAndWithoutWeight) {
  std::mt19937 rng(3);
  for (int64_t d : kOdd) {
    const int64_t t = 3;
    Buffer x = make_data(DType::f32, d, t, rng);
    Buffer w = make_data(DType::f32, d, 1, rng);
    for (bool with_w : {true, false}) {
      Ref ref;
      for (int64_t r = 0; r < t; ++r) {
        double ss = 0;
        for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x.values[r * d + i]) * x.values[r * d + i];
        const double inv = 1.0 / std::sqrt(ss / d + 1e-5);
        for (int64_t i = 0; i < d; ++i) ref.push_back(x.values[r * d + i] * inv * (with_w ? w.values[i] : 1.0));
      }
      check_op(strformat("rms_norm d=%lld", (long long)d),
               [&](Graph& g) {
                 return g.rms_norm(g.leaf("x", DType::f32, {d, t}, x.bytes.data()),
                                   with_w ? g.leaf("w", DType::f32, {d}, w.bytes.data()) : nullptr, 1e-5f);
               },
               ref, 1e-12);
    }
  }
}

TEST(BackendOps, ElementwiseOps) {
  std::mt19937 rng(4);
  const int64_t d = 13, t = 7;
  Buffer a = make_data(DType::f32, d, t, rng);
  Buffer b = make_data(DType::f32, d, t, rng);
  Buffer row = make_data(DType::f32, d, 1, rng);
  auto leaf_a = [&](Graph& g) { return g.leaf("a", DType::f32, {d, t}, a.bytes.data()); };
  auto leaf_b = [&](Graph& g) { return g.leaf("b", DType::f32, {d, t}, b.bytes.data()); };
  Ref add, mul, bcast, scale, silu, swiglu;
  for (int64_t i = 0; i < d * t; ++i) {
    const double x = a.values[i], y = b.values[i];
    add.push_back(x + y);
    mul.push_back(x * y);
    bcast.push_back(x + row.values[i % d]);
    scale.push_back(x * 0.37);
    silu.push_back(x / (1 + std::exp(-x)));
    swiglu.push_back(x / (1 + std::exp(-x)) * y);
  }
  check_op("add", [&](Graph& g) { return g.add(leaf_a(g), leaf_b(g)); }, add, 1e-14);
  check_op("mul", [&](Graph& g) { return g.mul(leaf_a(g), leaf_b(g)); }, mul, 1e-14);
  check_op("add broadcast row", [&](Graph& g) { return g.add(leaf_a(g), g.leaf("r", DType::f32, {d}, row.bytes.data())); }, bcast, 1e-14);
  check_op("scale", [&](Graph& g) { return g.scale(leaf_a(g), 0.37f); }, scale, 1e-14);
  check_op("silu", [&](Graph& g) { return g.silu(leaf_a(g)); }, silu, 1e-12);
  check_op("swiglu", [&](Graph& g) { return g.swiglu(leaf_a(g), leaf_b(g)); }, swiglu, 1e-12);
}

TEST(BackendOps, RopeNormalAndNeox) {
  std::mt19937 rng(5);
  const int n_head = 3, head_dim = 8;
  const int64_t t = 5;
  Buffer x = make_data(DType::f32, n_head * head_dim, t, rng);
  std::vector<int32_t> pos = {0, 1, 7, 100, 3000};
  for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
    for (int n_rot : {8, 4}) {
      Ref ref(x.values.begin(), x.values.end());
      for (int64_t tt = 0; tt < t; ++tt)
        for (int h = 0; h < n_head; ++h)
          for (int i = 0; i < n_rot / 2; ++i) {
            const double theta = pos[tt] * std::pow(10000.0, -2.0 * i / n_rot);
            const int i0 = mode == RopeMode::neox ? i : 2 * i;
            const int i1 = mode == RopeMode::neox ? i + n_rot / 2 : 2 * i + 1;
            const size_t base = static_cast<size_t>(tt * n_head * head_dim + h * head_dim);
            const double a = x.values[base + i0], b = x.values[base + i1];
            ref[base + i0] = a * std::cos(theta) - b * std::sin(theta);
            ref[base + i1] = a * std::sin(theta) + b * std::cos(theta);
          }
      check_op(strformat("rope %s n_rot=%d", mode == RopeMode::neox ? "neox" : "normal", n_rot),
               [&](Graph& g) {
                 return g.rope(g.leaf("x", DType::f32, {n_head * head_dim, t}, x.bytes.data()),
                               g.leaf("pos", DType::i32, {t}, pos.data()), n_head, head_dim, n_rot, mode, 10000.0f, 1.0f);
               },
               ref, 1e-9);  // float angles at position 3000 lose ~1e-4 absolute
    }
  }
}

TEST(BackendOps, SoftmaxPlainAndCausal) {
  std::mt19937 rng(6);
  for (int64_t n : kOdd) {
    const int64_t rows = 4;
    const int n_past = 2;
    Buffer x = make_data(DType::f32, n, rows, rng, 3.0f);
    for (bool causal : {false, true}) {
      Ref ref;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t valid = causal ? std::min<int64_t>(n, n_past + r + 1) : n;
        double mx = -1e300, sum = 0;
        for (int64_t i = 0; i < valid; ++i) mx = std::max(mx, 0.5 * x.values[r * n + i]);
        for (int64_t i = 0; i < valid; ++i) sum += std::exp(0.5 * x.values[r * n + i] - mx);
        for (int64_t i = 0; i < n; ++i) ref.push_back(i < valid ? std::exp(0.5 * x.values[r * n + i] - mx) / sum : 0.0);
      }
      check_op(strformat("softmax n=%lld causal=%d", (long long)n, causal),
               [&](Graph& g) { return g.softmax(g.leaf("x", DType::f32, {n, rows}, x.bytes.data()), 0.5f, causal, n_past); },
               ref, 1e-12);
    }
  }
}

// kv_store then attention, for f32 and f16 caches, with grouped-query heads:
// decode (T=1), one prefill block, and prefill spanning several blocks.
TEST(BackendOps, KvStoreAndGroupedQueryAttention) {
  std::mt19937 rng(7);
  for (DType kv_type : {DType::f32, DType::f16}) {
    for (int n_head_kv : {1, 2, 4}) {
      for (int T : {1, 3, 70}) {
        const int n_head = 4, hd = 8, n_past = 5, n_ctx = n_past + T + 3;
        const int64_t kw = n_head_kv * hd;
        Buffer q = make_data(DType::f32, n_head * hd, T, rng);
        Buffer kold = make_data(kv_type, kw, n_past, rng);
        Buffer vold = make_data(kv_type, kw, n_past, rng);
        Buffer knew = make_data(kv_type, kw, T, rng);  // values representable in the cache type
        Buffer vnew = make_data(kv_type, kw, T, rng);
        // K cache: one row per position. V cache: transposed, one row per dimension.
        std::vector<uint8_t> kcache(row_bytes(kv_type, kw) * n_ctx), vcache(row_bytes(kv_type, n_ctx) * kw);
        std::copy(kold.bytes.begin(), kold.bytes.end(), kcache.begin());
        for (int64_t i = 0; i < kw; ++i)
          for (int j = 0; j < n_past; ++j) {
            const float v = vold.values[j * kw + i];
            if (kv_type == DType::f16) {
              reinterpret_cast<uint16_t*>(vcache.data())[i * n_ctx + j] = fp32_to_fp16(v);
            } else {
              reinterpret_cast<float*>(vcache.data())[i * n_ctx + j] = v;
            }
          }
        auto krow = [&](int j, int64_t i) { return j < n_past ? kold.values[j * kw + i] : knew.values[(j - n_past) * kw + i]; };
        auto vrow = [&](int j, int64_t i) { return j < n_past ? vold.values[j * kw + i] : vnew.values[(j - n_past) * kw + i]; };
        Ref ref;
        const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
        for (int t = 0; t < T; ++t)
          for (int h = 0; h < n_head; ++h) {
            const int hk = h / (n_head / n_head_kv);
            const int n_kv = n_past + t + 1;
            std::vector<double> sc(static_cast<size_t>(n_kv));
            double mx = -1e300, sum = 0;
            for (int j = 0; j < n_kv; ++j) {
              double acc = 0;
              for (int i = 0; i < hd; ++i) acc += q.values[t * n_head * hd + h * hd + i] * static_cast<double>(krow(j, hk * hd + i));
              sc[static_cast<size_t>(j)] = acc * scale;
              mx = std::max(mx, sc[static_cast<size_t>(j)]);
            }
            for (auto& v : sc) sum += (v = std::exp(v - mx));
            for (int i = 0; i < hd; ++i) {
              double acc = 0;
              for (int j = 0; j < n_kv; ++j) acc += sc[static_cast<size_t>(j)] / sum * vrow(j, hk * hd + i);
              ref.push_back(acc);
            }
          }
        check_op(strformat("attention kv=%s n_head_kv=%d T=%d", dtype_name(kv_type), n_head_kv, T),
                 [&](Graph& g) {
                   Node* kc = g.leaf("kc", kv_type, {kw, n_ctx}, kcache.data());
                   Node* vc = g.leaf("vc", kv_type, {n_ctx, kw}, vcache.data());
                   Node* kn = g.leaf("kn", DType::f32, {kw, T}, knew.values.data());
                   Node* vn = g.leaf("vn", DType::f32, {kw, T}, vnew.values.data());
                   Node* ks = g.kv_store(kn, kc, n_past);
                   Node* vs = g.kv_store(vn, vc, n_past, /*transposed=*/true);
                   return g.attention(g.leaf("q", DType::f32, {n_head * hd, T}, q.bytes.data()), ks, vs, n_head,
                                      n_head_kv, hd, n_past, static_cast<float>(scale));
                 },
                 ref, kv_type == DType::f32 ? 1e-12 : 1e-8);
      }
    }
  }
}

TEST(BackendOps, PlannerReusesMemory) {
  // A chain of ops: the planner must need far less than the sum of all outputs.
  std::vector<float> x(256 * 4, 1.0f);
  Graph g;
  Node* n = g.leaf("x", DType::f32, {256, 4}, x.data());
  for (int i = 0; i < 20; ++i) n = g.scale(n, 1.01f);
  g.mark_output(n);
  const size_t planned = g.plan();
  EXPECT_LE(planned, 3 * 256 * 4 * sizeof(float));
  EXPECT_EQ(g.unplanned_bytes(), 20u * 256 * 4 * sizeof(float));
  auto backend = make_cpu_backend({std::min(2, kMaxThreads), nullptr});
  ASSERT_TRUE(backend->compute(g).ok());
  EXPECT_NEAR(n->as<float>()[0], std::pow(1.01, 20), 1e-5);
}

// Consecutive decode matmuls of one X row (Q/K/V, gate/up) run as one step
// (cpu_backend.cpp), each thread quantizing X into its own workspace slice:
// every output must equal the same matmul run alone, bit for bit, at every
// thread count, and a later reader must see them complete.
TEST(BackendOps, DecodeMatmulsOfOneRowShareAStep) {
  std::mt19937 rng(3);
  const int64_t k = 512;
  struct Weight {
    DType type;
    int64_t n;
    Buffer b;
  };
  std::vector<Weight> ws = {{DType::q4_0, 67, {}}, {DType::q8_0, 13, {}}, {DType::q4_k, 67, {}}, {DType::f16, 5, {}}};
  for (Weight& w : ws) w.b = make_data(w.type, k, w.n, rng);
  Buffer x = make_data(DType::f32, k, 1, rng);
  for (const Variant& v : variants()) {
    ASSERT_TRUE(cpu::force_isa(v.isa));
    auto backend = make_cpu_backend({v.threads, nullptr});
    const std::string where = strformat("[%s, %d threads]", cpu::isa_name(v.isa), v.threads);
    std::vector<std::vector<float>> alone;
    for (Weight& w : ws) {
      Graph g;
      Node* out = g.mul_mat(g.leaf("w", w.type, {k, w.n}, w.b.bytes.data()), g.leaf("x", DType::f32, {k, 1}, x.bytes.data()));
      g.mark_output(out);
      ASSERT_TRUE(backend->compute(g).ok()) << where;
      alone.emplace_back(out->as<float>(), out->as<float>() + w.n);
    }
    Graph g;
    // X in the arena (freed after its last reader, as a norm's output is).
    Node* xn = g.scale(g.leaf("x", DType::f32, {k, 1}, x.bytes.data()), 1.0f);
    std::vector<Node*> outs;
    for (Weight& w : ws) outs.push_back(g.mul_mat(g.leaf("w", w.type, {k, w.n}, w.b.bytes.data()), xn));
    Node* sum = g.add(outs[0], outs[2]);
    for (Node* o : outs) g.mark_output(o);
    g.mark_output(sum);
    ASSERT_TRUE(backend->compute(g).ok()) << where;
    for (size_t i = 0; i < ws.size(); ++i) {
      EXPECT_EQ(0, std::memcmp(outs[i]->data, alone[i].data(), alone[i].size() * sizeof(float))) << dtype_name(ws[i].type) << " " << where;
    }
    for (int64_t j = 0; j < ws[0].n; ++j) {
      EXPECT_EQ(sum->as<float>()[j], alone[0][static_cast<size_t>(j)] + alone[2][static_cast<size_t>(j)]) << where;
    }
  }
  cpu::force_isa(cpu::detect_isa());
}

TEST(BackendOps, UnsupportedOpIsAnErrorNotACrash) {
  // q8_1: a GGUF type (llama.cpp's activation blocks) with no kernel here.
  std::vector<uint8_t> w(row_bytes(DType::q8_1, 256) * 4);
  std::vector<float> x(256);
  Graph g;
  Node* out = g.mul_mat(g.leaf("w", DType::q8_1, {256, 4}, w.data()), g.leaf("x", DType::f32, {256, 1}, x.data()));
  g.mark_output(out);
  auto backend = make_cpu_backend({1, nullptr});
  Status s = backend->compute(g);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
}

}  // namespace
}  // namespace wa
