#include "quant/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/thread_pool.h"
#include "tokenizers/tokenizer.h"

namespace wa::quant {
namespace {

// Sums x^2 per input column at every matmul with a weight (and, with
// moments, the products x_i x_j, and the inputs of a tied embedding's output
// matmul as they are): the matmul's activation input is marked as an output
// before the graph runs, so the arena keeps it until after_compute reads it.
class ActivationPower : public GraphObserver {
 public:
  explicit ActivationPower(bool moments) : moments_(moments) {}
  Status before_compute(Graph& g) override {
    for (Node& n : g.nodes()) {
      if (n.op == Op::mul_mat && n.src[0]->weight_id && n.src[1]->type == DType::f32) g.mark_output(n.src[1]);
    }
    return Status::Ok();
  }
  Status after_compute(const Graph& g) override {
    std::map<const Node*, std::shared_ptr<Moments>> by_input;  // one accumulation per activation
    for (const Node& n : g.nodes()) {
      if (n.op == Op::get_rows && n.src[0]->weight_id) {
        lookups_.insert(static_cast<const GgufTensorInfo*>(n.src[0]->weight_id)->name);
      }
    }
    for (const Node& n : g.nodes()) {
      if (n.op != Op::mul_mat || !n.src[0]->weight_id || n.src[1]->type != DType::f32) continue;
      const auto* info = static_cast<const GgufTensorInfo*>(n.src[0]->weight_id);
      const Node* x = n.src[1];
      if (moments_ && lookups_.count(info->name) && (tied_.empty() || tied_ == info->name)) {
        if (tied_.empty()) tied_ = info->name, tied_n_ = x->ne[0];
        for (int64_t t = 0; t < x->ne[1] && tied_n_ == x->ne[0]; ++t) {
          const auto* col = reinterpret_cast<const float*>(static_cast<const uint8_t*>(x->data) + t * x->nb[1]);
          tied_hidden_.insert(tied_hidden_.end(), col, col + x->ne[0]);
        }
      }
      Sum& s = sums_[info->name];
      s.power.resize(static_cast<size_t>(x->ne[0]), 0.0);
      if (static_cast<int64_t>(s.power.size()) != x->ne[0]) continue;  // one width per matrix
      for (int64_t t = 0; t < x->ne[1]; ++t) {
        const auto* col = reinterpret_cast<const float*>(static_cast<const uint8_t*>(x->data) + t * x->nb[1]);
        for (int64_t j = 0; j < x->ne[0]; ++j) s.power[static_cast<size_t>(j)] += static_cast<double>(col[j]) * col[j];
      }
      s.count += x->ne[1];
      if (!moments_) continue;
      // Matrices of one input share its moments from the first graph on.
      auto [it, fresh] = by_input.try_emplace(x);
      if (!s.moments) s.moments = fresh ? std::make_shared<Moments>() : it->second;
      if (!fresh) continue;
      it->second = s.moments;
      accumulate(*x, s.moments.get());
    }
    return Status::Ok();
  }
  std::map<std::string, std::vector<float>> result() const {
    std::map<std::string, std::vector<float>> out;
    for (const auto& [name, s] : sums_) {
      if (s.count == 0 || s.power.empty()) continue;
      std::vector<float> v(s.power.size());
      double mean = 0.0;
      for (size_t j = 0; j < v.size(); ++j) mean += s.power[j] / static_cast<double>(s.count);
      mean /= static_cast<double>(v.size());
      for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>(s.power[j] / static_cast<double>(s.count) + 0.01 * mean);
      out.emplace(name, std::move(v));
    }
    return out;
  }
  const std::set<std::string>& lookups() const { return lookups_; }
  // The tied embedding (empty: none), its row length, and its output
  // matmul's inputs [positions][n] (moved out).
  const std::string& tied() const { return tied_; }
  int64_t tied_n() const { return tied_n_; }
  std::vector<float> take_tied_hidden() { return std::move(tied_hidden_); }
  // The moments as means (full symmetric matrices), shared as they were collected.
  std::map<std::string, std::shared_ptr<const InputMoments>> moments() const {
    std::map<const Moments*, std::shared_ptr<const InputMoments>> done;
    std::map<std::string, std::shared_ptr<const InputMoments>> out;
    for (const auto& [name, s] : sums_) {
      if (!s.moments || s.moments->tokens == 0) continue;
      auto& m = done[s.moments.get()];
      if (!m) {
        auto r = std::make_shared<InputMoments>();
        const int64_t n = s.moments->n;
        r->n = n;
        r->tokens = s.moments->tokens;
        r->h.resize(static_cast<size_t>(n * n));
        const double inv = 1.0 / static_cast<double>(r->tokens);
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t j = i; j < n; ++j) {
            const double v = s.moments->upper[static_cast<size_t>(i * n + j)] * inv;
            r->h[static_cast<size_t>(i * n + j)] = v;
            r->h[static_cast<size_t>(j * n + i)] = v;
          }
        }
        m = std::move(r);
      }
      out.emplace(name, m);
    }
    return out;
  }

