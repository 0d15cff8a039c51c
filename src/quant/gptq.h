// Error-compensating rounding (the GPTQ / optimal-brain-quantization idea)
// into the GGUF k-quant formats, so the files stay readable everywhere.
//
// What it minimizes: for a weight matrix W (rows = outputs, columns =
// inputs) and calibration activations X (tokens x inputs), the output error
// ||X (W - Q)^T||^2 = sum_rows d^T H d with d a row's error and
// H = X^T X / tokens, the inputs' second-moment matrix. Round-to-nearest
// and the importance-weighted quantizers (weighted.h) only see H's diagonal;
// when inputs are correlated, an error in one column can be cancelled by
// moving the columns after it, which is what this quantizer does:
//   columns are rounded one after the other; column j's error, divided by
//   U[j][j], is spread over the not yet rounded columns k > j as
//   w[k] -= e * U[j][k], where U is the upper Cholesky factor of H^-1
//   (H^-1 = U^T U). This is the exact least-squares update of the remaining
//   columns given the rounded one (Frantar et al., "GPTQ", 2022, after
//   "Optimal Brain Surgeon"); rows are independent, so each row is one pass.
// The k-quants share scales within a super-block of 256 columns, which must
// be fixed before its columns are rounded: when the pass reaches a
// super-block, its scales (and minimums) are chosen from the current,
// already compensated values of its 256 columns, then its columns are
// rounded one by one on that grid, the compensation running into the rest of
// the block and the blocks after it. How the scales are chosen was measured
// (story-large f32, 40 held-out stories, mean KLD vs f32):
//   - type 1 (q2_K, q4_K, q5_K: a step and a minimum per sub-block): the
//     importance-weighted fit of weighted.h (weights: H's diagonal); q2_K,
//     every matrix compensated: 0.034 against 0.059 with round-to-nearest's
//     scales;
//   - type 0 (q3_K, q6_K: a signed step per sub-block): round-to-nearest's
//     choice (the largest magnitude on the grid's longer side); q3_K, every
//     matrix compensated: 0.0065 against 0.0103 with the weighted fit (and
//     0.0109 uniform round-to-nearest), whose least-squares steps also
//     make the importance-weighted q3_K worse than round-to-nearest
//     (weighted.h).
// The 32-weight GGUF blocks (q4_0, q5_0: a signed step per 32; q4_1, q5_1:
// a step and a minimum per 32) go the same way, a block's step (and
// minimum) chosen from its 32 compensated values when the pass reaches it.
// Measured on the bundled model (models/default.gguf, f16, rows of 128 and
// 384, every row length whole 32-weight blocks), calibration text storygen
// seed 5 x 12, KLD vs f16 on storygen seeds 31 and 32 x 60 (12537 scored
// tokens, ctx 128; neither the calibration nor QUALITY.md's evaluation text),
// paired per-token differences:
//   - q4_0, q5_0: round-to-nearest's step (the signed value of largest
//     magnitude at -8 / -16), as for type 0 above; q4_0 0.00248 against
//     0.00316 with the weighted fit (difference 2.3 standard errors) and
//     0.00446 today (importance-weighted); q5_0 0.00108 against 0.00124
//     with the weighted fit (0.00095 against 0.00178 with the embedding
//     compensated too) and 0.00135 round-to-nearest;
//   - q4_1, q5_1: the weighted fit, or round-to-nearest's step and minimum
//     where that has the lower weighted error on the compensated values (the
//     weighted quantizer's rule); q5_1 0.00077 against 0.00089 with the fit
//     alone (2.7 standard errors), 0.00132 with round-to-nearest's, 0.00122
//     round-to-nearest; q4_1 0.00275 (the fit alone 0.00274, round-to-
//     nearest's 0.00317) against 0.00345 round-to-nearest.
// q8_0 has none: the same pass (round-to-nearest's step, levels in
// [-127, 127]) measured 0.000046 against 0.000060 round-to-nearest, 1.3
// standard errors apart, not a measurable gain.
//
// H is damped (diagonal + 1% of its mean) so the factor exists when the
// calibration text has fewer tokens than columns or a column never moves.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace wa::quant {

// The second moment of a matrix's input columns over calibration tokens:
// h[i * n + j] = mean over tokens of x_i x_j (full, symmetric).
struct InputMoments {
  int64_t n = 0;
  int64_t tokens = 0;
  std::vector<double> h;
};

