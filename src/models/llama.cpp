// LLaMA-family decoder (llama, mistral, qwen2 GGUF files as llama.cpp writes
// them): pre-RMSNorm blocks, rotary positions, grouped-query attention,
// SwiGLU feed-forward, optional tied output embedding; qwen2 adds Q/K/V
// biases and NeoX-style rotation.
#include <cmath>

#include "formats/hot_rows.h"
#include "models/models.h"
#include "runtime/kv_cache.h"

namespace wa {
namespace {

struct LlamaHParams {
  std::string arch;
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_ff = 0;
  int head_dim = 0;  // key/value length per head
  int n_rot = 0;     // rotated dims per head
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_scale = 1.0f;  // position multiplier (linear scaling: 1/factor)
  RopeMode rope_mode = RopeMode::normal;
};

struct LlamaLayer {
  //                      shapes (ne0, ne1): K inputs -> N outputs
  Weight attn_norm;    // [n_embd]
  Weight wq, wk, wv;   // [n_embd, n_head*hd], [n_embd, n_kv*hd], [n_embd, n_kv*hd]
  Weight bq, bk, bv;   // qwen2 only: [n_head*hd], [n_kv*hd], [n_kv*hd]
  Weight wo;           // [n_head*hd, n_embd]
  Weight ffn_norm;     // [n_embd]
  Weight gate, up;     // [n_embd, n_ff]
  Weight down;         // [n_ff, n_embd]
};

class LlamaModel final : public Model {
 public:
  LlamaHParams hp;
  Weight tok_embd;     // [n_embd, n_vocab]
  Weight output_norm;  // [n_embd]
  Weight output;       // [n_embd, n_vocab] (tok_embd when tied)
  Weight rope_freqs;   // optional [n_rot/2]: per-frequency divisors (LLaMA 3.1 scaling)
  Weight hot_rows;     // optional [n_embd, H]: rows of tok_embd again, read by the lookup (formats/hot_rows.h)
  Weight hot_ids;      // optional i32 [H]: their token ids, strictly increasing
  std::vector<LlamaLayer> layers;
  int64_t params = 0;

  std::string arch() const override { return hp.arch; }
  int n_vocab() const override { return hp.n_vocab; }
  int n_ctx_train() const override { return hp.n_ctx_train; }
  int64_t n_params() const override { return params; }
  DType weight_type() const override { return layers.front().wq.type(); }
  KvLayout kv_layout() const override {
    return KvLayout{hp.n_layer, static_cast<int64_t>(hp.n_head_kv) * hp.head_dim,
                    static_cast<int64_t>(hp.n_head_kv) * hp.head_dim};
  }

  std::vector<std::pair<std::string, std::string>> describe() const override {
    return {{"arch", hp.arch},
            {"n_vocab", std::to_string(hp.n_vocab)},
            {"n_ctx_train", std::to_string(hp.n_ctx_train)},
            {"n_embd", std::to_string(hp.n_embd)},
            {"n_layer", std::to_string(hp.n_layer)},
            {"n_head", std::to_string(hp.n_head)},
            {"n_head_kv", std::to_string(hp.n_head_kv)},
            {"head_dim", std::to_string(hp.head_dim)},
            {"n_rot", std::to_string(hp.n_rot)},
            {"n_ff", std::to_string(hp.n_ff)},
            {"rms_eps", strformat("%g", hp.rms_eps)},
            {"rope_base", strformat("%g", hp.rope_base)},
            {"rope_mode", hp.rope_mode == RopeMode::neox ? "neox" : "normal"},
            {"tied_output", output.info == tok_embd.info ? "yes" : "no"},
            {"hot_rows", hot_rows.info ? strformat("%lld (%s, read by the lookup)",
                                                   static_cast<long long>(hot_rows.info->ne[1]),
                                                   dtype_name(hot_rows.type()))
                                       : "none"},
            {"n_params", std::to_string(params)}};
  }

  Result<Node*> build_forward(Graph& g, const ForwardSpec& s, KvCache& kv) const override {
    const int T = s.n_tokens;
    const int hd = hp.head_dim;
    Node* ids = g.leaf("inp_tokens", DType::i32, {T}, const_cast<int32_t*>(s.token_ids));
    ids->device_buffer = s.token_ids_device_buffer;
    Node* pos = g.leaf("inp_pos", DType::i32, {T}, const_cast<int32_t*>(s.positions));
    Node* freqs = rope_freqs.info ? rope_freqs.leaf(g) : nullptr;
    Node* x = g.named(g.get_rows(tok_embd.leaf(g), ids, hot_rows.info ? hot_rows.leaf(g) : nullptr,
                                 hot_ids.info ? hot_ids.leaf(g) : nullptr),
                      "inp_embd");
    const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hd));

