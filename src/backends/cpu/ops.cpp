#include "backends/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "backends/cpu/kernels.h"
#include "core/fp16.h"

namespace wa::cpu {
namespace {

template <class T>
T* col(const Node* n, int64_t c) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(n->data) + static_cast<size_t>(c) * n->nb[1]);
}

void op_get_rows(const Node& n, const OpContext& c) {
  const Node* table = n.src[0];
  const Node* ids = n.src[1];
  const TypeTraits* t = type_traits(table->type);
  const int64_t vocab = table->ne[1];
  int64_t b, e;
  split_range(n.ne[1], c.ith, c.nth, &b, &e);
  // Hot rows (Graph::get_rows): ids found in the sorted hot_ids read the hot table.
  const Node* hot = n.src[2];
  const int32_t* hot_begin = hot ? n.src[3]->as<int32_t>() : nullptr;
  const int32_t* hot_end = hot ? hot_begin + n.src[3]->ne[0] : nullptr;
  for (int64_t i = b; i < e; ++i) {
    int32_t id = ids->as<int32_t>()[i];
    // Ids are validated by the session before they reach a graph; clamp keeps
    // a bug here from reading outside the table.
    id = std::clamp<int32_t>(id, 0, static_cast<int32_t>(vocab - 1));
    if (hot) {
      const int32_t* at = std::lower_bound(hot_begin, hot_end, id);
      if (at != hot_end && *at == id) {
        type_traits(hot->type)->to_f32(static_cast<const uint8_t*>(hot->data) + static_cast<size_t>(at - hot_begin) * hot->nb[1],
                                       col<float>(&n, i), hot->ne[0]);
        continue;
      }
    }
    if (table->type == DType::q4_0x4) {  // a repacked (tied) embedding: its rows are not contiguous
      dequantize_row_q4_0x4(table->data, table->nb[1], vocab, id, col<float>(&n, i), table->ne[0]);
      continue;
    }
    t->to_f32(static_cast<const uint8_t*>(table->data) + static_cast<size_t>(id) * table->nb[1], col<float>(&n, i),
              table->ne[0]);
  }
}

void op_rms_norm(const Node& n, const OpContext& c) {
  const Node* x = n.src[0];
  const Node* w = n.src[1];
  const int64_t d = n.ne[0];
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    const float* xr = col<float>(x, r);
    // Sum of squares in double: keeps the result independent of summation order.
    const double ss = sum_squares_f32(xr, d);
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(d)) + n.fp[0]);
    scale_mul_f32(col<float>(&n, r), xr, inv, w ? static_cast<const float*>(w->data) : nullptr, d);
  }
}

// One thread's workspace slice for a decode matmul, 64-byte aligned.
size_t decode_slice_bytes(DType wtype, int64_t k) { return (matmul_workspace_bytes(wtype, 1, k) + 63) / 64 * 64; }

void op_mul_mat(const Node& n, const OpContext& c) {
  const Node* w = n.src[0];
  const Node* x = n.src[1];
  MatmulProblem p;
  p.wtype = w->type;
  p.w = w->data;
  p.w_row_stride = w->nb[1];
  p.x = static_cast<const float*>(x->data);
  p.x_row_stride = static_cast<int64_t>(x->nb[1] / sizeof(float));
  p.y = static_cast<float*>(n.data);
  p.y_row_stride = static_cast<int64_t>(n.nb[1] / sizeof(float));
  p.m = x->ne[1];
  p.n = w->ne[1];
  p.k = w->ne[0];
  if (p.m == 1) {
    // Decode: every thread converts the one X row itself, into its own slice
    // of the workspace, so the op has no barrier between its phases (and
    // consecutive decode matmuls can share a step, cpu_backend.cpp). A row
    // of a few thousand values converts in about a microsecond; a barrier
    // costs more, tens of microseconds in wasm when a thread must be woken.
    // The slice holds what the split conversion writes, byte for byte.
    // Slices are an even split of the whole workspace, not of this node's
    // need: the threads of a shared step may be on different matmuls at a
    // time, with different needs (op_workspace_bytes makes every part large
    // enough for each).
    const size_t part = c.workspace_bytes / static_cast<size_t>(c.nth) / 64 * 64;
    WA_ASSERT(part >= decode_slice_bytes(p.wtype, p.k));
    void* ws = static_cast<uint8_t*>(c.workspace) + static_cast<size_t>(c.ith) * part;
    matmul_prepare(p, ws, 0, 1);
    matmul_compute(p, ws, c.ith, c.nth);
    return;
  }
  matmul_prepare(p, c.workspace, c.ith, c.nth);
  c.sync();
  matmul_compute(p, c.workspace, c.ith, c.nth);
}