 private:
  struct Moments {
    int64_t n = 0, tokens = 0;
    std::vector<double> upper;  // sum of x_i x_j for j >= i, row-major n x n
  };
  struct Sum {
    std::vector<double> power;
    int64_t count = 0;
    std::shared_ptr<Moments> moments;
  };
  // Adds X^T X of one activation [n, tokens]: for each i, the tokens' x_i
  // times their rows, into a float row that stays in cache (one graph's
  // tokens at a time, then into the double sums).
  static void accumulate(const Node& x, Moments* m) {
    const int64_t n = x.ne[0], T = x.ne[1];
    if (m->n == 0) {
      m->n = n;
      m->upper.assign(static_cast<size_t>(n * n), 0.0);
    }
    if (m->n != n) return;
    std::vector<float> xt(static_cast<size_t>(n * T)), row(static_cast<size_t>(n));
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(xt.data() + t * n, static_cast<const uint8_t*>(x.data) + t * x.nb[1], static_cast<size_t>(n) * sizeof(float));
    }
    for (int64_t i = 0; i < n; ++i) {
      std::fill(row.begin() + i, row.end(), 0.0f);
      for (int64_t t = 0; t < T; ++t) {
        const float* xr = xt.data() + t * n;
        const float a = xr[i];
        if (a == 0.0f) continue;
        for (int64_t j = i; j < n; ++j) row[static_cast<size_t>(j)] += a * xr[j];
      }
      double* u = m->upper.data() + i * n;
      for (int64_t j = i; j < n; ++j) u[j] += row[static_cast<size_t>(j)];
    }
    m->tokens += T;
  }

  bool moments_;
  std::map<std::string, Sum> sums_;
  std::set<std::string> lookups_;  // weight tensors read by get_rows
  std::string tied_;
  int64_t tied_n_ = 0;
  std::vector<float> tied_hidden_;
};

// Points the leaves of some weight tensors at replacement bytes of other
// types: every leaf, or (lookup_only) those the graph looks rows up in. A
// model builds one leaf per use of a weight, so the two roles of a tied
// embedding are separate leaves.
class ReplaceWeights : public GraphObserver {
 public:
  explicit ReplaceWeights(std::map<const void*, Calibration::Replacement> by_tensor) : by_tensor_(std::move(by_tensor)) {}
  Status before_compute(Graph& g) override {
    for (Node& n : g.nodes()) {
      Node* leaf = n.op == Op::none ? &n : n.op == Op::get_rows ? n.src[0] : nullptr;
      if (!leaf || leaf->op != Op::none) continue;
      auto it = by_tensor_.find(leaf->weight_id);
      if (it == by_tensor_.end() || it->second.lookup_only != (n.op == Op::get_rows)) continue;
      leaf->type = it->second.type;
      leaf->data = const_cast<void*>(it->second.bytes);
      set_contiguous_strides(leaf);
    }
    // Hot rows: leaves of their own beside each lookup of the tensor (added
    // after the walk: the node list grows).
    std::vector<std::pair<Node*, const Calibration::Replacement*>> lookups;
    for (Node& n : g.nodes()) {
      if (n.op != Op::get_rows || !n.src[0]->weight_id) continue;
      auto it = by_tensor_.find(n.src[0]->weight_id);
      if (it != by_tensor_.end() && !it->second.hot_ids.empty()) lookups.push_back({&n, &it->second});
    }
    for (auto [n, r] : lookups) {
      const auto h = static_cast<int64_t>(r->hot_ids.size());
      n->src[2] = g.leaf(n->src[0]->name + ".hot_rows", r->hot_type, {n->src[0]->ne[0], h}, const_cast<void*>(r->hot_bytes));
      n->src[3] = g.leaf(n->src[0]->name + ".hot_ids", DType::i32, {h}, const_cast<int32_t*>(r->hot_ids.data()));
    }
    return Status::Ok();
  }
  Status after_compute(const Graph&) override { return Status::Ok(); }

