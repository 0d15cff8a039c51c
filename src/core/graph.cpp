#include "core/graph.h"

#include <algorithm>
#include <map>

namespace wa {

const char* op_name(Op op) {
  static const char* names[] = {"none", "get_rows", "rms_norm", "mul_mat", "add", "mul", "scale", "silu",
                                "swiglu", "rope", "softmax", "kv_store", "attention", "argmax", "sample"};
  const auto i = static_cast<size_t>(op);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "?";
}

size_t Node::bytes() const { return row_bytes(type, ne[0]) * static_cast<size_t>(rows()); }

void set_contiguous_strides(Node* n) {
  n->nb[0] = row_bytes(n->type, block_size(n->type)) / static_cast<size_t>(block_size(n->type));
  if (n->nb[0] == 0) n->nb[0] = 1;
  n->nb[1] = row_bytes(n->type, n->ne[0]);
  n->nb[2] = n->nb[1] * static_cast<size_t>(n->ne[1]);
  n->nb[3] = n->nb[2] * static_cast<size_t>(n->ne[2]);
}

Node* Graph::add_node(Op op, DType type, std::initializer_list<int64_t> ne, std::initializer_list<Node*> src) {
  Node& n = nodes_.emplace_back();
  n.op = op;
  n.type = type;
  int d = 0;
  for (int64_t v : ne) n.ne[d++] = v;
  int s = 0;
  for (Node* p : src) n.src[s++] = p;
  n.index = static_cast<int>(nodes_.size()) - 1;
  set_contiguous_strides(&n);
  return &n;
}

Node* Graph::leaf(const std::string& name, DType type, std::initializer_list<int64_t> ne, void* data) {
  Node* n = add_node(Op::none, type, ne, {});
  n->name = name;
  n->data = data;
  n->storage = Storage::external;
  return n;
}

Node* Graph::input(const std::string& name, DType type, std::initializer_list<int64_t> ne) {
  Node* n = add_node(Op::none, type, ne, {});
  n->name = name;
  n->is_output = true;  // inputs live for the whole graph
  return n;
}

Node* Graph::get_rows(Node* table, Node* ids, Node* hot_rows, Node* hot_ids) {
  return add_node(Op::get_rows, DType::f32, {table->ne[0], ids->ne[0]}, {table, ids, hot_rows, hot_ids});
}

Node* Graph::rms_norm(Node* x, Node* weight, float eps) {
  Node* n = add_node(Op::rms_norm, DType::f32, {x->ne[0], x->ne[1], x->ne[2], x->ne[3]}, {x, weight});
  n->fp[0] = eps;
  return n;
}

Node* Graph::mul_mat(Node* w, Node* x) {
  return add_node(Op::mul_mat, DType::f32, {w->ne[1], x->ne[1]}, {w, x});
}

Node* Graph::add(Node* a, Node* b) { return add_node(Op::add, DType::f32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]}, {a, b}); }
Node* Graph::mul(Node* a, Node* b) { return add_node(Op::mul, DType::f32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]}, {a, b}); }

Node* Graph::scale(Node* a, float f) {
  Node* n = add_node(Op::scale, DType::f32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]}, {a});
  n->fp[0] = f;
  return n;
}

Node* Graph::silu(Node* a) { return add_node(Op::silu, DType::f32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]}, {a}); }
Node* Graph::swiglu(Node* gate, Node* up) {
  return add_node(Op::swiglu, DType::f32, {gate->ne[0], gate->ne[1], gate->ne[2], gate->ne[3]}, {gate, up});
}

Node* Graph::rope(Node* a, Node* positions, int n_head, int head_dim, int n_rot, RopeMode mode, float freq_base,
                  float freq_scale) {
  Node* n = add_node(Op::rope, DType::f32, {a->ne[0], a->ne[1]}, {a, positions});
  n->ip[0] = n_head;
  n->ip[1] = head_dim;
  n->ip[2] = n_rot;
  n->ip[3] = static_cast<int32_t>(mode);
  n->fp[0] = freq_base;
  n->fp[1] = freq_scale;
  return n;
}

Node* Graph::softmax(Node* a, float scale_factor, bool causal, int n_past) {
  Node* n = add_node(Op::softmax, DType::f32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]}, {a});
  n->fp[0] = scale_factor;
  n->ip[0] = causal ? 1 : 0;
  n->ip[1] = n_past;
  return n;
}

Node* Graph::kv_store(Node* x, Node* cache, int pos, bool transposed) {
  // Output is the cache itself (no new memory): attention reads through it.
  Node* n = add_node(Op::kv_store, cache->type, {cache->ne[0], cache->ne[1]}, {x, cache});
  n->ip[0] = pos;
  n->ip[1] = transposed ? 1 : 0;
  n->data = cache->data;
  n->storage = Storage::alias;
  return n;
}

