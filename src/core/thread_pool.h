// A fork-join pool for graph execution. `run(fn)` calls fn(ith, nth) on every
// thread (the caller is thread 0) and returns when all are done. Inside fn,
// threads synchronise between ops with barrier(): a decode step runs hundreds
// of small ops, so a waiting thread first spins (the others are usually a few
// microseconds behind), then sleeps on a futex (std::atomic::wait) so that on
// a busy machine it gives its core to the thread it waits for instead of
// burning it or yielding it to another process for a whole time slice. The
// last thread to arrive wakes sleepers only when there are any. Between runs
// the workers sleep on a condition variable.
#pragma once

#include <cstdint>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wa {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  void run(const std::function<void(int ith, int nth)>& fn);
  // Only valid inside run(): every thread must call it the same number of times.
  void barrier();

  static int default_threads();

 private:
  void worker(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::atomic<int> done_{0};
  // sense-reversing barrier: spin, then futex wait
  std::atomic<int> barrier_count_{0};
  std::atomic<int> barrier_sense_{0};
  std::atomic<int> barrier_sleepers_{0};
};

}  // namespace wa