// Row-wise a (op) b, b broadcast along columns when it has one column.
using RowFn = void (*)(float* y, const float* a, const float* b, int64_t n);
void binary(const Node& n, const OpContext& c, RowFn fn) {
  const Node* a = n.src[0];
  const Node* bsrc = n.src[1];
  const bool bcast = bsrc->rows() == 1;
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    const float* br = bcast ? static_cast<const float*>(bsrc->data) : col<float>(bsrc, r);
    fn(col<float>(&n, r), col<float>(a, r), br, n.ne[0]);
  }
}

void op_scale(const Node& n, const OpContext& c) {
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) scale_mul_f32(col<float>(&n, r), col<float>(n.src[0], r), n.fp[0], nullptr, n.ne[0]);
}

// silu(a) (b null) or silu(a) * b, row by row.
void op_swiglu(const Node& n, const OpContext& c) {
  const Node* up = n.src[1];
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    swiglu_f32(col<float>(&n, r), col<float>(n.src[0], r), up ? col<float>(up, r) : nullptr, n.ne[0]);
  }
}

// Rotates pairs of each head. normal: pairs (2i, 2i+1) (LLaMA GGUF, llama2.c);
// neox: pairs (i, i + n_rot/2) (Qwen2, GPT-NeoX). theta_i = pos * base^(-2i/n_rot).
void op_rope(const Node& n, const OpContext& c) {
  const Node* a = n.src[0];
  const int32_t* pos = static_cast<const int32_t*>(n.src[1]->data);
  const int n_head = n.ip[0], head_dim = n.ip[1], n_rot = n.ip[2];
  const bool neox = n.ip[3] == static_cast<int32_t>(RopeMode::neox);
  const float base = n.fp[0], fscale = n.fp[1];
  const int64_t total = n.ne[1] * n_head;
  // Optional per-frequency divisors (src[2], LLaMA 3.1 style long-context scaling).
  const float* freq_div = n.src[2] ? static_cast<const float*>(n.src[2]->data) : nullptr;
  std::vector<float> inv_freq(static_cast<size_t>(n_rot / 2));
  for (int i = 0; i < n_rot / 2; ++i) {
    // 1 / base^(2i/n_rot), the form of the reference implementations (llama2.c,
    // Hugging Face): base^(-2i/n_rot) rounds differently, and at large
    // positions one ulp of frequency is a visible error in the angle.
    float f = 1.0f / std::pow(base, 2.0f * static_cast<float>(i) / static_cast<float>(n_rot));
    if (freq_div) f /= freq_div[i];
    inv_freq[static_cast<size_t>(i)] = f;
  }
  // The angles depend on the token, not the head: cos and sin once per
  // token of this thread's jobs (jobs are head-minor), not once per head.
  std::vector<float> cos_t(static_cast<size_t>(n_rot / 2)), sin_t(static_cast<size_t>(n_rot / 2));
  int64_t angles_of = -1;
  int64_t b, e;
  split_range(total, c.ith, c.nth, &b, &e);
  for (int64_t job = b; job < e; ++job) {
    const int64_t t = job / n_head;
    const int64_t h = job % n_head;
    const float* x = col<float>(a, t) + h * head_dim;
    float* y = col<float>(&n, t) + h * head_dim;
    if (angles_of != t) {
      const float p = static_cast<float>(pos[t]) * fscale;
      for (int i = 0; i < n_rot / 2; ++i) {
        const float theta = p * inv_freq[static_cast<size_t>(i)];
        cos_t[static_cast<size_t>(i)] = std::cos(theta);
        sin_t[static_cast<size_t>(i)] = std::sin(theta);
      }
      angles_of = t;
    }
    for (int i = 0; i < n_rot / 2; ++i) {
      const float cs = cos_t[static_cast<size_t>(i)], sn = sin_t[static_cast<size_t>(i)];
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + n_rot / 2 : 2 * i + 1;
      const float x0 = x[i0], x1 = x[i1];
      y[i0] = x0 * cs - x1 * sn;
      y[i1] = x0 * sn + x1 * cs;
    }
    for (int i = n_rot; i < head_dim; ++i) y[i] = x[i];
  }
}

