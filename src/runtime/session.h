// A session: one conversation's state over a loaded model — the KV cache, the
// position, and the logits of the last evaluation. Prompts are processed in
// batches of up to n_batch tokens per forward graph; decoding evaluates one
// token at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"

namespace wa {

struct SessionOptions {
  int n_ctx = 0;         // 0: min(model's training context, 4096)
  int n_batch = 512;     // tokens per forward graph during prompt processing
  // nullopt (auto): f32 for f32 models, so they reproduce f32 references
  // exactly; f16 otherwise.
  std::optional<DType> kv_type;
  MemoryTracker* tracker = nullptr;
};

// Watches each forward graph a session runs (calibration for quantization,
// src/quant/calibration.cpp). before_compute may mark nodes as outputs, so
// that their values survive the arena's reuse, or point weight leaves at
// other bytes of another type; after_compute reads what it kept.
class GraphObserver {
 public:
  virtual ~GraphObserver() = default;
  virtual Status before_compute(Graph& graph) = 0;
  virtual Status after_compute(const Graph& graph) = 0;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> create(const Model& model, Backend& backend, const SessionOptions& options);

  // Appends tokens at the current position. With all_logits, logits(i) holds
  // the logits after each of the tokens; otherwise only after the last one.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);
  // The same, but the result is only the next token, chosen by the backend
  // (TokenChoice): a device backend then reads back one word instead of the
  // logits. logits() is not set. With a repetition penalty
  // (TokenChoice::window), the window starts as the choice's (the host
  // sampler's, at most kDevicePenaltyMaxWindow ids) and the step appends
  // its choice to it.
  Status eval_choose(std::span<const int32_t> tokens, const TokenChoice& choice);
  // Decoding that leaves each chosen id on the device: evaluates one token,
  // the one the last eval_choose (or eval_choose_chained) chose, without the
  // host reading it first, so a device backend can run this step while the
  // host still waits for the previous one's id. Needs a device backend
  // (unsupported otherwise) and a previous choice. The id is read back into
  // *dst (which must stay valid until the backend's work completes), so
  // several chained steps can be in flight at once. A repetition penalty
  // continues from the window on the device, which the previous step (with
  // the same penalty window) left with its own choice appended.
  Status eval_choose_chained(int32_t* dst, const TokenChoice& choice);
  // Forgets the last n evaluated tokens (chained steps whose ids were not
  // used): the next evaluation overwrites their cache entries.
  Status rewind(int n);
  // The id the last eval_choose chose (valid once the backend's work has
  // completed, for asynchronous backends).
  int32_t chosen() const { return chosen_; }
  // Logits after the i-th token of the last eval (all_logits), or the last token's.
  const float* logits(int i = -1) const;
  int n_logits() const { return n_logit_rows_; }
  int n_past() const { return n_past_; }
  int n_ctx() const { return kv_.n_ctx(); }
  int n_vocab() const { return model_.n_vocab(); }
  void reset() {
    n_past_ = 0;
    chain_ready_ = false;
    window_ready_ = false;
  }
  const KvCache& kv_cache() const { return kv_; }
  // Observer of the following evals' graphs (null: none); not owned.
  void set_observer(GraphObserver* observer) { observer_ = observer; }

 private:
  Session(const Model& model, Backend& backend, KvCache kv, int n_batch, MemoryTracker* tracker)
      : model_(model), backend_(backend), kv_(std::move(kv)), n_batch_(n_batch), tracker_(tracker) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 public:
  ~Session();

 private:

  const Model& model_;
  Backend& backend_;
  KvCache kv_;
  int n_batch_;
  MemoryTracker* tracker_;
  int n_past_ = 0;
  std::vector<float> logits_;
  int n_logit_rows_ = 0;
  std::vector<int32_t> ids_, pos_;
  int32_t chosen_ = -1;
  // The device buffer holding the last chosen id (0: none yet), and whether
  // the last evaluation left a valid id there.
  uint32_t token_buffer_ = 0;
  bool chain_ready_ = false;
  // The repetition penalty's window as the sample op reads and appends to
  // it (penalty_window words of window_capacity_ ids): a device buffer
  // (0: none yet) or, on a host backend, window_host_; window_ready_: the
  // last evaluation left the window there with its choice appended.
  uint32_t window_buffer_ = 0;
  int window_capacity_ = 0;
  std::vector<int32_t> window_host_;
  bool window_ready_ = false;
  GraphObserver* observer_ = nullptr;
  enum class Output { last_logits, all_logits, token };
  Status eval_impl(std::span<const int32_t> tokens, Output output, const TokenChoice* choice = nullptr,
                   bool chained = false, int32_t* token_dst = nullptr);
  // The window leaf of a step's sample op under `choice` (null: no
  // penalty): the choice's words, or for a chained step the device's, which
  // must continue from the step before (`continues`: it left them there).
  Result<Node*> penalty_window_leaf(Graph& g, const TokenChoice& choice, bool continues, bool chained);
};

}  // namespace wa