 private:
  std::map<const void*, Calibration::Replacement> by_tensor_;
};

// The probabilities of one position's logits, and what the tied embedding's
// statistics keep of them.
void record_predictions(const float* logits, int64_t position, TiedEmbeddingStats* s, double* chunk_mass,
                        std::vector<double>* p) {
  const int64_t V = s->n_vocab;
  double mx = logits[0];
  for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(logits[v]));
  double sum = 0.0;
  for (int64_t v = 0; v < V; ++v) sum += ((*p)[static_cast<size_t>(v)] = std::exp(static_cast<double>(logits[v]) - mx));
  for (int64_t v = 0; v < V; ++v) {
    const double pv = (*p)[static_cast<size_t>(v)] / sum;
    chunk_mass[v] += pv;
    if (pv > TiedEmbeddingStats::kPredictedFloor) {
      s->predicted[static_cast<size_t>(v)].push_back({static_cast<int32_t>(position), static_cast<float>(pv)});
    }
  }
}

// A standard normal deviate from a generator whose sequence the standard
// fixes (std::normal_distribution's is the library's own): Box-Muller.
double normal(std::mt19937_64& rng) {
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void log_softmax(const float* logits, int n, float* out) {
  double mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - lse);
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open calibration text '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) return invalid_argument("calibration text '" + path + "' is empty");
  return ss.str();
}

}  // namespace

Calibration::~Calibration() = default;

