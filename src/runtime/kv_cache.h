// The KV cache: per layer, keys and values of every past position, stored
// [width, n_ctx] (one row per position) in f32 or f16, each layer tracked as
// its own component so the memory report shows where the bytes are.
// (Quantized KV and sliding windows are a later issue; the layout leaves room.)
#pragma once

#include <vector>

#include "core/graph.h"
#include "core/memory.h"
#include "runtime/model.h"

namespace wa {

class KvCache {
 public:
  static Result<KvCache> create(const KvLayout& layout, int n_ctx, DType type, MemoryTracker* tracker);

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
};

}  // namespace wa
