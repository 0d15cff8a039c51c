// The one backend interface. A backend says which ops it runs (supports_op)
// and computes graphs; the scheduler (runtime/scheduler) sends each op to the
// first backend that supports it, so a backend that lacks an op, or a missing
// GPU, means falling back to the CPU, never a crash.
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "core/graph.h"
#include "core/memory.h"
#include "core/status.h"

namespace wa {

// Buffers of a device backend that outlive a graph (KV caches, a sampler's
// penalty window), addressed by id from graph leaves (Node::device_buffer).
// Host backends have none.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // A zero-filled buffer of `bytes`, accounted to `component` in `tracker`.
  virtual Result<uint32_t> create_buffer(size_t bytes, const std::string& component, MemCategory category,
                                         MemoryTracker* tracker) = 0;
  virtual void release_buffer(uint32_t id) = 0;
  // Writes `bytes` of host data (copied now) at the start of buffer `id`,
  // ordered like a graph computed at this point: after the work recorded
  // before, before the work recorded after.
  virtual Status write_buffer(uint32_t id, const void* data, size_t bytes) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether this backend can compute `node` with its input types and shapes.
  virtual bool supports_op(const Node& node) const = 0;
  // Plans memory for the graph (arena owned by the backend, tracked as
  // activations) and computes every node in order.
  virtual Status compute(Graph& graph) = 0;
  // Copies the values of an output node of the last computed graph to dst.
  // Host backends copy now; an asynchronous (device) backend records the
  // copy, and dst holds the values once the recorded work has completed.
  virtual Status read_output(const Node& node, void* dst, size_t bytes) {
    std::memcpy(dst, node.data, bytes);
    return Status::Ok();
  }
  // Copies the values of an output node of the last computed graph into a
  // device buffer (a device backend records the copy): how a greedy step's
  // token id stays on the device for the next step (Session::eval_choose_chained).
  virtual Status copy_output(const Node& node, uint32_t device_buffer, size_t bytes) {
    (void)node, (void)device_buffer, (void)bytes;
    return unsupported(name() + " backend keeps no outputs on a device");
  }
  // Where KV caches live when not in host memory.
  virtual DeviceMemory* device_memory() { return nullptr; }
};

struct CpuBackendOptions {
  int n_threads = 0;  // 0: all hardware threads
  MemoryTracker* tracker = nullptr;
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options);

}  // namespace wa
