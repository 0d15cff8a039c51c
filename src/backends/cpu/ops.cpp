#include "backends/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  for (int64_t i = b; i < e; ++i) {
    int32_t id = ids->as<int32_t>()[i];
    // Ids are validated by the session before they reach a graph; clamp keeps
    // a bug here from reading outside the table.
    id = std::clamp<int32_t>(id, 0, static_cast<int32_t>(vocab - 1));
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
    float* yr = col<float>(&n, r);
    // Sum of squares in double: keeps the reference independent of summation order.
    double ss = 0.0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(d)) + n.fp[0]);
    if (w) {
      const float* wr = static_cast<const float*>(w->data);
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv * wr[i];
    } else {
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv;
    }
  }
}

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
  matmul_prepare(p, c.workspace, c.ith, c.nth);
  c.sync();
  matmul_compute(p, c.workspace, c.ith, c.nth);
}

template <class F>
void binary(const Node& n, const OpContext& c, F f) {
  const Node* a = n.src[0];
  const Node* bsrc = n.src[1];
  const bool bcast = bsrc->rows() == 1;
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    const float* ar = col<float>(a, r);
    const float* br = bcast ? static_cast<const float*>(bsrc->data) : col<float>(bsrc, r);
    float* yr = col<float>(&n, r);
    for (int64_t i = 0; i < n.ne[0]; ++i) yr[i] = f(ar[i], br[i]);
  }
}

template <class F>
void unary(const Node& n, const OpContext& c, F f) {
  const Node* a = n.src[0];
  int64_t b, e;
  split_range(n.rows(), c.ith, c.nth, &b, &e);
  for (int64_t r = b; r < e; ++r) {
    const float* ar = col<float>(a, r);
    float* yr = col<float>(&n, r);
    for (int64_t i = 0; i < n.ne[0]; ++i) yr[i] = f(ar[i]);
  }
}