void softmax_row(float* y, const float* x, int64_t n, float scale_factor, int64_t valid) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < valid; ++i) mx = std::max(mx, x[i] * scale_factor);
  double sum = 0.0;
  for (int64_t i = 0; i < valid; ++i) {
    y[i] = std::exp(x[i] * scale_factor - mx);
    sum += y[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < valid; ++i) y[i] *= inv;
  for (int64_t i = valid; i < n; ++i) y[i] = 0.0f;
}

void op_softmax(const Node& n, const OpContext& c) {
  const Node* a = n.src[0];
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    const int64_t valid = n.ip[0] ? std::min<int64_t>(n.ne[0], n.ip[1] + (r % n.ne[1]) + 1) : n.ne[0];
    softmax_row(col<float>(&n, r), col<float>(a, r), n.ne[0], n.fp[0], valid);
  }
}

void op_kv_store(const Node& n, const OpContext& c) {
  const Node* x = n.src[0];
  const Node* cache = n.src[1];
  const int64_t pos = n.ip[0];
  const int64_t width = x->ne[0], T = x->ne[1];
  const bool f16 = cache->type == DType::f16;
  if (n.ip[1] == 0) {  // one cache row per position
    int64_t b, e;
    split_range(T, c.ith, c.nth, &b, &e);
    const TypeTraits* t = type_traits(cache->type);
    for (int64_t i = b; i < e; ++i) t->from_f32(col<float>(x, i), col<uint8_t>(cache, pos + i), width);
    return;
  }
  // transposed: one cache row per dimension; scatter each token's values
  int64_t b, e;
  split_range(width, c.ith, c.nth, &b, &e);
  for (int64_t d = b; d < e; ++d) {
    for (int64_t t = 0; t < T; ++t) {
      const float v = col<float>(x, t)[d];
      if (f16) {
        col<uint16_t>(cache, d)[pos + t] = fp32_to_fp16(v);
      } else {
        col<float>(cache, d)[pos + t] = v;
      }
    }
  }
}

// Scores -> probabilities in place: causal row of `valid` columns, the rest zeroed.
void softmax_in_place(float* s, int64_t valid, int64_t n) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < valid; ++j) mx = std::max(mx, s[j]);
  const double sum = exp_shifted_f32(s, valid, mx);
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < valid; ++j) s[j] *= inv;
  for (int64_t j = valid; j < n; ++j) s[j] = 0.0f;
}

constexpr int64_t kAttnBlock = 64;  // query tokens per prefill job

// The attention node's operands and parameters by name (see Graph::attention).
struct AttentionArgs {
  explicit AttentionArgs(const Node& n)
      : q(n.src[0]), k(n.src[1]), vt(n.src[2]), n_head(n.ip[0]), n_head_kv(n.ip[1]), head_dim(n.ip[2]),
        n_past(n.ip[3]), group(n.ip[0] / n.ip[1]) {}
  const Node* q;   // [n_head * head_dim, T]
  const Node* k;   // key cache, one row per position
  const Node* vt;  // value cache, transposed: one row per dimension
  int n_head, n_head_kv, head_dim, n_past;
  int group;       // query heads per key/value head
};

// Decode (one query token): per head, n_kv dot products for the scores, then
// head_dim dot products against the transposed V rows.
void attention_decode(const Node& n, const OpContext& c) {
  const AttentionArgs a(n);
  const Node *q = a.q, *kc = a.k, *vt = a.vt;
  const int n_head = a.n_head, hd = a.head_dim, n_past = a.n_past, group = a.group;
  const int64_t n_kv = n_past + 1;
  const bool f16 = kc->type == DType::f16;
  float* p = static_cast<float*>(c.workspace) + static_cast<size_t>(c.ith) * static_cast<size_t>(kAttnBlock * n_kv);
  int64_t b, e;
  split_range(n_head, c.ith, c.nth, &b, &e);
  for (int64_t h = b; h < e; ++h) {
    const int64_t hk = h / group;
    const float* qv = col<float>(q, 0) + h * hd;
    for (int64_t j = 0; j < n_kv; ++j) {
      p[j] = n.fp[0] * (f16 ? dot_f16_f32(col<uint16_t>(kc, j) + hk * hd, qv, hd) : dot_f32(col<float>(kc, j) + hk * hd, qv, hd));
    }
    softmax_in_place(p, n_kv, n_kv);
    float* out = col<float>(&n, 0) + h * hd;
    for (int64_t i = 0; i < hd; ++i) {
      out[i] = f16 ? dot_f16_f32(col<uint16_t>(vt, hk * hd + i), p, n_kv) : dot_f32(col<float>(vt, hk * hd + i), p, n_kv);
    }
  }
}