Result<std::unique_ptr<Calibration>> Calibration::run(const std::string& model_path, const std::string& text_path,
                                                      const CalibrationOptions& o) {
  WA_ASSIGN_OR_RETURN(std::string text, read_text(text_path));
  std::unique_ptr<Calibration> c(new Calibration());
  c->tracker_ = std::make_unique<MemoryTracker>();
  LoadOptions lo;
  lo.tracker = c->tracker_.get();
  lo.require_tokenizer = true;
  WA_ASSIGN_OR_RETURN(c->loaded_, load_model(model_path, lo));
  const Tokenizer& tok = *c->loaded_.tokenizer;
  int32_t bos = tok.bos_id();
  if (bos < 0) bos = static_cast<int32_t>(c->loaded_.file->get_int("tokenizer.ggml.bos_token_id").value_or(1));
  c->tokens_ = tok.encode(text, {.add_bos = true});
  const int n_text = static_cast<int>(std::min<size_t>(c->tokens_.size(), 1u << 30));
  if (n_text < 16) {
    return invalid_argument(strformat("calibration text '%s' is too short: %d tokens, need at least 16", text_path.c_str(), n_text));
  }
  c->n_ctx_ = std::min({std::max(16, o.n_ctx), std::max(16, o.max_tokens), n_text, c->loaded_.model->n_ctx_train()});
  c->n_chunks_ = std::max(1, std::min(n_text / c->n_ctx_, std::max(1, o.max_tokens / c->n_ctx_)));
  c->n_vocab_ = c->loaded_.model->n_vocab();
  for (int k = 0; k < c->n_chunks_; ++k) c->tokens_[static_cast<size_t>(k) * static_cast<size_t>(c->n_ctx_)] = bos;

  const int threads = o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads();
  c->backend_ = make_cpu_backend({threads, c->tracker_.get()});
  SessionOptions so;
  so.n_ctx = c->n_ctx_;
  so.tracker = c->tracker_.get();
  so.kv_type = DType::f32;  // the measurement is of the weights, not of a cache's rounding
  WA_ASSIGN_OR_RETURN(c->session_, Session::create(*c->loaded_.model, *c->backend_, so));

  ActivationPower power(o.input_moments);
  const size_t row = static_cast<size_t>(c->n_vocab_);
  c->n_probe_chunks_ = std::max(1, std::min(c->n_chunks_, o.probe_tokens / c->n_ctx_));
  if (o.keep_predictions) c->base_logprobs_.resize(static_cast<size_t>(c->n_probe_chunks_ * c->n_ctx_) * row);
  // A tied embedding (known once the first chunk ran) records its statistics
  // and, for the lookup sensitivity, each chunk again with noise in its
  // lookup role (every chunk: the KL's mean is a tail of few positions).
  auto tied = std::make_shared<TiedEmbeddingStats>();
  std::vector<double> p(row);
  std::vector<float> noisy, chunk_lp;
  std::map<const void*, Replacement> noise;
  double sigma = 0.0, noise_kl = 0.0;
  for (int k = 0; k < c->n_chunks_; ++k) {
    c->session_->set_observer(&power);
    Status st = c->eval_chunk(k);
    c->session_->set_observer(nullptr);
    if (!st.ok()) return st.with_context("calibration");
    if (k == 0 && !power.tied().empty()) {
      tied->name = power.tied();
      tied->n = power.tied_n();
      tied->n_vocab = c->n_vocab_;
      tied->n_ctx = c->n_ctx_;
      tied->predicted.resize(row);
      tied->chunk_mass.assign(static_cast<size_t>(c->n_chunks_) * row, 0.0);
      tied->tokens.assign(c->tokens_.begin(), c->tokens_.begin() + static_cast<ptrdiff_t>(c->n_chunks_) * c->n_ctx_);
      WA_ASSIGN_OR_RETURN(sigma, c->noisy_table(tied->name, &noisy));
      WA_ASSIGN_OR_RETURN(noise, c->by_tensor({{tied->name, DType::f32, noisy.data(), /*lookup_only=*/true}}));
      chunk_lp.resize(static_cast<size_t>(c->n_ctx_) * row);
    }
    for (int i = 0; i < c->n_ctx_ && o.keep_predictions && k < c->n_probe_chunks_; ++i) {
      log_softmax(c->session_->logits(i), c->n_vocab_,
                  c->base_logprobs_.data() + (static_cast<size_t>(k) * static_cast<size_t>(c->n_ctx_) + static_cast<size_t>(i)) * row);
    }
    if (tied->name.empty()) continue;
    for (int i = 0; i < c->n_ctx_; ++i) {
      record_predictions(c->session_->logits(i), static_cast<int64_t>(k) * c->n_ctx_ + i, tied.get(),
                         tied->chunk_mass.data() + static_cast<size_t>(k) * row, &p);
      log_softmax(c->session_->logits(i), c->n_vocab_, chunk_lp.data() + static_cast<size_t>(i) * row);
    }
    WA_ASSIGN_OR_RETURN(double kl, c->kl_sum(k, noise, chunk_lp.data()));
    noise_kl += kl;
  }
  c->importance_ = power.result();
  c->moments_ = power.moments();
  c->lookup_tables_ = power.lookups();
  if (!tied->name.empty()) {
    tied->hidden = power.take_tied_hidden();
    if (tied->positions() != static_cast<int64_t>(c->n_chunks_) * c->n_ctx_) {
      return internal_error(strformat("calibration: %lld hidden states of the tied embedding '%s' for %d positions",
                                      static_cast<long long>(tied->positions()), tied->name.c_str(), c->n_tokens()));
    }
    tied->lookup_sensitivity = 2.0 * noise_kl / static_cast<double>(c->n_tokens()) / (sigma * sigma * static_cast<double>(tied->n));
    c->tied_ = std::move(tied);
  }
  return c;
}