    for (int il = 0; il < hp.n_layer; ++il) {
      const LlamaLayer& L = layers[static_cast<size_t>(il)];
      Node* h = g.rms_norm(x, L.attn_norm.leaf(g), hp.rms_eps);
      Node* q = g.mul_mat(L.wq.leaf(g), h);
      Node* k = g.mul_mat(L.wk.leaf(g), h);
      Node* v = g.mul_mat(L.wv.leaf(g), h);
      if (L.bq.info) q = g.add(q, L.bq.leaf(g));
      if (L.bk.info) k = g.add(k, L.bk.leaf(g));
      if (L.bv.info) v = g.add(v, L.bv.leaf(g));
      q = g.rope(q, pos, hp.n_head, hd, hp.n_rot, hp.rope_mode, hp.rope_base, hp.rope_scale);
      k = g.rope(k, pos, hp.n_head_kv, hd, hp.n_rot, hp.rope_mode, hp.rope_base, hp.rope_scale);
      if (freqs) {
        q->src[2] = freqs;
        k->src[2] = freqs;
      }
      Node* kc = kv.k_leaf(g, il);
      Node* vc = kv.v_leaf(g, il);
      Node* k_stored = g.kv_store(k, kc, s.n_past);
      Node* v_stored = g.kv_store(v, vc, s.n_past, /*transposed=*/true);
      Node* attn = g.attention(q, k_stored, v_stored, hp.n_head, hp.n_head_kv, hd, s.n_past, kq_scale);
      x = g.add(x, g.mul_mat(L.wo.leaf(g), attn));

      Node* f = g.rms_norm(x, L.ffn_norm.leaf(g), hp.rms_eps);
      Node* act = g.swiglu(g.mul_mat(L.gate.leaf(g), f), g.mul_mat(L.up.leaf(g), f));
      x = g.named(g.add(x, g.mul_mat(L.down.leaf(g), act)), strformat("l_out.%d", il));
    }
    if (!s.all_logits && T > 1) x = g.view_cols(x, T - 1, 1);
    x = g.rms_norm(x, output_norm.leaf(g), hp.rms_eps);
    Node* logits = g.named(g.mul_mat(output.leaf(g), x), "logits");
    g.mark_output(logits);
    return logits;
  }

  void for_each_weight(const std::function<void(Weight&)>& fn) override {
    for (Weight* w : {&tok_embd, &output_norm, &output, &rope_freqs, &hot_rows, &hot_ids}) fn(*w);
    for (LlamaLayer& L : layers) {
      for (Weight* w : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.bq, &L.bk, &L.bv, &L.wo, &L.ffn_norm, &L.gate, &L.up,
                        &L.down}) {
        fn(*w);
      }
    }
  }
};

