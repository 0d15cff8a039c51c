// `webaccel quantize --adaptive`: a storage type per weight matrix, chosen
// so that the file (or the matrices' average bits per weight) fits a budget
// with the least estimated loss.
//
// 1. Candidates: every type whose blocks divide the matrix's rows — for rows
//    that fit 256-element super-blocks q2_K, q3_K, q4_K, q5_K, q6_K, q8_0,
//    f16 (with AdaptiveOptions::own_formats also webaccel's wa_vq2 and
//    wa_vq3, quant/vq.h, and for a token embedding tied to the output each
//    type up to q4_K (q4_1 for rows of 32-blocks) plus AdaptiveOptions::hot_rows hot rows in q8_0,
//    formats/hot_rows.h, their bytes counted with the matrix's); else q4_0,
//    q4_1, q5_0, q5_1, q8_0, f16. Each matrix is quantized
//    to each candidate (by AdaptiveOptions::method with a calibration text) and its
//    error measured against the original values; sizes are the bytes as
//    stored, never nominal bits.
// 2. Loss of a candidate. With a calibration text: the KL divergence of the
//    model's predictions when this matrix alone is stored in its smallest
//    candidate type is measured (one forward pass over the calibration text
//    per matrix), and the other candidates are scaled from it by their
//    error E(m, t):
//        loss(m, t) = KLD(m, smallest) * E(m, t) / E(m, smallest).
//    E is the output error sum d^T H d over the rows (quant/gptq.h; H the
//    inputs' second moments, estimated on at most 2048 rows) with --method
//    gptq, whose errors are shaped by H and so are not measured by H's
//    diagonal alone; else the importance-weighted squared error E_w (H's
//    diagonal).
//    KL divergence is, to second order, a quadratic form in the weight
//    error, and a quantizer's error is noise-like, so for one matrix it
//    scales with the noise energy E; what differs between matrices (how a
//    layer's error grows through the rest of the network, how attention V,
//    the embedding or the first and last layers matter) is what the one
//    measured KLD per matrix captures. Measuring every (matrix, type) pair
//    would cost one forward pass each, 6-7 times as many, for what the
//    ratio of errors predicts well; losses of different matrices are summed
//    (independent small perturbations). A token embedding tied to the
//    output (--method gptq) is the exception: its error is mostly its lookup
//    role's, which its output error does not scale, so the KLD of every
//    candidate is measured (a forward pass each), each quantized with the
//    per-row metric of quant/tied_embedding.h fitted without the probe's
//    chunks (steps 2 and 5 alike): fitted on them, the metric protects
//    exactly the rows the probe looks up, and the probe reads low.
//    Without calibration text there is
//    nothing to run: the loss is the relative squared error
//    sum (w - w')^2 / sum w^2, every matrix counting alike — a much cruder
//    guide, so --calib is recommended.
// 3. Plan: quant/planner.h (greedy by loss saved per byte on each matrix's
//    convex hull, then single and paired changes) under the budget.
// 5. Check (with a calibration text): the losses of step 2 are estimates,
//    summed as if independent, so the plan is measured whole: every matrix
//    quantized to its planned type, the model's KLD on the probe tokens. The
//    simplest alternative, one precision for every matrix (the largest
//    level whose assignment fits the budget), is measured the same way, and
//    the lower of the two is written (two more forward passes over the probe
//    tokens and two more quantizations of every matrix). On story-large at
//    3.4375 bits per weight the planned mix and uniform q3_K measured within
//    each other's error on held-out text (QUALITY-story-large.md): the check
//    keeps the planner from ever writing the worse of the two.
// 6. The file is written by quantize_model with the plan's types; its size
//    was predicted exactly beforehand (header and alignment padding included)
//    and is checked against the file written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "formats/convert.h"
#include "quant/calibration.h"

