// CPU implementations of every graph op. Each op runs on every thread of the
// pool with (ith, nth) and computes its own share; ops that need a second
// phase call ctx.barrier() themselves (mul_mat: convert activations, then
// multiply). The scalar-vs-SIMD choice happens inside the kernels (kernels.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/graph.h"

namespace wa::cpu {

struct OpContext {
  int ith = 0;
  int nth = 1;
  void* workspace = nullptr;  // shared by all threads, sized by op_workspace_bytes
  size_t workspace_bytes = 0;
  void (*barrier)(void* pool) = nullptr;
  void* pool = nullptr;
  void sync() const {
    if (barrier) barrier(pool);
  }
};

bool op_supported(const Node& node);
// Whether a node's work is so small (a few microseconds) that splitting it
// across threads costs more in synchronisation than it saves.
bool op_is_small(const Node& node);
// A matmul of a weight leaf by one X row: it runs with no barrier inside and
// touches only its own thread's slice of the workspace, so several such
// nodes may share a step.
bool op_is_decode_matmul(const Node& node);
size_t op_workspace_bytes(const Node& node, int n_threads);
void compute_op(const Node& node, const OpContext& ctx);

// Rows [begin, end) of `n` split evenly between nth threads.
inline void split_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end) {
  const int64_t per = (n + nth - 1) / nth;
  *begin = per * ith < n ? per * ith : n;
  *end = *begin + per < n ? *begin + per : n;
}

}  // namespace wa::cpu