// Prefill: per (head, block of query tokens), S = Q K^T and O = P V^T are
// matmuls on the weight kernels (K rows and V^T rows play the weights), with
// a causal softmax between them. A block needs keys up to its last token.
void attention_prefill(const Node& n, const OpContext& c) {
  const AttentionArgs a(n);
  const Node *q = a.q, *kc = a.k, *vt = a.vt;
  const int n_head = a.n_head, hd = a.head_dim, n_past = a.n_past, group = a.group;
  const int64_t T = q->ne[1];
  const int64_t n_kv_max = n_past + T;
  const int64_t n_blocks = (T + kAttnBlock - 1) / kAttnBlock;
  const size_t elt = kc->type == DType::f16 ? 2 : 4;
  float* scores = static_cast<float*>(c.workspace) + static_cast<size_t>(c.ith) * static_cast<size_t>(kAttnBlock * n_kv_max);
  int64_t b, e;
  split_range(n_head * n_blocks, c.ith, c.nth, &b, &e);
  for (int64_t job = b; job < e; ++job) {
    const int64_t h = job / n_blocks, blk = job % n_blocks;
    const int64_t hk = h / group;
    const int64_t t0 = blk * kAttnBlock, m = std::min(kAttnBlock, T - t0);
    const int64_t n_kv = n_past + t0 + m;  // keys visible to the block's last token
    MatmulProblem s;
    s.wtype = kc->type;
    s.w = static_cast<const uint8_t*>(kc->data) + static_cast<size_t>(hk * hd) * elt;
    s.w_row_stride = kc->nb[1];
    s.x = col<float>(q, t0) + h * hd;
    s.x_row_stride = static_cast<int64_t>(q->nb[1] / sizeof(float));
    s.y = scores;
    s.y_row_stride = n_kv;
    s.m = m;
    s.n = n_kv;
    s.k = hd;
    matmul_prepare(s, nullptr, 0, 1);  // f32/f16 "weights" need no workspace
    matmul_compute(s, nullptr, 0, 1);
    for (int64_t t = 0; t < m; ++t) {
      float* row = scores + t * n_kv;
      for (int64_t j = 0; j < n_kv; ++j) row[j] *= n.fp[0];
      softmax_in_place(row, n_past + t0 + t + 1, n_kv);
    }
    MatmulProblem o;
    o.wtype = vt->type;
    o.w = static_cast<const uint8_t*>(vt->data) + static_cast<size_t>(hk * hd) * vt->nb[1];
    o.w_row_stride = vt->nb[1];
    o.x = scores;
    o.x_row_stride = n_kv;
    o.y = col<float>(&n, t0) + h * hd;
    o.y_row_stride = static_cast<int64_t>(n.nb[1] / sizeof(float));
    o.m = m;
    o.n = hd;
    o.k = n_kv;
    matmul_prepare(o, nullptr, 0, 1);
    matmul_compute(o, nullptr, 0, 1);
  }
}

void op_attention(const Node& n, const OpContext& c) {
  if (n.src[0]->ne[1] == 1) {
    attention_decode(n, c);
  } else {
    attention_prefill(n, c);
  }
}

// The first index of the largest value (as the greedy sampler picks); one thread.
void op_argmax(const Node& n, const OpContext& c) {
  if (c.ith != 0) return;
  const float* x = static_cast<const float*>(n.src[0]->data);
  int32_t best = 0;
  for (int64_t i = 1; i < n.src[0]->ne[0]; ++i) {
    if (x[i] > x[best]) best = static_cast<int32_t>(i);
  }
  *static_cast<int32_t*>(n.data) = best;
}

// The token the node's draw picks (core/sampling.h, the reference of every
// backend's sample kernel): with a penalty window, from a penalised copy of
// the logits (the op's input stays as it is), then appended to the window;
// one thread.
void op_sample(const Node& n, const OpContext& c) {
  if (c.ith != 0) return;
  const float* logits = static_cast<const float*>(n.src[0]->data);
  const int n_vocab = static_cast<int>(n.src[0]->ne[0]);
  std::vector<float> penalized;
  std::span<int32_t> window;
  if (n.src[1]) {
    window = std::span<int32_t>(static_cast<int32_t*>(n.src[1]->data), static_cast<size_t>(n.src[1]->ne[0]));
    penalized.assign(logits, logits + n_vocab);
    apply_repetition_penalty(penalized.data(), n_vocab, window, n.fp[4]);
    logits = penalized.data();
  }
  std::vector<SampleCandidate> scratch;
  const int32_t id = sample_logits(logits, n_vocab, sampling_of(n), n.fp[3], scratch);
  *static_cast<int32_t*>(n.data) = id;
  if (n.src[1]) penalty_window_append(window, id);
}

}  // namespace

