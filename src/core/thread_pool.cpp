#include "core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WA_CPU_RELAX() _mm_pause()
#else
#define WA_CPU_RELAX() std::this_thread::yield()
#endif

#if defined(__EMSCRIPTEN_PTHREADS__)
#include <emscripten/threading.h>

#include <cmath>  // INFINITY: no timeout for emscripten_futex_wait
#endif

namespace wa {
namespace {

// Sleep until *a != old / wake the sleepers. libc++ 14 implements
// std::atomic::wait on emscripten (no Linux futex) by polling with a
// backoff that ends in sleeps, which made a 2-thread wasm decode ~20x slower
// than one thread; emscripten's futex is memory.atomic.wait/notify.
void futex_wait(std::atomic<int>& a, int old) {
#if defined(__EMSCRIPTEN_PTHREADS__)
  static_assert(sizeof(std::atomic<int>) == sizeof(int));
  emscripten_futex_wait(reinterpret_cast<volatile void*>(&a), static_cast<uint32_t>(old), INFINITY);
#else
  a.wait(old, std::memory_order_seq_cst);
#endif
}

void futex_wake_all(std::atomic<int>& a) {
#if defined(__EMSCRIPTEN_PTHREADS__)
  emscripten_futex_wake(reinterpret_cast<volatile void*>(&a), INT32_MAX);
#else
  a.notify_all();
#endif
}

// About 10-40 us of pause instructions: enough to cover an op's imbalance on
// an idle machine without stalling one that is oversubscribed. wasm has no
// pause and its sched_yield returns at once, so an iteration there is a few
// ns and 2000 of them ended the spin before most barriers' stragglers came,
// and a sleeper's wake-up (Atomics.wait/notify) costs tens of us. Measured
// (GPU host's Xeon, Node 26, relaxed-SIMD pthreads build, 2 threads, synth
// 1B q4_0 tg128, two rounds, medians of 3): 2000 spins 10.12 / 9.57 t/s,
// 20000 11.14 / 10.27, 100000 10.63 / 11.22; native 19.40 / 20.10. (There,
// yield is emscripten's sched_yield, which runs the thread's proxied-call
// queue under a mutex; spinning on bare loads instead was not faster:
// BENCHMARKS.md.)
#if defined(__EMSCRIPTEN__)
constexpr int kSpinsBeforeSleep = 20000;
#else
constexpr int kSpinsBeforeSleep = 2000;
#endif
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  done_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    ++generation_;
  }
  cv_.notify_all();
  fn(0, n_threads_);
  // Wait for the workers to finish this job (they end with the graph's last barrier, so this is short).
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_threads_ - 1; ++spins) {
    if (spins < kSpinsBeforeSleep) {
      WA_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  job_ = nullptr;
}

void ThreadPool::worker(int ith) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int, int)>* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    (*job)(ith, n_threads_);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::barrier() {
  if (n_threads_ == 1) return;
  const int sense = barrier_sense_.load(std::memory_order_relaxed);
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) == n_threads_ - 1) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_sense_.store(sense ^ 1, std::memory_order_seq_cst);
    // seq_cst pairs with the sleeper's increment: either we see it and wake
    // it, or it sees the new sense and never sleeps.
    if (barrier_sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(barrier_sense_);
    return;
  }
  for (int spins = 0; spins < kSpinsBeforeSleep; ++spins) {
    if (barrier_sense_.load(std::memory_order_acquire) != sense) return;
    WA_CPU_RELAX();
  }
  barrier_sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while (barrier_sense_.load(std::memory_order_seq_cst) == sense) futex_wait(barrier_sense_, sense);
  barrier_sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace wa