// Reads the architecture's hyperparameters; every value is range-checked.
Status read_hparams(const GgufFile& f, LlamaHParams* hp) {
  hp->arch = std::string(*f.get_string("general.architecture"));
  const std::string a = hp->arch + ".";
  auto need_int = [&](const std::string& key, int lo, int hi, int* out) -> Status {
    const auto v = f.get_int(a + key);
    if (!v) return invalid_file(strformat("missing or non-integer '%s%s'", a.c_str(), key.c_str()));
    if (*v < lo || *v > hi) {
      return invalid_file(strformat("'%s%s' = %lld is outside [%d, %d]", a.c_str(), key.c_str(),
                                    static_cast<long long>(*v), lo, hi));
    }
    *out = static_cast<int>(*v);
    return Status::Ok();
  };
  WA_TRY(need_int("embedding_length", 1, 1 << 16, &hp->n_embd));
  WA_TRY(need_int("block_count", 1, 1024, &hp->n_layer));
  WA_TRY(need_int("feed_forward_length", 1, 1 << 18, &hp->n_ff));
  WA_TRY(need_int("attention.head_count", 1, 1024, &hp->n_head));
  hp->n_head_kv = hp->n_head;
  if (f.find(a + "attention.head_count_kv")) WA_TRY(need_int("attention.head_count_kv", 1, 1024, &hp->n_head_kv));
  hp->n_ctx_train = 4096;
  if (f.find(a + "context_length")) WA_TRY(need_int("context_length", 1, 1 << 24, &hp->n_ctx_train));
  if (hp->n_head % hp->n_head_kv != 0) {
    return invalid_file(strformat("head_count %d is not a multiple of head_count_kv %d", hp->n_head, hp->n_head_kv));
  }
  hp->head_dim = hp->n_embd / hp->n_head;
  if (f.find(a + "attention.key_length")) WA_TRY(need_int("attention.key_length", 1, 4096, &hp->head_dim));
  int v_len = hp->head_dim;
  if (f.find(a + "attention.value_length")) WA_TRY(need_int("attention.value_length", 1, 4096, &v_len));
  if (v_len != hp->head_dim) return unsupported("key_length != value_length is not supported");
  if (hp->head_dim % 2 != 0) return invalid_file("head dimension must be even for rotary embeddings");
  hp->n_rot = hp->head_dim;
  if (f.find(a + "rope.dimension_count")) WA_TRY(need_int("rope.dimension_count", 2, hp->head_dim, &hp->n_rot));
  if (hp->n_rot % 2 != 0) return invalid_file("rope.dimension_count must be even");
  if (auto e = f.get_float(a + "attention.layer_norm_rms_epsilon")) hp->rms_eps = static_cast<float>(*e);
  if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f)) return invalid_file("rms epsilon must be in (0, 1)");
  if (auto b = f.get_float(a + "rope.freq_base")) hp->rope_base = static_cast<float>(*b);
  if (!(hp->rope_base > 1.0f)) return invalid_file("rope.freq_base must be > 1");
  if (auto t = f.get_string(a + "rope.scaling.type")) {
    if (*t == "linear") {
      const auto factor = f.get_float(a + "rope.scaling.factor");
      if (!factor || !(*factor > 0.0)) return invalid_file("linear rope scaling without a positive factor");
      hp->rope_scale = static_cast<float>(1.0 / *factor);
    } else if (*t != "none") {
      return unsupported(strformat("rope scaling '%.*s' is not supported", static_cast<int>(t->size()), t->data()));
    }
  }
  hp->rope_mode = hp->arch == "qwen2" ? RopeMode::neox : RopeMode::normal;
  return Status::Ok();
}

// Finds a tensor and checks its shape; optional tensors may be absent.
class TensorBinder {
 public:
  TensorBinder(const GgufFile& f, MemoryTracker* tracker, int64_t* params) : f_(f), tracker_(tracker), params_(params) {}

  Status bind(Weight* w, const std::string& name, std::initializer_list<int64_t> shape, const std::string& component,
              bool optional = false) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (optional) return Status::Ok();
      return invalid_file(strformat("missing tensor '%s'", name.c_str()));
    }
    int d = 0;
    for (int64_t want : shape) {
      if (t->ne[d] != want) {
        return invalid_file(strformat("tensor '%s' has shape [%lld, %lld, %lld], expected dimension %d to be %lld",
                                      name.c_str(), static_cast<long long>(t->ne[0]), static_cast<long long>(t->ne[1]),
                                      static_cast<long long>(t->ne[2]), d, static_cast<long long>(want)));
      }
      ++d;
    }
    for (; d < kMaxDims; ++d) {
      if (t->ne[d] != 1) return invalid_file(strformat("tensor '%s' has more dimensions than expected", name.c_str()));
    }
    const TypeTraits* tt = type_traits(t->type);
    if (!tt->to_f32) {
      return unsupported(strformat("tensor '%s' has type %s, which this build cannot run yet", name.c_str(), tt->name));
    }
    w->info = t;
    w->data = f_.tensor_data(*t);
    *params_ += t->n_elements();
    // Host bytes only: a header-only file's weights are accounted where they live (the device).
    if (tracker_ && w->data) tracker_->add(component, MemCategory::weights, t->size_bytes, /*mapped=*/true);
    return Status::Ok();
  }

 private:
  const GgufFile& f_;
  MemoryTracker* tracker_;
  int64_t* params_;
};

}  // namespace

Node* Weight::leaf(Graph& g) const {
  int64_t ne[4] = {info->ne[0], info->ne[1], info->ne[2], info->ne[3]};
  Node* n = g.leaf(info->name, layout.value_or(info->type), {ne[0], ne[1], ne[2], ne[3]}, const_cast<void*>(data));
  n->weight_id = info;
  return n;
}