namespace wa {

// How calibrated matrices are quantized (`quantize --method`).
//   gptq:     error-compensating rounding (quant/gptq.h) for the k-quants,
//             importance-weighted or round-to-nearest for the others (as weighted);
//   weighted: importance-weighted (quant/weighted.h) where it measurably helps;
//   rtn:      round-to-nearest (calibration then only guides --adaptive).
enum class QuantizeMethod { gptq, weighted, rtn };
Result<QuantizeMethod> parse_quantize_method(const std::string& name);
const char* quantize_method_name(QuantizeMethod m);

// The per-matrix inputs of `method` from a calibration run (which needs
// input_moments for gptq), for the tensors of `file`.
Status calibrated_options(const quant::Calibration& calib, QuantizeMethod method, const GgufFile& file,
                          QuantizeOptions* options);

// Hot rows (formats/hot_rows.h) for a token embedding tied to the output:
// the `count` rows the calibration text looks up most (quant::
// choose_hot_rows) into options->hot_rows, and the embedding's per-row
// metric refitted with them (their rows then serve only the output role).
// Needs a calibration run with input_moments (--method gptq). Errors: no
// tied embedding, count < 1.
Status calibrated_hot_rows(const quant::Calibration& calib, int64_t count, QuantizeOptions* options);

struct AdaptiveOptions {
  // Exactly one of the two: the output file's size in bytes at most, or the
  // weight matrices' average bits per weight at most (bytes as stored * 8 /
  // weights, as `webaccel info` measures it).
  uint64_t budget_bytes = 0;
  double bits_per_weight = 0.0;
  std::string calib_path;  // calibration text; empty: none
  QuantizeMethod method = QuantizeMethod::gptq;  // with a calibration text
  quant::CalibrationOptions calib;
  // Also webaccel's own vector-quantized formats (wa_vq2, wa_vq3) as
  // candidates: lower loss at the same size (README, "Own block formats"),
  // but the file then runs only on webaccel (its CPU, wasm and WebGPU
  // backends), not in llama.cpp.
  bool own_formats = false;
  // With own_formats and a calibration text, a token embedding tied to the
  // output also gets candidates with this many hot rows in q8_0 (formats/
  // hot_rows.h; step 1); 0: none.
  int64_t hot_rows = 0;
};

struct PlannedTensor {
  std::string name;
  int64_t cols = 0, rows = 0;
  DType type = DType::f32;
  uint64_t bytes = 0;            // as stored, without alignment padding
  double rel_error = 0.0;        // sum (w - w')^2 / sum w^2 at `type`
  double weighted_rel_error = 0.0;  // the error that scales the losses (AdaptivePlan::error_measure), relative
  double loss = 0.0;             // estimated loss at `type` (AdaptivePlan::loss_measure)
  DType probe_type = DType::f32; // the type whose KLD was measured (calibrated plans)
  double probe_kld = -1.0;       // that KLD; -1 without calibration
  bool probed_every_type = false;  // every candidate's loss measured, not scaled (a tied embedding)
  int64_t hot_rows = 0;           // hot rows written beside it (their bytes in `bytes`)
  // every candidate's estimated loss, smallest type first (with hot rows: hot_losses)
  std::vector<std::pair<DType, double>> losses, hot_losses;
  double bits_per_weight() const { return rows > 0 && cols > 0 ? 8.0 * static_cast<double>(bytes) / static_cast<double>(rows * cols) : 0.0; }
};

struct AdaptivePlan {
  std::vector<PlannedTensor> tensors;
  std::string loss_measure;        // what `loss` estimates
  std::string error_measure;       // what weighted_rel_error measures
  std::string method;              // how the matrices were quantized (quantize_method_name)
  std::string budget_text;         // the budget as given, in words
  uint64_t file_bytes = 0;         // the planned file's size (checked against the file written)
  uint64_t matrix_bytes = 0;       // its weight matrices' bytes
  int64_t n_weights = 0;
  double loss = 0.0;               // the plan's total estimated loss
  // Step 5, calibrated plans only: the KLD measured on the probe tokens with
  // every matrix as written (-1 without calibration); the uniform
  // alternative in words (empty if none fits or it is the plan) and its
  // measured KLD; whether it was written instead of the planned mix.
  double measured_kld = -1.0;
  std::string alternative;
  double alternative_kld = -1.0;
  bool chose_alternative = false;
  int calib_tokens = 0, calib_chunks = 0, calib_ctx = 0, probe_chunks = 0;
  double seconds = 0.0;            // measuring, planning and writing
  double bits_per_weight() const { return n_weights ? 8.0 * static_cast<double>(matrix_bytes) / static_cast<double>(n_weights) : 0.0; }
};

// Plans and writes OUT. Errors: a budget that is neither or both of the two,
// one below what every matrix in its smallest type takes (the message gives
// the minimum), a missing or too short calibration text, and everything
// quantize_model refuses.
Status quantize_adaptive(const std::string& in, const std::string& out, const AdaptiveOptions& options,
                         ConvertReport* report, AdaptivePlan* plan);

// The plan as a Markdown report (`--plan-report`).
std::string plan_markdown(const AdaptivePlan& plan, const std::string& in, const std::string& out);

}  // namespace wa
