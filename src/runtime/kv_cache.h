// The KV cache: per layer, keys and values of every past position in f32 or
// f16. Keys are [width, n_ctx] (one row per position); values are stored
// transposed, [n_ctx, width] (one row per dimension), so that attention's
// P·V is a matmul over contiguous positions. Each layer is tracked as
// its own component so the memory report shows where the bytes are.
// (Quantized KV and sliding windows are a later issue; the layout leaves room.)
#pragma once

#include <vector>

#include "core/graph.h"
#include "backends/backend.h"
#include "core/memory.h"
#include "runtime/model.h"

namespace wa {

class KvCache {
 public:
  // With `device`, the buffers live in a device backend's memory (the leaves
  // carry buffer ids); n_ctx is then rounded up to even, so that transposed f16
  // rows start on a 32-bit word.
  static Result<KvCache> create(const KvLayout& layout, int n_ctx, DType type, MemoryTracker* tracker,
                                DeviceMemory* device = nullptr);
  KvCache() = default;
  KvCache(KvCache&& o) noexcept { *this = std::move(o); }
  KvCache& operator=(KvCache&& o) noexcept;
  ~KvCache() { release_device(); }

  int n_ctx() const { return n_ctx_; }
  DType type() const { return type_; }
  // Graph leaves over this layer's buffers.
  Node* k_leaf(Graph& g, int layer);
  Node* v_leaf(Graph& g, int layer);
  size_t bytes() const;

 private:
  KvLayout layout_;
  int n_ctx_ = 0;
  DType type_ = DType::f32;
  std::vector<TrackedBuffer> k_, v_;
  DeviceMemory* device_ = nullptr;
  std::vector<uint32_t> k_ids_, v_ids_;  // device buffers
  size_t device_bytes_ = 0;
  void release_device();
};

}  // namespace wa
