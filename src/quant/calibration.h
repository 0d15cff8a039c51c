// Calibration for quantization: runs a model on text on the CPU and measures
//  - per weight matrix, the mean square of each input column's activation
//    over the calibration tokens (the importance vector of
//    quant/weighted.h), observed at the inputs of the graph's matmuls;
//  - the KL divergence of the model's predictions from its own original ones
//    when one weight matrix is replaced by other bytes (another type), the
//    sensitivity measurement of `quantize --adaptive`;
//  - with input_moments, for a token embedding tied to the output, what its
//    per-row metric needs (tied_embedding.h): the final hidden states, the
//    predicted probabilities, the input tokens, and the lookup role's
//    sensitivity from a noise probe.
// The text is tokenized with the model's tokenizer (BOS first) and cut into
// chunks of n_ctx tokens, each evaluated from an empty context with its first
// token replaced by BOS, as `webaccel perplexity` does; every position of a
// chunk is used.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "quant/gptq.h"
#include "quant/tied_embedding.h"
#include "core/status.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace wa::quant {

struct CalibrationOptions {
  int n_ctx = 256;        // tokens per chunk (less when the text is shorter)
  int max_tokens = 512;   // tokens used at most (whole chunks)
  int n_threads = 0;      // 0: all hardware threads
  bool keep_predictions = true;  // keep the original predictions for kld_with (probe tokens * n_vocab floats)
  // Tokens (whole chunks, at least one) kld_with measures on: a probe is one
  // forward pass over them per matrix, so they are fewer than the tokens the
  // importance and moments need (H of a 1280-wide input wants more than 1280).
  int probe_tokens = 512;
  // Collect each matrix's input second moments (moments(), for quant/gptq.h)
  // and a tied embedding's statistics (tied_embedding()).
  bool input_moments = false;
};

class Calibration {
 public:
  // Loads the model, tokenizes the text and evaluates it once, collecting
  // the importance vectors and the original predictions. Errors: an
  // unreadable or empty text, fewer than 16 tokens, a model without tokenizer.
  static Result<std::unique_ptr<Calibration>> run(const std::string& model_path, const std::string& text_path,
                                                  const CalibrationOptions& options);
  ~Calibration();

  // Mean square of each input column's activation, by tensor name, for every
  // matrix the graph multiplies activations by. Each value has 1% of the
  // vector's mean added, so that a column never active in the text still
  // counts a little. A token embedding tied to the output gets the output
  // matmul's (its lookup role has no activations to weigh by: measured on
  // story-large at q2_K, adaptive 3 bits/weight KLD 0.0167 with them against
  // 0.0259 with equal weights); an untied one used only for lookups has none.
  const std::map<std::string, std::vector<float>>& importance() const { return importance_; }

  // With input_moments: by tensor name, the second moments of the matrix's
  // input columns over the calibration tokens (gptq.h: H = X^T X / tokens).
  // Matrices multiplying the same activations (Q, K, V; gate and up) share
  // one object. A token embedding tied to the output gets the output
  // matmul's, as for importance().
  const std::map<std::string, std::shared_ptr<const InputMoments>>& moments() const { return moments_; }

  // Names of the weight tensors the graph also reads by row lookups (a token
  // embedding; tied to the output, it has importance and moments too).
  const std::set<std::string>& lookup_tables() const { return lookup_tables_; }

  // With input_moments, for a token embedding tied to the output (a tensor
  // both looked up and multiplied by): its per-row statistics; null for a
  // model without one. The lookup sensitivity lambda is measured on every
  // calibration chunk: Gaussian noise of 5% of the embedding's rms added to
  // the lookup role alone, lambda = 2 KL / (sigma^2 n). On story-large's
  // calibration text 5% and 10% gave 70.5 and 73.3 per position (0.14 per
  // coordinate): second order holds there, so one noise level is enough; it
  // is measured rather than fixed because it is a property of the model.
  const std::shared_ptr<const TiedEmbeddingStats>& tied_embedding() const { return tied_; }

  // Mean over the first probe_tokens' positions (probe_chunks() chunks) of KL(original || model with tensor
  // `name` stored as `type` in `bytes`, every other tensor as in the file).
  // Needs keep_predictions.
  Result<double> kld_with(const std::string& name, DType type, const void* bytes);
  // The same with several tensors replaced at once (a whole plan).
  struct Replacement {
    std::string name;
    DType type = DType::f32;
    const void* bytes = nullptr;
    bool lookup_only = false;  // only where the graph looks its rows up (get_rows), not where it multiplies by it
    // Hot rows (formats/hot_rows.h) for the lookups of this tensor: hot_ids
    // (strictly increasing) and their rows in hot_type at hot_bytes. Empty: none.
    std::vector<int32_t> hot_ids;
    DType hot_type = DType::q8_0;
    const void* hot_bytes = nullptr;
  };
  Result<double> kld_with(const std::vector<Replacement>& replacements);

  int n_tokens() const { return n_chunks_ * n_ctx_; }
  int n_chunks() const { return n_chunks_; }
  int probe_chunks() const { return n_probe_chunks_; }
  int n_ctx() const { return n_ctx_; }

 private:
  Calibration() = default;
  Status eval_chunk(int c);
  // The tensor `name` decoded with Gaussian noise of 5% of its rms added
  // (seeded: the same every run); returns the noise's sigma.
  Result<double> noisy_table(const std::string& name, std::vector<float>* w);
  Result<std::map<const void*, Replacement>> by_tensor(const std::vector<Replacement>& replacements) const;
  // The sum over chunk k's positions of KL(base || model with `replaced`);
  // base_logprobs: the chunk's original log-probabilities [n_ctx][n_vocab].
  Result<double> kl_sum(int k, const std::map<const void*, Replacement>& replaced, const float* base_logprobs);

  std::unique_ptr<MemoryTracker> tracker_;
  LoadedModel loaded_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Session> session_;
  std::vector<int32_t> tokens_;
  int n_ctx_ = 0, n_chunks_ = 0, n_probe_chunks_ = 0, n_vocab_ = 0;
  std::vector<float> base_logprobs_;  // [n_probe_chunks * n_ctx][n_vocab], log-softmax of the original logits
  std::map<std::string, std::vector<float>> importance_;
  std::map<std::string, std::shared_ptr<const InputMoments>> moments_;
  std::set<std::string> lookup_tables_;
  std::shared_ptr<const TiedEmbeddingStats> tied_;
};

}  // namespace wa::quant
