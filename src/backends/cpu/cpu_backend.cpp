// The CPU backend: plans a graph into one tracked arena and runs it on a
// thread pool, all threads walking the node list together with a barrier
// between nodes.
#include <algorithm>

#include "backends/backend.h"
#include "backends/cpu/ops.h"
#include "core/thread_pool.h"

namespace wa {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& o)
      : pool_(o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads()), tracker_(o.tracker) {}

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

    std::vector<const Node*> work;
    work.reserve(graph.nodes().size());
    for (const Node& n : graph.nodes()) {
      if (!n.is_leaf()) work.push_back(&n);
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
      for (const Node* n : work) {
        cpu::compute_op(*n, ctx);
        pool_.barrier();
      }
    });
    return Status::Ok();
  }

 private:
  // Buffers grow to the largest graph seen and are then reused step after step.
  Status ensure(TrackedBuffer& buf, size_t bytes, const char* component, MemCategory cat) {
    if (buf.size() >= bytes) return Status::Ok();
    buf.reset();
    WA_ASSIGN_OR_RETURN(buf, TrackedBuffer::allocate(bytes, tracker_, component, cat));
    return Status::Ok();
  }

  ThreadPool pool_;
  MemoryTracker* tracker_;
  TrackedBuffer arena_;
  TrackedBuffer workspace_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace wa