// U of the header (upper triangular, row-major n x n, float for the row
// passes) for one H; shared by every matrix with the same input (Q, K and V;
// gate and up).
struct GptqFactor {
  int64_t n = 0;
  std::vector<float> u;
  double damp = 0.0;  // what was added to H's diagonal
};

// Errors: an empty or non-finite H, or one that stays indefinite after
// raising the damping tenfold three times.
Result<std::shared_ptr<const GptqFactor>> gptq_factor(const InputMoments& moments);

// The factors of every matrix with moments (by tensor name), one
// factorization per shared InputMoments object.
Result<std::map<std::string, std::shared_ptr<const GptqFactor>>> gptq_factors(
    const std::map<std::string, std::shared_ptr<const InputMoments>>& moments);

// Whether `type` has an error-compensating quantizer: q2_K, q3_K, q4_K,
// q5_K, q6_K, q4_0, q4_1, q5_0, q5_1, and webaccel's wa_vq2 / wa_vq3
// (quant/vq.h: the same pass with 8-column vectors rounded to codebook
// points). Not q8_0 (measured above).
bool has_gptq_quantizer(DType type);

// Whether a matrix that is also a lookup table (a token embedding tied to the
// output) is compensated at `type`. H is the output matmul's input; the
// lookup role sees each element's own error, which the compensation moves
// rather than lowers. Measured (story-large, tied 32000 x 512 embedding,
// every other matrix compensated): q3_K 0.0122 with the embedding rounded to
// nearest, 0.0065 compensated; q2_K 0.0254 with it importance-weighted,
// 0.0336 compensated. So q2_K's stays importance-weighted; the others are
// compensated (q4_K..q6_K unmeasured: their finer grids move less). The own
// formats (quant/vq.h) alike: wa_vq2's stays importance-weighted (uniform
// wa_vq2, an earlier version of its quantizer: 0.0450 against 0.0493
// compensated), wa_vq3's is compensated (adaptive <= 3 bits/weight with the
// own formats: 0.0070 with it compensated, where the plan put it in wa_vq3,
// against 0.0085 importance-weighted, where the plan chose q3_K for it).
// The 32-weight types (bundled model, tied 512 x 128 embedding; the
// measurement above): q4_0's stays importance-weighted (0.00248 against
// 0.00487 compensated) and q4_1's round-to-nearest (0.00275 against
// 0.00339); q5_0's (0.00095 against 0.00108) and q5_1's (0.00077 against
// 0.00106) are compensated.
// With a per-row metric (tied_embedding.h: each row's H covers the lookup
// role too) the compensation no longer only moves the lookup role's error:
// story-large's embedding alone in q2_K measured 0.0145 compensated per row
// against 0.0198 importance-weighted, so q2_K's is compensated with one.
// wa_vq2's, q4_0's and q4_1's stay as without: uniform wa_vq2 on story-large
// 0.0343 +- 0.0048 with the embedding compensated per row against 0.0331 +-
// 0.0044 importance-weighted (top-1 94.07% against 93.28%: no gain measured);
// the bundled model (the measurement above, 4096 calibration tokens) q4_0
// 0.00314 per row against 0.00248 importance-weighted, q4_1 0.00324 against
// 0.00275 round-to-nearest. q5_0's gains (0.000789 per row, 0.000945 with
// the shared H).
bool compensate_lookup_table(DType type, bool per_row_metric = false);

// Quantizes one row of n values (a multiple of the type's block: 256, 32
// for q4_0..q5_1; f.n == n) into dst.
// col_weights: the weights of the scale fit (H's diagonal; null: all equal).
// Returns false, writing nothing, for a type without this quantizer.
bool quantize_row_gptq(DType type, const float* x, void* dst, int64_t n, const GptqFactor& f,
                       const float* col_weights);

// sum over rows of d^T H d with d = x - y per row: the mean square error of
// the outputs on the calibration inputs, summed over the rows (outputs).
// y null: all zeros (the outputs' own mean square). Rows are `stride` floats
// apart in x and y. Every `row_step`-th row is
// used (row_step >= 1) and the sum scaled to all `rows`: an estimate that
// costs cols^2 per row used.
double output_error(const float* x, const float* y, int64_t rows, int64_t cols, int64_t stride, const InputMoments& m,
                    int64_t row_step = 1);

}  // namespace wa::quant
