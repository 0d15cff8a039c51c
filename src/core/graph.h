// A graph of tensor ops, built once per forward pass by a model file and run
// by a backend. Nodes are appended in execution order (a model builds them in
// dependency order), so the node list is already a valid schedule; side
// effects (writing the KV cache) are ordered by their position.
//
// Shapes follow ggml: ne[0] is the contiguous (innermost) dimension, so an
// activation of T tokens of width D is ne = {D, T}; a weight matrix mapping
// K inputs to N outputs is ne = {K, N}, one output row per ne[1].
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/sampling.h"
#include "core/status.h"

namespace wa {

enum class Op : uint8_t {
  none,        // a leaf: weight, input or externally owned buffer (KV cache)
  get_rows,    // out[:, t] = table[:, ids[t]]           (embedding lookup; hot rows: see Graph::get_rows)
  rms_norm,    // out = x / sqrt(mean(x^2) + eps) * w     (w optional)
  mul_mat,     // out[n, t] = sum_k w[k, n] * x[k, t]
  add,         // out = a + b, b broadcast along columns if it has one column
  mul,         // out = a * b, likewise
  scale,       // out = a * f
  silu,        // out = a * sigmoid(a)
  swiglu,      // out = silu(a) * b
  rope,        // rotary position embedding on heads of a; positions from b
  softmax,     // row-wise softmax of a * f, optional causal mask
  kv_store,    // copy a ([kv_width, T]) into cache b at positions [pos, pos+T)
  attention,   // grouped-query attention of q over caches K and V^T (see the builder)
  argmax,      // out[0] = index of the largest value of a[:, 0] (first on ties), i32
  sample,      // out[0] = the token a uniform draw picks from logits a[:, 0] (core/sampling.h), i32;
               // with a penalty window b, its ids penalised first and the token appended to b
  count
};
const char* op_name(Op op);

enum class RopeMode : int32_t { normal = 0, neox = 2 };  // ggml's mode ids

// Where a node's bytes live.
enum class Storage : uint8_t {
  external,  // owned outside the graph (weights, KV cache): data set by the builder
  arena,     // planned into the graph's arena (op outputs and graph inputs)
  alias,     // the same bytes as src[1] (kv_store returns the cache it wrote)
  view,      // columns of src[0], starting at column view_first
};

struct Node {
  Op op = Op::none;
  Storage storage = Storage::arena;
  int64_t view_first = 0;
  DType type = DType::f32;
  int64_t ne[4] = {1, 1, 1, 1};
  size_t nb[4] = {0, 0, 0, 0};  // byte strides
  void* data = nullptr;         // set for leaves; assigned by the planner for op outputs
  // For external leaves that live in a device backend's memory (a KV cache on
  // the GPU): the backend's buffer id; data is null then.
  uint32_t device_buffer = 0;
  // For weight leaves: the identity of the stored tensor (a model's
  // GgufTensorInfo). Backends that keep their own copy of weights (WebGPU)
  // find it by this, not by data: streamed weights have no host bytes.
  const void* weight_id = nullptr;
  Node* src[4] = {nullptr, nullptr, nullptr, nullptr};
  int32_t ip[8] = {};  // integer op parameters (see the builder for each op)
  float fp[5] = {};    // float op parameters
  std::string name;

  // planner state
  int index = -1;
  int last_use = -1;
  size_t arena_offset = 0;
  bool is_output = false;  // keep alive to the end (its data is read after compute)

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t bytes() const;
  bool is_leaf() const { return op == Op::none; }
  template <class T> T* as() const { return static_cast<T*>(data); }
};

// The distribution a sample node draws from (Graph::sample); its draw is
// fp[3], its repetition penalty fp[4] (over the window src[1], if any).
inline SamplingParams sampling_of(const Node& n) { return {n.fp[0], n.ip[0], n.fp[1], n.fp[2]}; }

class Graph {
 public:
  // Leaves
  Node* leaf(const std::string& name, DType type, std::initializer_list<int64_t> ne, void* data);
  Node* input(const std::string& name, DType type, std::initializer_list<int64_t> ne);  // planner allocates

