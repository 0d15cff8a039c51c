// CPU matmul microbenchmark at the shapes of a 1B LLaMA (hidden 2048, ffn
// 5632, 4 KV heads x 64, vocab 32000): m=1 (decode, reported as weight GB/s)
// and m=512 (prompt, reported as GFLOP/s), on 1 and 2 threads; and the
// row-dot types q2_K, q3_K, wa_vq2, wa_vq3 at one 4096x4096 decode shape.
//
//   cpu_kernels_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   WEBACCEL_ISA=scalar|avx2|avx512 selects the kernels.
//
// Decode weights rotate through copies totalling > 128 MiB so they come
// from DRAM as in a real model, not from the last-level cache. BM_read is a
// plain streaming read of the same volume: decode GB/s is best read as a
// fraction of it.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/kernels.h"
#include "core/dtype.h"
#include "quant/vq.h"

namespace {

using namespace wa;
using namespace wa::cpu;

// Spinning barrier: a futex wake costs tens of microseconds, the size of a
// whole decode matmul; the backend's pool spins for the same reason.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void wait() {
    const int gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    // Spin, then yield: on an oversubscribed machine a pure spinner can hold
    // the core the thread it waits for needs.
    for (int spins = 0; gen_.load(std::memory_order_acquire) == gen; ++spins) {
      if (spins < 20000) {
        _mm_pause();
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  const int n_;
  std::atomic<int> count_{0};
  std::atomic<int> gen_{0};
};

// nth-1 workers that run a job on every go(); the caller is thread 0.
class Pool {
 public:
  explicit Pool(int nth) : nth_(nth), bar_(nth) {
    for (int i = 1; i < nth; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    stop_ = true;
    bar_.wait();
    for (auto& t : workers_) t.join();
  }
  template <class F>
  void go(F&& f) {
    job_ = f;
    bar_.wait();
    job_(0);
    bar_.wait();
  }
  SpinBarrier& barrier() { return bar_; }
  int size() const { return nth_; }

 private:
  void loop(int ith) {
    for (;;) {
      bar_.wait();
      if (stop_) return;
      job_(ith);
      bar_.wait();
    }
  }
  int nth_;
  SpinBarrier bar_;
  std::function<void(int)> job_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

std::vector<uint8_t> random_weights(DType type, int64_t n, int64_t k) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(k));
  const size_t rb = row_bytes(type, k);
  std::vector<uint8_t> w(rb * static_cast<size_t>(n));
  // The vq quantizer (quant/vq.h) does about 0.2 M weights/s: 256 distinct
  // rows, repeated, carry the codes' distribution (which sets the codebook's
  // cache behaviour) without minutes of setup.
  const int64_t distinct = quant::is_vq_type(type) ? 256 : n;
  for (int64_t j = 0; j < n; ++j) {
    if (j >= distinct) {
      std::memcpy(w.data() + j * rb, w.data() + (j % distinct) * rb, rb);
      continue;
    }
    for (auto& v : row) v = dist(rng);
    if (type == DType::f32) {
      std::memcpy(w.data() + j * rb, row.data(), rb);
    } else {
      type_traits(type)->from_f32(row.data(), w.data() + j * rb, k);
    }
  }
  return w;
}

void BM_matmul(benchmark::State& state, DType type, int64_t m, int64_t n, int64_t k) {
  const int nth = static_cast<int>(state.range(0));
  const size_t rb = row_bytes(type, k);
  const size_t wbytes = rb * static_cast<size_t>(n);
  // Decode: enough copies that the set does not fit a 32 MiB L3.
  const size_t copies = m == 1 ? (size_t{128} << 20) / wbytes + 1 : 1;
  std::vector<std::vector<uint8_t>> ws_w;
  ws_w.push_back(random_weights(type, n, k));
  for (size_t c = 1; c < copies; ++c) ws_w.push_back(ws_w[0]);
  std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n));
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> work(matmul_workspace_bytes(type, m, k) + 64);
  void* wsp = work.data() + (64 - reinterpret_cast<uintptr_t>(work.data()) % 64) % 64;
  Pool pool(nth);
  size_t c = 0;
  for (auto _ : state) {
    const MatmulProblem p{type, ws_w[c].data(), rb, x.data(), k, y.data(), n, m, n, k};
    c = (c + 1) % copies;
    pool.go([&](int ith) {
      matmul_prepare(p, wsp, ith, nth);
      pool.barrier().wait();
      matmul_compute(p, wsp, ith, nth);
    });
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(iters * static_cast<double>(wbytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(iters * 2.0 * static_cast<double>(m * n * k) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(isa_name(active_isa()));
}

// Streaming read of 256 MiB split over the threads: the bandwidth ceiling
// for decode on this machine.
void BM_read(benchmark::State& state) {
  const int nth = static_cast<int>(state.range(0));
  const size_t bytes = size_t{256} << 20;
  std::vector<float> buf(bytes / sizeof(float), 1.0f);
  std::vector<float> sums(static_cast<size_t>(nth) * 16);
  Pool pool(nth);
  for (auto _ : state) {
    pool.go([&](int ith) {
      const size_t per = buf.size() / static_cast<size_t>(nth);
      const float* p = buf.data() + per * static_cast<size_t>(ith);
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (size_t i = 0; i + 32 <= per; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
      }
      alignas(32) float t[8];
      _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
      sums[static_cast<size_t>(ith) * 16] = t[0] + t[7];
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(bytes) / 1e9,
                         benchmark::Counter::kIsRate);
}

struct Shape {
  const char* name;
  int64_t n, k;
};
constexpr Shape kShapes[] = {
    {"attn_qo_2048x2048", 2048, 2048},
    {"attn_kv_256x2048", 256, 2048},
    {"ffn_up_5632x2048", 5632, 2048},
    {"ffn_down_2048x5632", 2048, 5632},
    {"output_32000x2048", 32000, 2048},
};

int register_all() {
  benchmark::RegisterBenchmark("read_256MiB", BM_read)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  for (DType type : {DType::q4_0, DType::q8_0, DType::f16, DType::f32}) {
    for (int64_t m : {1, 512}) {
      for (const Shape& s : kShapes) {
        if (m == 512 && s.n == 32000) continue;  // not in pp512 per token budget here
        if (m == 512 && (type == DType::f32 || type == DType::f16) && s.n != 2048) continue;
        const std::string name = std::string(dtype_name(type)) + "/m" + std::to_string(m) + "/" + s.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_matmul, type, m, s.n, s.k)
            ->Arg(1)
            ->Arg(2)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  // Row-dot types at one square decode shape: the own vq formats against
  // the k-quants of about their size.
  for (DType type : {DType::q2_k, DType::q3_k, DType::wa_vq2, DType::wa_vq3}) {
    const std::string name = std::string(dtype_name(type)) + "/m1/square_4096x4096";
    benchmark::RegisterBenchmark(name.c_str(), BM_matmul, type, 1, 4096, 4096)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