Result<std::unique_ptr<Model>> create_llama_model(const GgufFile& f, MemoryTracker* tracker) {
  auto m = std::make_unique<LlamaModel>();
  LlamaHParams& hp = m->hp;
  WA_TRY(read_hparams(f, &hp));
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return invalid_file("missing tensor 'token_embd.weight'");
  if (embd->ne[1] < 1 || embd->ne[1] > (1 << 22)) return invalid_file("token_embd.weight has an absurd vocabulary size");
  hp.n_vocab = static_cast<int>(embd->ne[1]);
  if (auto v = f.get_int(hp.arch + ".vocab_size"); v && *v != hp.n_vocab) {
    return invalid_file(strformat("%s.vocab_size = %lld but token_embd.weight has %d rows", hp.arch.c_str(),
                                  static_cast<long long>(*v), hp.n_vocab));
  }
  const int64_t E = hp.n_embd, V = hp.n_vocab, F = hp.n_ff;
  const int64_t QW = static_cast<int64_t>(hp.n_head) * hp.head_dim;
  const int64_t KW = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim;
  TensorBinder b(f, tracker, &m->params);
  WA_TRY(b.bind(&m->tok_embd, "token_embd.weight", {E, V}, "token_embd"));
  WA_TRY(b.bind(&m->output_norm, "output_norm.weight", {E}, "output"));
  WA_TRY(b.bind(&m->output, "output.weight", {E, V}, "output", /*optional=*/true));
  if (!m->output.info) m->output = m->tok_embd;  // tied embeddings
  WA_TRY(b.bind(&m->rope_freqs, "rope_freqs.weight", {hp.n_rot / 2}, "output", true));
  if (m->rope_freqs.info && m->rope_freqs.type() != DType::f32) return unsupported("rope_freqs.weight must be f32");
  HotRows hot;
  WA_TRY(validate_hot_rows(f, *embd, &hot));
  if (hot.rows) {
    m->hot_rows = {hot.rows, f.tensor_data(*hot.rows)};
    m->hot_ids = {hot.ids, f.tensor_data(*hot.ids)};
    // Stored beside the matrix, not parameters of the model.
    if (tracker && m->hot_rows.data) {
      tracker->add("token_embd", MemCategory::weights, hot.rows->size_bytes + hot.ids->size_bytes, /*mapped=*/true);
    }
  }
  m->layers.resize(static_cast<size_t>(hp.n_layer));
  for (int il = 0; il < hp.n_layer; ++il) {
    LlamaLayer& L = m->layers[static_cast<size_t>(il)];
    const std::string p = strformat("blk.%d.", il);
    const std::string comp = strformat("blk.%d", il);
    WA_TRY(b.bind(&L.attn_norm, p + "attn_norm.weight", {E}, comp));
    WA_TRY(b.bind(&L.wq, p + "attn_q.weight", {E, QW}, comp));
    WA_TRY(b.bind(&L.wk, p + "attn_k.weight", {E, KW}, comp));
    WA_TRY(b.bind(&L.wv, p + "attn_v.weight", {E, KW}, comp));
    WA_TRY(b.bind(&L.bq, p + "attn_q.bias", {QW}, comp, true));
    WA_TRY(b.bind(&L.bk, p + "attn_k.bias", {KW}, comp, true));
    WA_TRY(b.bind(&L.bv, p + "attn_v.bias", {KW}, comp, true));
    WA_TRY(b.bind(&L.wo, p + "attn_output.weight", {QW, E}, comp));
    WA_TRY(b.bind(&L.ffn_norm, p + "ffn_norm.weight", {E}, comp));
    WA_TRY(b.bind(&L.gate, p + "ffn_gate.weight", {E, F}, comp));
    WA_TRY(b.bind(&L.up, p + "ffn_up.weight", {E, F}, comp));
    WA_TRY(b.bind(&L.down, p + "ffn_down.weight", {F, E}, comp));
    for (const Weight* w : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) {
      if (w->info && w->type() != DType::f32) {
        return unsupported(strformat("'%s' must be f32 (norms and biases are applied in f32)", w->info->name.c_str()));
      }
    }
  }
  if (m->output_norm.type() != DType::f32) return unsupported("output_norm.weight must be f32");
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace wa