Result<double> Calibration::noisy_table(const std::string& name, std::vector<float>* w) {
  const GgufTensorInfo* info = loaded_.file->find_tensor(name);
  const TypeTraits* from = info ? type_traits(info->type) : nullptr;
  if (!from || !from->to_f32) return invalid_argument("calibration: cannot decode the tied embedding '" + name + "'");
  const int64_t n = info->ne[0], rows = info->ne[1];
  w->resize(static_cast<size_t>(n * rows));
  const size_t rb = row_bytes(info->type, n);
  for (int64_t r = 0; r < rows; ++r) from->to_f32(loaded_.file->tensor_data(*info) + r * rb, w->data() + r * n, n);
  double ss = 0.0;
  for (float v : *w) ss += static_cast<double>(v) * v;
  const double sigma = 0.05 * std::sqrt(ss / static_cast<double>(w->size()));
  if (!(sigma > 0.0) || !std::isfinite(sigma)) return invalid_argument("calibration: the tied embedding '" + name + "' is zero or not finite");
  std::mt19937_64 rng(1);
  for (float& v : *w) v += static_cast<float>(sigma * normal(rng));
  return sigma;
}

Result<std::map<const void*, Calibration::Replacement>> Calibration::by_tensor(const std::vector<Replacement>& replacements) const {
  std::map<const void*, Replacement> out;
  for (const Replacement& r : replacements) {
    const GgufTensorInfo* info = loaded_.file->find_tensor(r.name);
    if (!info) return invalid_argument("no tensor '" + r.name + "' in the calibrated model");
    out[info] = r;
  }
  return out;
}

Result<double> Calibration::kl_sum(int k, const std::map<const void*, Replacement>& replaced, const float* base_logprobs) {
  ReplaceWeights replace(replaced);
  session_->set_observer(&replace);
  Status st = eval_chunk(k);
  session_->set_observer(nullptr);
  if (!st.ok()) return st;
  const size_t row = static_cast<size_t>(n_vocab_);
  std::vector<float> lp(row);
  double sum = 0.0;
  for (int i = 0; i < n_ctx_; ++i) {
    log_softmax(session_->logits(i), n_vocab_, lp.data());
    const float* base = base_logprobs + static_cast<size_t>(i) * row;
    double kl = 0.0;
    for (size_t v = 0; v < row; ++v) kl += std::exp(static_cast<double>(base[v])) * (static_cast<double>(base[v]) - lp[v]);
    sum += std::max(0.0, kl);
  }
  return sum;
}

Status Calibration::eval_chunk(int k) {
  const auto first = tokens_.begin() + static_cast<ptrdiff_t>(k) * n_ctx_;
  std::vector<int32_t> chunk(first, first + n_ctx_);
  session_->reset();
  return session_->eval(chunk, /*all_logits=*/true);
}

Result<double> Calibration::kld_with(const std::string& name, DType type, const void* bytes) {
  return kld_with(std::vector<Replacement>{{name, type, bytes}});
}

Result<double> Calibration::kld_with(const std::vector<Replacement>& replacements) {
  if (base_logprobs_.empty()) return invalid_argument("calibration ran without keeping the original predictions");
  WA_ASSIGN_OR_RETURN(auto replaced, by_tensor(replacements));
  const std::string what = replacements.size() == 1
                               ? "'" + replacements[0].name + "' as " + dtype_name(replacements[0].type)
                               : strformat("%zu tensors replaced", replacements.size());
  double sum = 0.0;
  for (int k = 0; k < n_probe_chunks_; ++k) {
    auto kl = kl_sum(k, replaced, base_logprobs_.data() + static_cast<size_t>(k) * static_cast<size_t>(n_ctx_) * static_cast<size_t>(n_vocab_));
    if (!kl.ok()) return kl.status().with_context("calibration with " + what);
    sum += kl.value();
  }
  return sum / static_cast<double>(n_probe_chunks_ * n_ctx_);
}

}  // namespace wa::quant