inline float silu_f(float x) { return x / (1.0f + std::exp(-x)); }

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
    float f = std::pow(base, -2.0f * static_cast<float>(i) / static_cast<float>(n_rot));
    if (freq_div) f /= freq_div[i];
    inv_freq[static_cast<size_t>(i)] = f;
  }
  int64_t b, e;
  split_range(total, c.ith, c.nth, &b, &e);
  for (int64_t job = b; job < e; ++job) {
    const int64_t t = job / n_head;
    const int64_t h = job % n_head;
    const float* x = col<float>(a, t) + h * head_dim;
    float* y = col<float>(&n, t) + h * head_dim;
    const float p = static_cast<float>(pos[t]) * fscale;
    for (int i = 0; i < n_rot / 2; ++i) {
      const float theta = p * inv_freq[static_cast<size_t>(i)];
      const float cs = std::cos(theta), sn = std::sin(theta);
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
  int64_t b, e;
  split_range(x->ne[1], c.ith, c.nth, &b, &e);
  const TypeTraits* t = type_traits(cache->type);
  for (int64_t i = b; i < e; ++i) {
    t->from_f32(col<float>(x, i), col<uint8_t>(cache, pos + i), x->ne[0]);
  }
}

// Causal grouped-query attention, one (token, head) pair per job. Scores for
// one query row are computed in full (context is bounded by n_ctx), then
// softmax, then a weighted sum of V rows; K/V rows may be f32 or f16.
void op_attention(const Node& n, const OpContext& c) {
  const Node* q = n.src[0];
  const Node* kc = n.src[1];
  const Node* vc = n.src[2];
  const int n_head = n.ip[0], n_head_kv = n.ip[1], head_dim = n.ip[2], n_past = n.ip[3];
  const float scale_factor = n.fp[0];
  const int group = n_head / n_head_kv;
  const int64_t n_tokens = q->ne[1];
  const int64_t n_kv_max = n_past + n_tokens;
  float* scores = static_cast<float*>(c.workspace) + static_cast<size_t>(c.ith) * static_cast<size_t>(n_kv_max);
  const bool f16 = kc->type == DType::f16;
  int64_t b, e;
  split_range(n_tokens * n_head, c.ith, c.nth, &b, &e);
  for (int64_t job = b; job < e; ++job) {
    const int64_t t = job / n_head;
    const int h = static_cast<int>(job % n_head);
    const int hk = h / group;
    const float* qv = col<float>(q, t) + h * head_dim;
    const int64_t n_kv = n_past + t + 1;  // causal: keys 0..n_past+t
    float mx = -INFINITY;
    for (int64_t j = 0; j < n_kv; ++j) {
      const float s = f16 ? dot_f16_f32(col<uint16_t>(kc, j) + hk * head_dim, qv, head_dim)
                          : dot_f32(col<float>(kc, j) + hk * head_dim, qv, head_dim);
      scores[j] = s * scale_factor;
      mx = std::max(mx, scores[j]);
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n_kv; ++j) {
      scores[j] = std::exp(scores[j] - mx);
      sum += scores[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    float* out = col<float>(&n, t) + h * head_dim;
    std::fill(out, out + head_dim, 0.0f);
    for (int64_t j = 0; j < n_kv; ++j) {
      if (f16) {
        axpy_f16_f32(out, scores[j] * inv, col<uint16_t>(vc, j) + hk * head_dim, head_dim);
      } else {
        axpy_f32(out, scores[j] * inv, col<float>(vc, j) + hk * head_dim, head_dim);
      }
    }
  }
}

}  // namespace

bool op_supported(const Node& n) {
  switch (n.op) {
    case Op::none: return true;
    case Op::get_rows: return type_traits(n.src[0]->type) && type_traits(n.src[0]->type)->to_f32 && n.src[1]->type == DType::i32;
    case Op::mul_mat: return matmul_supports(n.src[0]->type) && n.src[1]->type == DType::f32;
    case Op::kv_store: return n.src[1]->type == DType::f32 || n.src[1]->type == DType::f16;
    case Op::attention: return (n.src[1]->type == DType::f32 || n.src[1]->type == DType::f16) && n.src[1]->type == n.src[2]->type;
    case Op::rms_norm: case Op::add: case Op::mul: case Op::scale: case Op::silu: case Op::swiglu: case Op::rope:
    case Op::softmax:
      return n.src[0]->type == DType::f32;
    case Op::count: return false;
  }
  return false;
}

size_t op_workspace_bytes(const Node& n, int n_threads) {
  switch (n.op) {
    case Op::mul_mat: return matmul_workspace_bytes(n.src[0]->type, n.src[1]->ne[1], n.src[0]->ne[0]);
    case Op::attention: return sizeof(float) * static_cast<size_t>(n_threads) * static_cast<size_t>(n.ip[3] + n.ne[1]);
    default: return 0;
  }
}

void compute_op(const Node& n, const OpContext& c) {
  switch (n.op) {
    case Op::none: return;
    case Op::get_rows: op_get_rows(n, c); return;
    case Op::rms_norm: op_rms_norm(n, c); return;
    case Op::mul_mat: op_mul_mat(n, c); return;
    case Op::add: binary(n, c, [](float a, float b) { return a + b; }); return;
    case Op::mul: binary(n, c, [](float a, float b) { return a * b; }); return;
    case Op::scale: { const float f = n.fp[0]; unary(n, c, [f](float a) { return a * f; }); return; }
    case Op::silu: unary(n, c, silu_f); return;
    case Op::swiglu: binary(n, c, [](float g, float u) { return silu_f(g) * u; }); return;
    case Op::rope: op_rope(n, c); return;
    case Op::softmax: op_softmax(n, c); return;
    case Op::kv_store: op_kv_store(n, c); return;
    case Op::attention: op_attention(n, c); return;
    case Op::count: return;
  }
}

}  // namespace wa::cpu
