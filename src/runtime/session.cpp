#include "runtime/session.h"

#include <algorithm>
#include <cstring>

namespace wa {

Result<std::unique_ptr<Session>> Session::create(const Model& model, Backend& backend, const SessionOptions& o) {
  int n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min(model.n_ctx_train(), 4096);
  if (n_ctx > (1 << 20)) return invalid_argument(strformat("context size %d is too large", n_ctx));
  if (o.n_batch < 1) return invalid_argument("batch size must be positive");
  const DType kv_type = o.kv_type ? *o.kv_type : model.weight_type() == DType::f32 ? DType::f32 : DType::f16;
  WA_ASSIGN_OR_RETURN(KvCache kv, KvCache::create(model.kv_layout(), n_ctx, kv_type, o.tracker, backend.device_memory()));
  return std::unique_ptr<Session>(new Session(model, backend, std::move(kv), o.n_batch, o.tracker));
}

Status Session::eval(std::span<const int32_t> tokens, bool all_logits) {
  return eval_impl(tokens, all_logits ? Output::all_logits : Output::last_logits);
}

Session::~Session() {
  if (token_buffer_) backend_.device_memory()->release_buffer(token_buffer_);
  if (window_buffer_) backend_.device_memory()->release_buffer(window_buffer_);
}

Status Session::eval_choose(std::span<const int32_t> tokens, const TokenChoice& choice) {
  return eval_impl(tokens, Output::token, &choice);
}

Status Session::eval_choose_chained(int32_t* dst, const TokenChoice& choice) {
  if (!backend_.device_memory()) return unsupported(backend_.name() + " backend cannot chain steps on a device");
  if (!chain_ready_) return invalid_argument("a chained step needs a previous step that chose its token");
  if (!dst) return invalid_argument("a chained step needs a destination for its id");
  const int32_t placeholder = 0;  // the id is read from token_buffer_
  return eval_impl(std::span<const int32_t>(&placeholder, 1), Output::token, &choice, true, dst);
}

Status Session::rewind(int n) {
  if (n < 0 || n > n_past_) return invalid_argument(strformat("cannot rewind %d of %d tokens", n, n_past_));
  n_past_ -= n;
  chain_ready_ = false;
  window_ready_ = false;
  return Status::Ok();
}

Result<Node*> Session::penalty_window_leaf(Graph& g, const TokenChoice& choice, bool continues, bool chained) {
  if (choice.repeat_penalty == 1.0f || choice.window.empty()) return static_cast<Node*>(nullptr);
  const std::span<const int32_t> w = choice.window;
  // A step's window is bounded (its words are copied, or live on a device,
  // at full size); larger ones are the host sampler's alone.
  const int capacity = w.size() >= static_cast<size_t>(kPenaltyWindowHeader) ? w[0] : 0;
  if (capacity < 1 || capacity > kDevicePenaltyMaxWindow || w.size() > penalty_window_words(capacity)) {
    return invalid_argument(strformat("a step's repetition penalty looks at 1 to %d ids (sample on the host for more)",
                                      kDevicePenaltyMaxWindow));
  }
  if (chained && !(continues && window_capacity_ == capacity)) {
    return invalid_argument("a chained step with a repetition penalty needs a previous step with the same window");
  }
  const size_t words = penalty_window_words(capacity);
  Node* leaf = g.leaf("penalty_window", DType::i32, {static_cast<int64_t>(words)}, nullptr);
  if (DeviceMemory* device = backend_.device_memory()) {
    if (window_buffer_ && window_capacity_ != capacity) {
      device->release_buffer(window_buffer_);
      window_buffer_ = 0;
    }
    if (!window_buffer_) {
      WA_ASSIGN_OR_RETURN(window_buffer_, device->create_buffer(words * sizeof(int32_t), "session",
                                                                MemCategory::activations, tracker_));
    }
    // (slots past the host's filled ones keep older ids: never read)
    if (!chained) WA_TRY(device->write_buffer(window_buffer_, w.data(), w.size_bytes()));
    leaf->device_buffer = window_buffer_;
  } else {
    window_host_.assign(w.begin(), w.end());
    window_host_.resize(words, 0);
    leaf->data = window_host_.data();
  }
  window_capacity_ = capacity;
  return leaf;
}

Status Session::eval_impl(std::span<const int32_t> tokens, Output output, const TokenChoice* choice, bool chained,
                          int32_t* token_dst) {
  const bool all_logits = output == Output::all_logits;
  if (tokens.empty()) return invalid_argument("eval needs at least one token");
  const int n_vocab = model_.n_vocab();
  for (int32_t id : tokens) {
    if (id < 0 || id >= n_vocab) {
      return invalid_argument(strformat("token id %d is out of range (vocabulary has %d tokens)", id, n_vocab));
    }
  }
  DeviceMemory* device = backend_.device_memory();
  if (output == Output::token && device && !token_buffer_) {
    WA_ASSIGN_OR_RETURN(token_buffer_, device->create_buffer(sizeof(int32_t), "session", MemCategory::activations, tracker_));
  }
  chain_ready_ = false;
  const bool continues_window = window_ready_;
  window_ready_ = false;
  const int64_t total = static_cast<int64_t>(tokens.size());
  if (n_past_ + total > kv_.n_ctx()) {
    return invalid_argument(strformat("context is full: %d past + %lld new tokens exceed n_ctx %d", n_past_,
                                      static_cast<long long>(total), kv_.n_ctx()));
  }
  const size_t rows = all_logits ? static_cast<size_t>(total) : output == Output::token ? 0 : 1;
  logits_.resize(rows * static_cast<size_t>(n_vocab));
  n_logit_rows_ = static_cast<int>(rows);
  chosen_ = -1;
  for (int64_t start = 0; start < total; start += n_batch_) {
    const int n = static_cast<int>(std::min<int64_t>(n_batch_, total - start));
    const bool last_chunk = start + n == total;
    ids_.assign(tokens.begin() + start, tokens.begin() + start + n);
    pos_.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) pos_[static_cast<size_t>(i)] = n_past_ + i;
    ForwardSpec spec;
    spec.n_tokens = n;
    spec.n_past = n_past_;
    spec.all_logits = all_logits;
    spec.token_ids = ids_.data();
    spec.token_ids_device_buffer = chained ? token_buffer_ : 0;
    spec.positions = pos_.data();
    Graph g;
    WA_ASSIGN_OR_RETURN(Node* out, model_.build_forward(g, spec, kv_));
    Node* token = nullptr;
    Node* window = nullptr;
    if (output == Output::token && last_chunk) {
      WA_ASSIGN_OR_RETURN(window, penalty_window_leaf(g, *choice, continues_window, chained));
      token = g.sample(out, choice->sampling, static_cast<float>(choice->uniform), window, choice->repeat_penalty);
      g.mark_output(token);
    }
    if (observer_) WA_TRY(observer_->before_compute(g));
    WA_TRY(backend_.compute(g));
    if (observer_) WA_TRY(observer_->after_compute(g));
    // Device backends fill these destinations when their recorded work
    // completes; the vectors are not resized until the next eval.
    if (all_logits) {
      WA_TRY(backend_.read_output(*out, logits_.data() + static_cast<size_t>(start) * n_vocab,
                                  sizeof(float) * static_cast<size_t>(n) * n_vocab));
    } else if (token) {
      if (token_buffer_) {
        WA_TRY(backend_.copy_output(*token, token_buffer_, sizeof(int32_t)));
        chain_ready_ = true;
      }
      window_ready_ = window != nullptr;
      WA_TRY(backend_.read_output(*token, token_dst ? token_dst : &chosen_, sizeof(chosen_)));
    } else if (last_chunk) {
      WA_TRY(backend_.read_output(*out, logits_.data(), sizeof(float) * n_vocab));
    }
    n_past_ += n;
  }
  return Status::Ok();
}

const float* Session::logits(int i) const {
  if (n_logit_rows_ == 0) return nullptr;
  if (i < 0) i = n_logit_rows_ - 1;
  return logits_.data() + static_cast<size_t>(i) * static_cast<size_t>(model_.n_vocab());
}

}  // namespace wa
