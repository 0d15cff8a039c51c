// A per-row error metric for a token embedding tied to the output
// (docs/TIED-EMBEDDING-QUANT.md has the measurements behind every constant).
//
// A tied embedding has two roles: its rows are looked up as the first
// layer's input (get_rows), and the final hidden states are multiplied by it
// to give the logits (the output matmul). The error-compensating quantizer
// (gptq.h) rounds each row on its own, so what a row can be given is the
// shape of its error; with one H for all rows (the output matmul's input
// moments) every row's error is shaped for the output role only, which on
// story-large carries little of the error: the lookup role carries most.
// Row v's second-order loss on the calibration text is d^T H_v d with
//   H_v = sum_t p_v(t) h_t h_t^T  +  kappa * Hbar  +  lambda * m_v * I
//  - output role: h_t the final hidden state at calibration position t and
//    p_v(t) the predicted probability of token v there (the KL's Hessian in
//    the logits, diag(p) - p p^T, without its rank-one part); a prior of
//    kappa average positions, Hbar = mean of h h^T, for what the text did
//    not show;
//  - lookup role: m_v occurrences, each seeing the row's error through the
//    whole network as an isotropic sensitivity lambda per coordinate
//    (TiedEmbeddingStats::lookup_sensitivity, measured by a noise probe);
//    m_v = max(predicted mass, input count), since a token the calibration
//    text uses as an input can be rare as a prediction (story-large's
//    `Once` after a newline: 28 inputs in the held-out text, predicted mass
//    rank 14611).
// Rows with m_v > 0.05 get their own H (its factor computed when the row is
// quantized: n^3 work, no n^2 floats kept per row); the others are
// quantized with the shared Hbar, as an untied matrix is.
// Measured on story-large held-out text (40 stories, mean KLD vs f32): the
// whole file in q3_K --method gptq 0.0122 -> 0.0088; the embedding alone in
// wa_vq3 0.0133 -> 0.0044, in q2_K 0.0198 (importance-weighted) -> 0.0145.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "quant/gptq.h"

namespace wa::quant {

// What the calibration run (calibration.h) records for a tied embedding.
struct TiedEmbeddingStats {
  std::string name;             // the tensor
  int64_t n = 0;                // its row length (the hidden size)
  int64_t n_vocab = 0;          // its rows
  int64_t n_ctx = 0;            // positions per calibration chunk
  std::vector<float> hidden;    // [positions][n]: the output matmul's input at every position
  std::vector<int32_t> tokens;  // [positions]: the input token at every position
  // [n_vocab]: (position, predicted probability) wherever it exceeds
  // kPredictedFloor: the output role's positions of each row.
  std::vector<std::vector<std::pair<int32_t, float>>> predicted;
  std::vector<double> chunk_mass;  // [chunks][n_vocab]: predicted probability summed over each chunk
  double lookup_sensitivity = 0.0;  // lambda: KL per lookup per unit squared error of one coordinate

  int64_t positions() const { return n > 0 ? static_cast<int64_t>(hidden.size()) / n : 0; }
  // Probabilities below this are not kept per position (the doc's
  // measurements used the same floor): a row's output-role H from them
  // misses at most 1e-4 of weight per position, against the prior's kappa.
  static constexpr float kPredictedFloor = 1e-4f;
};

// The rows a hot-row table (formats/hot_rows.h) should hold: the `count`
// rows looked up most often at the positions of `stats` from first_position
// on (the input tokens), ties and the rest by predicted mass, then by id;
// returned in increasing id order. Fewer when the vocabulary is smaller.
std::vector<int32_t> choose_hot_rows(const TiedEmbeddingStats& stats, int64_t count, int64_t first_position = 0);

class TiedRowMetric {
 public:
  // Chosen on the calibration text only: kappa by cross-validation on its
  // halves (statistics from stories 1-6, probe on 7-12 and the reverse; q3_K
  // embedding alone, lambda 0: shared H 0.00176 / 0.00455, kappa 1 0.00149 /
  // 0.00261, kappa 4 0.00111 / 0.00262, kappa 16 0.00205 / 0.00278, kappa 64
  // 0.00161 / 0.00293); the threshold of m_v for an own H: the rows above it
  // (764 on story-large's calibration text) are the ones the text touches.
  static constexpr double kPriorPositions = 4.0;
  static constexpr double kOwnRowThreshold = 0.05;

  // The metric from the positions of `stats` at or after first_position
  // (the adaptive planner leaves its probe's positions out, so that the probe
  // sees rows the metric was not fitted on, as held-out text does).
  // Errors: no positions left, statistics of inconsistent sizes, an Hbar
  // without a factor.
  // With `hot_ids` (sorted; formats/hot_rows.h), those rows are looked up
  // from their own high-precision copy, so the matrix's row serves only the
  // output role: its lookup term is dropped (m_v = predicted mass).
  static Result<std::shared_ptr<const TiedRowMetric>> create(std::shared_ptr<const TiedEmbeddingStats> stats,
                                                             int64_t first_position = 0,
                                                             const std::vector<int32_t>& hot_ids = {});

  // Hbar's factor: the rows without their own H are compensated with it.
  const std::shared_ptr<const GptqFactor>& shared_factor() const { return shared_; }
  bool has_own(int64_t row) const { return row >= 0 && row < static_cast<int64_t>(m_.size()) && m_[static_cast<size_t>(row)] > 0.0; }
  int64_t own_rows() const { return own_rows_; }
  double lookup_sensitivity() const { return stats_->lookup_sensitivity; }

  // Quantizes row `row` (x: n values) with its own H (gptq.h's pass, its
  // scales fitted with H's diagonal). False, writing nothing, for a row
  // without its own H, a type without that quantizer, or an H without a
  // factor: the caller then uses the shared one.
  bool quantize_row(DType type, int64_t row, const float* x, void* dst) const;

  // H_v (n x n, row-major) of a row with its own H; empty otherwise.
  std::vector<double> row_moments(int64_t row) const;

 private:
  TiedRowMetric() = default;
  std::shared_ptr<const TiedEmbeddingStats> stats_;
  int64_t first_position_ = 0;
  std::vector<double> hbar_;  // n x n, mean over the used positions
  std::vector<double> m_;     // [n_vocab]: m_v of rows with their own H, else 0
  std::vector<double> lookups_;  // [n_vocab]: the lookup role's occurrences in H_v (0 for hot rows)
  int64_t own_rows_ = 0;
  std::shared_ptr<const GptqFactor> shared_;
};

}  // namespace wa::quant
