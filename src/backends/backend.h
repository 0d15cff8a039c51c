// The one backend interface. A backend says which ops it runs (supports_op)
// and computes graphs; the scheduler (runtime/scheduler) sends each op to the
// first backend that supports it, so a backend that lacks an op, or a missing
// GPU, means falling back to the CPU, never a crash.
#pragma once

#include <memory>
#include <string>

#include "core/graph.h"
#include "core/memory.h"
#include "core/status.h"

namespace wa {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether this backend can compute `node` with its input types and shapes.
  virtual bool supports_op(const Node& node) const = 0;
  // Plans memory for the graph (arena owned by the backend, tracked as
  // activations) and computes every node in order.
  virtual Status compute(Graph& graph) = 0;
};

struct CpuBackendOptions {
  int n_threads = 0;  // 0: all hardware threads
  MemoryTracker* tracker = nullptr;
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options);

}  // namespace wa
