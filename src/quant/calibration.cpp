#include "quant/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/thread_pool.h"
#include "tokenizers/tokenizer.h"

namespace wa::quant {
namespace {

// Sums x^2 per input column at every matmul with a weight (and, with
// moments, the products x_i x_j): the matmul's activation input is marked as
// an output before the graph runs, so the arena keeps it until after_compute
// reads it.
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
      if (n.op != Op::mul_mat || !n.src[0]->weight_id || n.src[1]->type != DType::f32) continue;
      const auto* info = static_cast<const GgufTensorInfo*>(n.src[0]->weight_id);
      const Node* x = n.src[1];
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
};

// Points every leaf of some weight tensors at replacement bytes of other types.
class ReplaceWeights : public GraphObserver {
 public:
  explicit ReplaceWeights(std::map<const void*, std::pair<DType, const void*>> by_tensor)
      : by_tensor_(std::move(by_tensor)) {}
  Status before_compute(Graph& g) override {
    for (Node& n : g.nodes()) {
      if (n.op != Op::none) continue;
      auto it = by_tensor_.find(n.weight_id);
      if (it == by_tensor_.end()) continue;
      n.type = it->second.first;
      n.data = const_cast<void*>(it->second.second);
      set_contiguous_strides(&n);
    }
    return Status::Ok();
  }
  Status after_compute(const Graph&) override { return Status::Ok(); }

 private:
  std::map<const void*, std::pair<DType, const void*>> by_tensor_;
};

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
  c->session_->set_observer(&power);
  const size_t row = static_cast<size_t>(c->n_vocab_);
  c->n_probe_chunks_ = std::max(1, std::min(c->n_chunks_, o.probe_tokens / c->n_ctx_));
  if (o.keep_predictions) c->base_logprobs_.resize(static_cast<size_t>(c->n_probe_chunks_ * c->n_ctx_) * row);
  for (int k = 0; k < c->n_chunks_; ++k) {
    Status st = c->eval_chunk(k);
    if (!st.ok()) {
      c->session_->set_observer(nullptr);
      return st.with_context("calibration");
    }
    for (int i = 0; i < c->n_ctx_ && o.keep_predictions && k < c->n_probe_chunks_; ++i) {
      log_softmax(c->session_->logits(i), c->n_vocab_,
                  c->base_logprobs_.data() + (static_cast<size_t>(k) * static_cast<size_t>(c->n_ctx_) + static_cast<size_t>(i)) * row);
    }
  }
  c->session_->set_observer(nullptr);
  c->importance_ = power.result();
  c->moments_ = power.moments();
  c->lookup_tables_ = power.lookups();
  return c;
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
  std::map<const void*, std::pair<DType, const void*>> by_tensor;
  for (const Replacement& r : replacements) {
    const GgufTensorInfo* info = loaded_.file->find_tensor(r.name);
    if (!info) return invalid_argument("no tensor '" + r.name + "' in the calibrated model");
    by_tensor[info] = {r.type, r.bytes};
  }
  const std::string what = replacements.size() == 1
                               ? "'" + replacements[0].name + "' as " + dtype_name(replacements[0].type)
                               : strformat("%zu tensors replaced", replacements.size());
  ReplaceWeights replace(std::move(by_tensor));
  session_->set_observer(&replace);
  const size_t row = static_cast<size_t>(n_vocab_);
  std::vector<float> lp(row);
  double sum = 0.0;
  for (int k = 0; k < n_probe_chunks_; ++k) {
    Status st = eval_chunk(k);
    if (!st.ok()) {
      session_->set_observer(nullptr);
      return st.with_context("calibration with " + what);
    }
    for (int i = 0; i < n_ctx_; ++i) {
      log_softmax(session_->logits(i), n_vocab_, lp.data());
      const float* base = base_logprobs_.data() + (static_cast<size_t>(k) * static_cast<size_t>(n_ctx_) + static_cast<size_t>(i)) * row;
      double kl = 0.0;
      for (size_t v = 0; v < row; ++v) kl += std::exp(static_cast<double>(base[v])) * (static_cast<double>(base[v]) - lp[v]);
      sum += std::max(0.0, kl);
    }
  }
  session_->set_observer(nullptr);
  return sum / static_cast<double>(n_probe_chunks_ * n_ctx_);
}

}  // namespace wa::quant