  // Ops (see Op for semantics)
  // With hot rows (webaccel's own file feature, formats/hot_rows.h):
  // hot_rows [ne0, H] holds some rows of the table again (in a higher
  // precision) and hot_ids (i32 [H], strictly increasing) their row numbers;
  // a looked-up id found in hot_ids is read from hot_rows instead.
  Node* get_rows(Node* table, Node* ids, Node* hot_rows = nullptr, Node* hot_ids = nullptr);
  Node* rms_norm(Node* x, Node* weight, float eps);
  Node* mul_mat(Node* w, Node* x);
  Node* add(Node* a, Node* b);
  Node* mul(Node* a, Node* b);
  Node* scale(Node* a, float f);
  Node* silu(Node* a);
  Node* swiglu(Node* gate, Node* up);
  // a: [n_head * head_dim, T]; positions: i32 [T]; rotates the first n_rot dims of each head.
  Node* rope(Node* a, Node* positions, int n_head, int head_dim, int n_rot, RopeMode mode, float freq_base,
             float freq_scale);
  // Row-wise softmax of a * scale; with causal, row t of a [n, T] masks columns > n_past + t.
  Node* softmax(Node* a, float scale, bool causal, int n_past);
  // Writes x [width, T] at positions [pos, pos + T) of a cache (f32 or f16).
  // Key caches are [width, n_ctx] (one row per position); with `transposed`
  // the cache is [n_ctx, width] (one row per dimension, positions
  // contiguous), the layout of value caches: it makes P·V a plain matmul.
  Node* kv_store(Node* x, Node* cache, int pos, bool transposed = false);
  // q: [n_head * head_dim, T] at positions n_past..n_past+T-1; k_cache
  // [n_head_kv * head_dim, n_ctx]; v_cache transposed, [n_ctx, n_head_kv * head_dim];
  // both hold n_past + T valid positions. Causal. Output [n_head * head_dim, T].
  Node* attention(Node* q, Node* k_cache, Node* v_cache, int n_head, int n_head_kv, int head_dim, int n_past,
                  float scale);
  // Index of the largest value in the first column of a (greedy sampling on the device).
  Node* argmax(Node* a);
  // The token that the draw u in [0, 1) picks from the first column of a
  // (logits) under p (sample_logits in core/sampling.h): sampling on the
  // device. Greedy parameters (temperature <= 0) make it an argmax. With a
  // window (i32 penalty_window words of a full-size window, which the op
  // updates: host memory or a device buffer that outlives the graph), the
  // logits of its ids are penalised first (apply_repetition_penalty), and
  // the chosen id is appended to it, so the next step's sample op sees it.
  Node* sample(Node* a, const SamplingParams& p, float u, Node* window = nullptr, float penalty = 1.0f);
  // Selects columns [first, first + count) of a 2-D activation (a view, no copy).
  Node* view_cols(Node* a, int64_t first, int64_t count);

  Node* named(Node* n, const std::string& name) {
    n->name = name;
    return n;
  }
  void mark_output(Node* n) { n->is_output = true; }

  const std::deque<Node>& nodes() const { return nodes_; }
  std::deque<Node>& nodes() { return nodes_; }

  // Memory planning: assigns every non-leaf output (and every input) an offset
  // in one arena, reusing memory of intermediates whose last reader has run.
  // Returns the arena size needed.
  size_t plan();
  // Points node data into an arena of at least plan() bytes.
  void bind_arena(uint8_t* arena);
  size_t planned_bytes() const { return planned_bytes_; }
  // Sum of all intermediate sizes (what a planner-less runtime would allocate).
  size_t unplanned_bytes() const;

 private:
  Node* add_node(Op op, DType type, std::initializer_list<int64_t> ne, std::initializer_list<Node*> src);
  std::deque<Node> nodes_;  // deque: stable addresses
  size_t planned_bytes_ = 0;
};

void set_contiguous_strides(Node* n);

}  // namespace wa
