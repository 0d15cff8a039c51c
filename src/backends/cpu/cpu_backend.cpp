// The CPU backend: plans a graph into one tracked arena and runs it on a
// thread pool, all threads walking a list of steps together with a barrier
// after each step. A step is one node split across the threads, or a run of
// consecutive small nodes computed by thread 0 alone: on a decode step most
// nodes (norms, rope, residual adds, KV stores) take a microsecond or two,
// less than a barrier costs, and far less than a barrier costs on a busy
// machine where the other thread may be waiting to be scheduled.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "backends/backend.h"
#include "backends/cpu/ops.h"
#include "core/thread_pool.h"

namespace wa {
namespace {

struct Step {
  bool serial;  // computed by thread 0 alone
  std::vector<const Node*> nodes;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& o)
      : pool_(o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads()), tracker_(o.tracker) {
    const char* env = std::getenv("WEBACCEL_PROFILE");
    profile_ = env && *env && *env != '0';
  }

  // With WEBACCEL_PROFILE=1, prints wall time per op kind (measured on thread
  // 0 from barrier to barrier, so it includes waiting for the slowest thread).
  ~CpuBackend() override {
    if (!profile_) return;
    double total = 0;
    for (double t : op_seconds_) total += t;
    std::fprintf(stderr, "cpu backend profile (%d threads):\n", pool_.size());
    for (int i = 0; i < static_cast<int>(Op::count); ++i) {
      if (op_calls_[i] == 0) continue;
      std::fprintf(stderr, "  %-10s %8lld calls %10.1f ms %5.1f%%\n", op_name(static_cast<Op>(i)),
                   static_cast<long long>(op_calls_[i]), op_seconds_[i] * 1e3, total > 0 ? 100.0 * op_seconds_[i] / total : 0.0);
    }
  }

  std::string name() const override { return "cpu"; }
  bool supports_op(const Node& node) const override { return cpu::op_supported(node); }

  Status compute(Graph& graph) override {
    for (const Node& n : graph.nodes()) {
      if (!supports_op(n)) {
        return unsupported(strformat("cpu backend cannot run op %s on %s (node '%s')", op_name(n.op),
                                     n.src[0] ? dtype_name(n.src[0]->type) : "-", n.name.c_str()));
      }
    }
    const size_t arena_bytes = graph.plan();
    size_t ws = 0;
    for (const Node& n : graph.nodes()) ws = std::max(ws, cpu::op_workspace_bytes(n, pool_.size()));
    WA_TRY(ensure(arena_, arena_bytes, "activations.arena", MemCategory::activations));
    WA_TRY(ensure(workspace_, ws, "activations.workspace", MemCategory::activations));
    graph.bind_arena(arena_.data());

    std::vector<Step> steps;
    for (const Node& n : graph.nodes()) {
      if (n.is_leaf()) continue;
      const bool serial = pool_.size() > 1 && cpu::op_is_small(n);
      if (serial && !steps.empty() && steps.back().serial) {
        steps.back().nodes.push_back(&n);
      } else if (!serial && joins_decode_matmuls(steps, n)) {
        steps.back().nodes.push_back(&n);
      } else {
        steps.push_back({serial, {&n}});
      }
    }
    void* ws_ptr = workspace_.data();
    pool_.run([&](int ith, int nth) {
      cpu::OpContext ctx;
      ctx.ith = ith;
      ctx.nth = nth;
      ctx.workspace = ws_ptr;
      ctx.workspace_bytes = ws;
      ctx.pool = &pool_;
      ctx.barrier = [](void* p) { static_cast<ThreadPool*>(p)->barrier(); };
      using clock = std::chrono::steady_clock;
      const bool timing = profile_ && ith == 0;
      cpu::OpContext alone = ctx;  // thread 0 computing a whole node by itself
      alone.nth = 1;
      alone.barrier = nullptr;
      for (const Step& step : steps) {
        const auto t0 = timing ? clock::now() : clock::time_point();
        if (!step.serial) {
          for (const Node* n : step.nodes) cpu::compute_op(*n, ctx);
        } else if (ith == 0) {
          for (const Node* n : step.nodes) cpu::compute_op(*n, alone);
        }
        pool_.barrier();
        if (timing) {
          // A serial run is charged to its first node's op.
          op_seconds_[static_cast<int>(step.nodes[0]->op)] += std::chrono::duration<double>(clock::now() - t0).count();
          op_calls_[static_cast<int>(step.nodes[0]->op)] += static_cast<int64_t>(step.nodes.size());
        }
      }
    });
    return Status::Ok();
  }

 private:
  // Decode matmuls of one X row (Q/K/V; gate/up) run in one step, one
  // barrier for all: each needs none inside (ops.h), and with the same X
  // and weight leaves none reads another's output, while X, read by the last
  // of them, stays allocated through the step (Graph::plan frees a node's
  // memory after its last reader).
  static bool joins_decode_matmuls(const std::vector<Step>& steps, const Node& n) {
    if (steps.empty() || steps.back().serial || !cpu::op_is_decode_matmul(n)) return false;
    const Node* first = steps.back().nodes[0];
    return cpu::op_is_decode_matmul(*first) && first->src[1] == n.src[1];
  }

  // Buffers grow to the largest graph seen and are then reused step after step.
  Status ensure(TrackedBuffer& buf, size_t bytes, const char* component, MemCategory cat) {
    if (buf.size() >= bytes) return Status::Ok();
    buf.reset();
    WA_ASSIGN_OR_RETURN(buf, TrackedBuffer::allocate(bytes, tracker_, component, cat));
    return Status::Ok();
  }

  ThreadPool pool_;
  MemoryTracker* tracker_;
  bool profile_ = false;
  double op_seconds_[static_cast<int>(Op::count)] = {};
  int64_t op_calls_[static_cast<int>(Op::count)] = {};
  TrackedBuffer arena_;
  TrackedBuffer workspace_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace wa