Node* Graph::attention(Node* q, Node* k_cache, Node* v_cache, int n_head, int n_head_kv, int head_dim, int n_past,
                       float scale_factor) {
  Node* n = add_node(Op::attention, DType::f32, {q->ne[0], q->ne[1]}, {q, k_cache, v_cache});
  n->ip[0] = n_head;
  n->ip[1] = n_head_kv;
  n->ip[2] = head_dim;
  n->ip[3] = n_past;
  n->fp[0] = scale_factor;
  return n;
}

Node* Graph::argmax(Node* a) { return add_node(Op::argmax, DType::i32, {1}, {a}); }

Node* Graph::sample(Node* a, const SamplingParams& p, float u, Node* window, float penalty) {
  if (!window && p.temperature <= 0.0f) return argmax(a);
  Node* n = add_node(Op::sample, DType::i32, {1}, {a, window});
  // Greedy over a penalised window: the largest logit, which is the one
  // candidate of top-k 1 (the device kernel then gathers only it).
  const SamplingParams q = p.temperature <= 0.0f ? SamplingParams{0.0f, 1, 1.0f, 0.0f} : p;
  n->ip[0] = q.top_k;
  n->fp[0] = q.temperature;
  n->fp[1] = q.top_p;
  n->fp[2] = q.min_p;
  n->fp[3] = u;
  n->fp[4] = penalty;
  return n;
}

Node* Graph::view_cols(Node* a, int64_t first, int64_t count) {
  Node* n = add_node(Op::none, a->type, {a->ne[0], count}, {a});
  n->nb[1] = a->nb[1];
  n->view_first = first;
  n->storage = Storage::view;
  return n;
}

size_t Graph::unplanned_bytes() const {
  size_t sum = 0;
  for (const auto& n : nodes_) {
    if (n.storage == Storage::arena) sum += n.bytes();
  }
  return sum;
}

namespace {
constexpr size_t kAlign = 64;
size_t align_up(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
bool needs_memory(const Node& n) { return n.storage == Storage::arena; }
// The node whose memory a view or an alias stands for.
const Node* storage_owner(const Node* n) {
  while (n->storage == Storage::view || n->storage == Storage::alias) {
    n = n->storage == Storage::view ? n->src[0] : n->src[1];
  }
  return n;
}
}  // namespace

size_t Graph::plan() {
  const int count = static_cast<int>(nodes_.size());
  for (auto& n : nodes_) n.last_use = n.index;
  // Liveness: a node lives until its last reader (a view extends its owner).
  for (auto& n : nodes_) {
    for (Node* s : n.src) {
      if (!s) continue;
      Node* owner = const_cast<Node*>(storage_owner(s));
      owner->last_use = std::max(owner->last_use, n.index);
    }
  }
  for (auto& n : nodes_) {
    if (n.is_output) {
      const_cast<Node*>(storage_owner(&n))->last_use = count;
    }
  }
  // Greedy first-fit over a list of free blocks, in execution order.
  std::map<size_t, size_t> free_blocks;  // offset -> size
  size_t top = 0;
  std::vector<std::vector<Node*>> frees_at(static_cast<size_t>(count) + 1);
  auto release = [&](size_t off, size_t size) {
    auto it = free_blocks.emplace(off, size).first;
    auto next = std::next(it);
    if (next != free_blocks.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_blocks.erase(next);
    }
    if (it != free_blocks.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_blocks.erase(it);
      }
    }
  };
  for (auto& n : nodes_) {
    if (needs_memory(n)) {
      const size_t size = align_up(n.bytes());
      size_t off = SIZE_MAX;
      for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it) {
        if (it->second >= size) {
          off = it->first;
          const size_t rest = it->second - size;
          free_blocks.erase(it);
          if (rest) free_blocks.emplace(off + size, rest);
          break;
        }
      }
      if (off == SIZE_MAX) {
        off = top;
        top += size;
      }
      n.arena_offset = off;
      if (n.last_use < count) frees_at[static_cast<size_t>(n.last_use)].push_back(&n);
    }
    // Memory whose last reader is this node is free for the nodes after it.
    for (Node* dead : frees_at[static_cast<size_t>(n.index)]) release(dead->arena_offset, align_up(dead->bytes()));
  }
  planned_bytes_ = top;
  return top;
}

void Graph::bind_arena(uint8_t* arena) {
  for (auto& n : nodes_) {
    if (needs_memory(n)) n.data = arena + n.arena_offset;
  }
  for (auto& n : nodes_) {
    if (n.storage == Storage::view) {
      n.data = static_cast<uint8_t*>(n.src[0]->data) + static_cast<size_t>(n.view_first) * n.src[0]->nb[1];
    }
    if (n.storage == Storage::alias) n.data = n.src[1]->data;
  }
}

}  // namespace wa
