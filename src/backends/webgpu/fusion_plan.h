// Which nodes of a graph the WebGPU backend computes together: the decode
// fusions, found by pattern once per graph (FusionPlan::build) and read by
// the backend's recording code (webgpu_backend.cpp), which decides per step
// only what depends on the step (the attention's chunk count, alignment).
// Every fusion here changes how many dispatches a decode step takes, never
// what a node computes; the backend-ops tests check each against the CPU.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/graph.h"

namespace wa::gpu {

constexpr uint32_t kBlock = 32;  // weights per q8_0 / q4_0 block (and per int8 x block)

// A weight tensor on the device: rows split into parts so that no buffer
// exceeds the binding limit or a matvec grid's row limit.
struct WeightPart {
  uint32_t buffer = 0;
  uint32_t row0 = 0;
  uint32_t rows = 0;
  uint32_t scales_word = 0;  // block-quantized: first word of the scales
  uint64_t bytes = 0;
};
struct GpuWeight {
  DType type = DType::f32;
  uint32_t K = 0;  // elements per row
  std::vector<WeightPart> parts;
};
// The device weight behind a weight leaf, or null (not a weight, not on the device).
using WeightLookup = std::function<const GpuWeight*(const Node*)>;

// Decode attention (one query) runs split over the keys
// (attention_split.wgsl) where its lanes can take quarters of a head in
// whole cache words: with f16 caches a quarter is an even count of dims
// and a chunk of a value row starts at an even position.
bool split_decode_attention(const Node& attention);
// The cache leaf a kv_store writes: its src[1], or the leaf behind earlier
// kv_stores of the same graph (a prefix stored, then the next tokens).
const Node* cache_leaf(const Node& kv_store);

// Who reads each node of a graph (once per source slot), by node index: a
// flat list kept between steps (a map of vectors rebuilt per step was a
// tenth of a decode step's recording).
class ReaderIndex {
 public:
  void build(const Graph& graph);
  std::span<const Node* const> of(const Node* x) const;

 private:
  std::vector<size_t> start_, fill_;
  std::vector<const Node*> list_;
};

// L2 warming (where the device config asks for it: NVIDIA's large L2).
// l2_warm.wgsl's rows of n_head workgroups in a split attention (H100, 7B:
// 4 rows 2.784 ms per step, 8 rows 2.812, none 2.834).
constexpr uint32_t kWarmRows = 4;
// The largest matrix an attention warms for its o projection: a third of
// an H100's L2, half of the smallest L2 the JS driver enables warming for
// (l2WarmFor: 24 MB+); a 7B o projection in q4_0 is 9.4 MB, a 13B one 14.7 MB.
constexpr uint64_t kMaxWarmBytes = 16ull << 20;
// What an o projection warms of each of the next SwiGLU's gate and up
// matrices (mv4_warm.wgsl; H100, 7B q4_0, 2026-11-28: 3 MiB of each 2.764
// ms per step, 8 MiB 2.767, none 2.776), by kGluWarmGroups workgroups of 256
// lanes (~4 MB in flight). A multiple of mv4_warm.wgsl's trip (4 loads of 16
// bytes per matrix and lane: 2 MiB), so a larger matrix is read no further.
constexpr uint64_t kGluWarmBytes = 4ull << 20;
constexpr uint32_t kGluWarmGroups = 128;
// An o projection's warming of the next SwiGLU: the gate and up matrices'
// buffers and the vec4 words read of each.
struct GluWarm {
  uint32_t gate = 0, up = 0, words = 0;
};

struct FusionLimits {
  bool l2_warm = false;              // wa_gpu_device_config.l2_warm
  uint32_t max_storage_buffers = 8;  // per shader stage
};

struct FusionPlan {
  // Finds every fusion of `graph` (whose fused adds and SwiGLUs become
  // aliases of their matvecs' outputs: Node::storage is set here, before
  // the graph is planned).
  void build(Graph& graph, const FusionLimits& limits, const WeightLookup& weight_of);

  ReaderIndex readers;
  std::unordered_set<const Node*> fused_adds;  // residual adds absorbed by their matvec
  std::unordered_set<const Node*> fused_glus;  // SwiGLUs computed with their two matvecs
  std::unordered_set<const Node*> glu_inputs;  // the matvecs of fused_glus, not dispatched on their own
  // Matvecs of one x dispatched together: by the first, and the others.
  std::unordered_map<const Node*, std::vector<const Node*>> multi_heads;
  std::unordered_set<const Node*> multi_rest;
  // RoPE(q) of a fused rope_kv -> its attention; the RoPE(k) and stores it covers.
  std::unordered_map<const Node*, const Node*> rope_kv_heads;
  std::unordered_set<const Node*> rope_kv_rest;
  std::unordered_set<const Node*> rope_in_attention;  // attentions that do their rope_kv themselves
  // Split decode attentions whose only reader is a decode matvec (the o
  // projection) that may merge their chunks -> that matvec (the backend's
  // fold_attention_combine decides per step).
  std::unordered_map<const Node*, const Node*> combine_folds;
  // Split attentions that warm the L2 for their reader -> its weights' buffer.
  std::unordered_map<const Node*, uint32_t> warm_targets;
  // o projections that warm the L2 for the next SwiGLU.
  std::unordered_map<const Node*, GluWarm> glu_warms;
  // Norms their decode matvecs may compute themselves (NORM).
  std::unordered_set<const Node*> fusable_norms;
};

}  // namespace wa::gpu