bool op_supported(const Node& n) {
  switch (n.op) {
    case Op::none: return true;
    case Op::get_rows:
      if (n.src[2] && !(type_traits(n.src[2]->type) && type_traits(n.src[2]->type)->to_f32 && n.src[3] &&
                        n.src[3]->type == DType::i32 && n.src[3]->ne[0] == n.src[2]->ne[1] &&
                        n.src[2]->ne[0] == n.src[0]->ne[0])) {
        return false;
      }
      return (n.src[0]->type == DType::q4_0x4 || (type_traits(n.src[0]->type) && type_traits(n.src[0]->type)->to_f32)) &&
             n.src[1]->type == DType::i32;
    case Op::mul_mat: return matmul_supports(n.src[0]->type) && n.src[1]->type == DType::f32;
    case Op::kv_store: return n.src[1]->type == DType::f32 || n.src[1]->type == DType::f16;
    case Op::attention: return (n.src[1]->type == DType::f32 || n.src[1]->type == DType::f16) && n.src[1]->type == n.src[2]->type;
    case Op::rms_norm: case Op::add: case Op::mul: case Op::scale: case Op::silu: case Op::swiglu: case Op::rope:
    case Op::softmax: case Op::argmax:
      return n.src[0]->type == DType::f32;
    case Op::sample:  // the window: a host copy (a device buffer has no data)
      return n.src[0]->type == DType::f32 &&
             (!n.src[1] || (n.src[1]->type == DType::i32 && n.src[1]->data && n.src[1]->ne[0] >= kPenaltyWindowHeader));
    case Op::count: return false;
  }
  return false;
}

bool op_is_small(const Node& n) {
  constexpr int64_t kSmallWork = 32 * 1024;  // elements touched (or multiply-adds for attention)
  switch (n.op) {
    case Op::get_rows: case Op::rms_norm: case Op::add: case Op::mul: case Op::scale: case Op::silu:
    case Op::swiglu: case Op::rope: case Op::softmax: case Op::argmax: case Op::sample:
      return n.n_elements() <= kSmallWork;
    case Op::kv_store:
      return n.src[0]->n_elements() <= kSmallWork;
    case Op::attention:  // n_head * T * n_kv * head_dim
      return static_cast<int64_t>(n.ip[0]) * n.ne[1] * (n.ip[3] + n.ne[1]) * n.ip[2] <= kSmallWork;
    default:
      return false;  // mul_mat synchronises internally; never small
  }
}

bool op_is_decode_matmul(const Node& n) {
  return n.op == Op::mul_mat && n.src[1]->ne[1] == 1 && n.src[0]->is_leaf();
}

size_t op_workspace_bytes(const Node& n, int n_threads) {
  switch (n.op) {
    case Op::mul_mat:
      if (n.src[1]->ne[1] == 1) return static_cast<size_t>(n_threads) * decode_slice_bytes(n.src[0]->type, n.src[0]->ne[0]);
      return matmul_workspace_bytes(n.src[0]->type, n.src[1]->ne[1], n.src[0]->ne[0]);
    case Op::attention:  // per thread: one block of scores over every visible key
      return sizeof(float) * static_cast<size_t>(n_threads) * static_cast<size_t>(kAttnBlock) *
             static_cast<size_t>(n.ip[3] + n.ne[1]);
    default: return 0;
  }
}

void compute_op(const Node& n, const OpContext& c) {
  switch (n.op) {
    case Op::none: return;
    case Op::get_rows: op_get_rows(n, c); return;
    case Op::rms_norm: op_rms_norm(n, c); return;
    case Op::mul_mat: op_mul_mat(n, c); return;
    case Op::add: binary(n, c, add_f32); return;
    case Op::mul: binary(n, c, mul_f32); return;
    case Op::scale: op_scale(n, c); return;
    case Op::silu: case Op::swiglu: op_swiglu(n, c); return;
    case Op::rope: op_rope(n, c); return;
    case Op::softmax: op_softmax(n, c); return;
    case Op::kv_store: op_kv_store(n, c); return;
    case Op::attention: op_attention(n, c); return;
    case Op::argmax: op_argmax(n, c); return;
    case Op::sample: op_sample(n, c); return;
    case Op::count: return;
  }
}

}  // namespace wa::cpu
