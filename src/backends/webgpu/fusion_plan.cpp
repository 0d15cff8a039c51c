#include "backends/webgpu/fusion_plan.h"

#include <algorithm>

#include "backends/webgpu/kernel_sources.h"

namespace wa::gpu {

bool split_decode_attention(const Node& n) {
  const bool f16 = n.src[1]->type == DType::f16;
  return n.ne[1] == 1 && n.ip[2] % (f16 ? 8 : 4) == 0 && (!f16 || n.src[2]->ne[0] % 2 == 0);
}

const Node* cache_leaf(const Node& kv_store) {
  const Node* c = kv_store.src[1];
  while (c->storage == Storage::alias) c = c->src[1];
  return c;
}

void ReaderIndex::build(const Graph& graph) {
  const auto& nodes = graph.nodes();
  start_.assign(nodes.size() + 1, 0);
  for (const Node& n : nodes) {
    for (const Node* s : n.src) {
      if (s && s->index >= 0) ++start_[static_cast<size_t>(s->index) + 1];
    }
  }
  for (size_t i = 1; i < start_.size(); ++i) start_[i] += start_[i - 1];
  list_.resize(start_.back());
  fill_.assign(start_.begin(), start_.end() - 1);
  for (const Node& n : nodes) {
    for (const Node* s : n.src) {
      if (s && s->index >= 0) list_[fill_[static_cast<size_t>(s->index)]++] = &n;
    }
  }
}

std::span<const Node* const> ReaderIndex::of(const Node* x) const {
  if (x->index < 0 || static_cast<size_t>(x->index) + 1 >= start_.size()) return {};
  const size_t i = static_cast<size_t>(x->index);
  return {list_.data() + start_[i], start_[i + 1] - start_[i]};
}

void FusionPlan::build(Graph& graph, const FusionLimits& limits, const WeightLookup& weight_of) {
  readers.build(graph);
  auto n_readers = [&](const Node* x) { return readers.of(x).size(); };
  auto& nodes = graph.nodes();
  // Decode matvecs whose only reader is the next node, a residual add
  // (y = W x + r): the add then becomes an alias of the matvec's output and
  // the matvec writes the sum there. Not the add's own memory: the planner
  // may give it the matvec's input x, freed after its last reader, and other
  // workgroups would still be reading x.
  fused_adds.clear();
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    const Node& m = nodes[i];
    Node& add = nodes[i + 1];
    if (m.op != Op::mul_mat || m.src[1]->ne[1] != 1 || add.op != Op::add || add.src[1] != &m) continue;
    if (m.is_output || n_readers(&m) != 1 || add.storage != Storage::arena) continue;
    const Node* r = add.src[0];
    if (r->storage == Storage::external || r->ne[0] != m.ne[0] || r->ne[1] != 1) continue;
    add.storage = Storage::alias;  // alias = src[1], the matvec
    fused_adds.insert(&add);
  }
  // SwiGLU(G x, U x) of two decode matvecs that only it reads, with
  // single-part weights of one type and shape: one matvec4_glu dispatch,
  // writing into U x's memory (the SwiGLU becomes its alias, as for the
  // residual add above: its own memory may be x's).
  glu_inputs.clear();
  fused_glus.clear();
  for (Node& n : nodes) {
    if (n.op != Op::swiglu || !n.src[1] || n.storage != Storage::arena) continue;
    const Node* g = n.src[0];
    const Node* u = n.src[1];
    auto decode_matvec = [&](const Node* m) {
      return m->op == Op::mul_mat && m->src[1]->ne[1] == 1 && !m->is_output && n_readers(m) == 1;
    };
    if (!decode_matvec(g) || !decode_matvec(u) || g->src[1] != u->src[1]) continue;
    const GpuWeight* wg = weight_of(g->src[0]);
    const GpuWeight* wu = weight_of(u->src[0]);
    if (!wg || !wu || wg->parts.size() != 1 || wu->parts.size() != 1 || wg->type != wu->type || wg->K != wu->K ||
        wg->parts[0].rows != wu->parts[0].rows || wg->K % kBlock != 0) {
      continue;
    }
    n.storage = Storage::alias;  // alias = src[1], U x
    fused_glus.insert(&n);
    glu_inputs.insert(g);
    glu_inputs.insert(u);
  }
  // Two or three consecutive decode matvecs of one x (attention's Q, K, V)
  // with single-part weights of one type: one matvec4_multi dispatch at the
  // first, writing each output where the plan put it (nothing is freed
  // between them: x is read by the last).
  multi_heads.clear();
  multi_rest.clear();
  auto single_matvec = [&](const Node& m) {
    if (m.op != Op::mul_mat || m.src[1]->ne[1] != 1 || m.is_output || glu_inputs.count(&m)) return false;
    const GpuWeight* w = weight_of(m.src[0]);
    return w && w->parts.size() == 1 && w->K % kBlock == 0;
  };
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    if (!single_matvec(nodes[i])) continue;
    const GpuWeight* w0 = weight_of(nodes[i].src[0]);
    std::vector<const Node*> group{&nodes[i]};
    size_t last = i;
    for (size_t j = i + 1; j < nodes.size() && group.size() < 3; ++j) {
      const Node& m = nodes[j];
      if (m.is_leaf()) continue;  // the next matvec's weight
      if (!single_matvec(m) || m.src[1] != nodes[i].src[1] || weight_of(m.src[0])->type != w0->type ||
          weight_of(m.src[0])->K != w0->K || fused_adds.count(&nodes[j + 1 < nodes.size() ? j + 1 : j])) {
        break;
      }
      group.push_back(&m);
      last = j;
    }
    if (group.size() < 2 || fused_adds.count(&nodes[i + 1])) continue;
    for (size_t k = 1; k < group.size(); ++k) multi_rest.insert(group[k]);
    multi_heads[group[0]] = group;
    i = last;
  }
  // A decode attention's RoPE(q), RoPE(k) -> key cache and v -> value
  // cache: one rope_kv dispatch at RoPE(q)'s place (k and v are computed
  // before it; nothing runs between the fused nodes, so no memory the
  // plan reuses there is written before it is read).
  rope_kv_heads.clear();
  rope_kv_rest.clear();
  rope_in_attention.clear();
  for (const Node& a : nodes) {
    if (a.op != Op::attention) continue;
    const Node* qr = a.src[0];
    const Node* ks = a.src[1];
    const Node* vs = a.src[2];
    if (qr->op != Op::rope || ks->op != Op::kv_store || vs->op != Op::kv_store) continue;
    const Node* kr = ks->src[0];
    const Node* v = vs->src[0];
    if (kr->op != Op::rope || n_readers(kr) != 1 || kr->is_output || qr->ne[1] != 1 || kr->ne[1] != 1 ||
        v->ne[1] != 1) {
      continue;
    }
    if (ks->ip[1] != 0 || vs->ip[1] == 0 || ks->ip[0] != vs->ip[0] || qr->src[1] != kr->src[1]) continue;
    if (qr->ip[1] != kr->ip[1] || qr->ip[2] != kr->ip[2] || qr->ip[3] != kr->ip[3]) continue;
    if (cache_leaf(*ks)->type != cache_leaf(*vs)->type) continue;
    auto computed_before_qr = [&](const Node* x) { return x->is_leaf() || x->index < qr->index; };
    if (!computed_before_qr(kr->src[0]) || !computed_before_qr(v) || kr->index < qr->index ||
        ks->index < qr->index || vs->index < qr->index) {
      continue;
    }
    rope_kv_heads[qr] = &a;
    rope_kv_rest.insert(kr);
    rope_kv_rest.insert(ks);
    rope_kv_rest.insert(vs);
    // Where the attention runs split over chunks, it does all of this
    // itself (as_rope_kv.wgsl), reading q, k and v at its own place: only
    // where nothing but the fused nodes (which write nothing) and leaves
    // (the caches) come between RoPE(q) and it, so the plan has not
    // reused their memory meanwhile.
    bool only_fused_between = split_decode_attention(a);
    for (int i = qr->index + 1; only_fused_between && i < a.index; ++i) {
      const Node& between = nodes[static_cast<size_t>(i)];
      only_fused_between = between.is_leaf() || rope_kv_rest.count(&between) > 0;
    }
    if (only_fused_between) rope_in_attention.insert(&a);
  }
  // A split decode attention read only by a decode matvec (the o
  // projection) of whole 32-weight blocks, heads of whole blocks: that
  // matvec may merge the attention's chunks itself (fold_attention_combine
  // decides per step). Nothing else reads the attention's output, which
  // is then never written.
  combine_folds.clear();
  for (const Node& a : nodes) {
    if (a.op != Op::attention || !split_decode_attention(a) || a.is_output || a.ip[2] % kBlock != 0) continue;
    const std::span<const Node* const> attention_readers = readers.of(&a);
    if (attention_readers.size() != 1) continue;
    const Node* m = attention_readers[0];
    const GpuWeight* w = m->op == Op::mul_mat ? weight_of(m->src[0]) : nullptr;
    if (!w || m->src[1] != &a || m->src[0] == &a || w->K % kBlock != 0 || !has_int8_dot(w->type)) continue;
    combine_folds[&a] = m;
  }
  // A split decode attention with RoPE folded in, read by one decode
  // matvec of single-part weights: its grid gets kWarmRows rows that read
  // those weights into L2 (l2_warm.wgsl) while it waits on its round trips.
  warm_targets.clear();
  for (const Node* a : rope_in_attention) {
    if (!limits.l2_warm || limits.max_storage_buffers < 6) break;
    const std::span<const Node* const> attention_readers = readers.of(a);
    if (attention_readers.size() != 1) continue;
    const Node* m = attention_readers[0];
    const GpuWeight* w = m->op == Op::mul_mat && m->src[1] == a ? weight_of(m->src[0]) : nullptr;
    if (w && w->parts.size() == 1 && w->parts[0].bytes <= kMaxWarmBytes) warm_targets[a] = w->parts[0].buffer;
  }
  // An o projection that merges its attention's chunks, where the
  // attention warms its weights: its grid gets kGluWarmGroups workgroups
  // that read the start of the next fused SwiGLU's gate and up matrices
  // into L2 (mv4_warm.wgsl) while its own loads hit L2.
  glu_warms.clear();
  for (const auto& [a, m] : combine_folds) {
    if (!warm_targets.count(a)) continue;
    for (size_t i = static_cast<size_t>(m->index) + 1; i < nodes.size(); ++i) {
      const Node& s = nodes[i];
      if (!fused_glus.count(&s)) continue;
      const GpuWeight& wg = *weight_of(s.src[0]->src[0]);
      const GpuWeight& wu = *weight_of(s.src[1]->src[0]);
      const uint64_t words = std::min({wg.parts[0].bytes, wu.parts[0].bytes, kGluWarmBytes}) / 16;
      glu_warms[m] = GluWarm{wg.parts[0].buffer, wu.parts[0].buffer, static_cast<uint32_t>(words)};
      break;
    }
  }
  // RMSNorm(h) * g of one token read only by decode matvecs that take
  // matvec4.wgsl (whole 32-weight blocks): they normalize h themselves
  // (NORM) and the norm is not dispatched. Only where a node after them
  // reads h (the residual add), so h outlives them in the plan and no
  // output placed after the norm can overlap it.
  fusable_norms.clear();
  for (const Node& n : nodes) {
    if (n.op != Op::rms_norm || n.ne[1] != 1 || n.is_output || !n.src[1] || n.ne[0] % kBlock != 0) continue;
    const std::span<const Node* const> consumers = readers.of(&n);
    if (consumers.empty()) continue;
    bool ok = true;
    int last = 0;
    for (const Node* m : consumers) {
      const GpuWeight* w = m->op == Op::mul_mat ? weight_of(m->src[0]) : nullptr;
      ok = ok && w && m->src[1] == &n && m->src[0] != &n && w->K % kBlock == 0;
      last = std::max(last, m->index);
    }
    const std::span<const Node* const> h_readers = readers.of(n.src[0]);
    ok = ok && std::any_of(h_readers.begin(), h_readers.end(), [&](const Node* r) { return r->index > last; });
    if (ok) fusable_norms.insert(&n);
  }
}

}  // namespace wa::gpu
