// Importance-weighted quantizers: the same block formats as reference.h, but
// scales and minimums (and, for the k-quants, the sub-block scales) chosen to
// minimize sum_j w[j] * (x[j] - x'[j])^2, where x' is the dequantized row
// and w[j] the importance of element j. For a weight matrix, w[j] is the
// mean square of input column j's activation on calibration text
// (src/quant/calibration.h): the expected squared error of an output
// y = sum_j W[j] a[j] is then sum_j w[j] dW[j]^2 when the columns'
// activations are uncorrelated, so errors go where activations are small.
//
// How a block is fitted (per block, or per sub-block for the k-quants):
//   1. a few candidate grids (step and offset from the block's range, the
//      extreme values mapped to slightly different levels, which trades
//      clipping one outlier for finer steps elsewhere);
//   2. for each, the levels by rounding, then the step (and offset) solving
//      the weighted least-squares problem for those levels; the best
//      candidate is refined by rounding again with its fitted step;
//   3. k-quants: the super-block scale from the largest sub-block scale, and
//      each sub-block's integer scale (and minimum) tried at both neighbours
//      of its ideal value, keeping the pair with the lower weighted error.
// Finally the block is compared with the round-to-nearest quantizer's block
// under the same weighted error and the better one is kept, so the weighted
// error of a row never exceeds round-to-nearest's.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "quant/pack.h"

namespace wa::quant {

// Whether `type` has an importance-weighted quantizer: q4_0, q4_1, q5_0,
// q5_1, q2_K, q3_K, q4_K, q5_K, q6_K. (q8_0's error is already below what
// weighting could move; f16/f32 have nothing to choose.)
bool has_weighted_quantizer(DType type);

// The types `quantize --calib` (and --adaptive's candidates) use the weighted
// quantizer for: those where it measurably lowered the KL divergence against
// round-to-nearest. Measured (QUALITY-story-large.md; story-large f32, 40
// held-out stories, ctx 128): q2_K 0.0622 -> 0.0562, q4_K 0.0052 -> 0.0022;
// bundled model q4_0 (4 chunks): 0.00152 -> 0.00100. q3_K measured worse
// (0.0109 -> 0.0200, although both its plain and weighted squared errors are
// lower) and stays round-to-nearest, as do the unmeasured q4_1, q5_0, q5_1,
// q5_K and q6_K, until a measurement says otherwise. Where q3_K's loss comes
// from (story-large, 2560 calibration tokens): the weighted fit on the
// transformer layers alone, the embedding rounded to nearest, 0.0148; the
// fit's candidates without the least-squares step refit, 0.0296; and as the
// scale choice of the error-compensating quantizer (gptq.h), 0.0103 with the
// refit, 0.0069 without, 0.0065 with round-to-nearest's scales. So the
// weighted error of this symmetric 8-level format's steps is a poor guide to
// the KL divergence here; why was not isolated. gptq.h's q3_K is the
// calibrated q3_K to use.
bool weighting_helps(DType type);

// Quantizes a row of n values (a multiple of the type's block) into dst,
// minimizing the w-weighted squared error; w holds n non-negative weights.
// Blocks whose weights are all zero, or that hold a value or weight that is
// not finite, are quantized by round-to-nearest.
// Returns false, writing nothing, for a type without a weighted quantizer.
bool quantize_row_weighted(DType type, const float* x, void* dst, int64_t n, const float* w);

// The scale choice of one type-1 k-quant super-block alone (steps 1-3 above,
// without the comparison with round-to-nearest), levels included, for a
// quantizer that rounds the levels itself on these scales (quant/gptq.h).
// w: 256 finite weights, some positive. q2_K: 16 sub-blocks, levels 3,
// smax 15; q4_K/q5_K: 8, 15/31, 63.
void fit_type1_super(const float* x, const float* w, int subs, int levels, int smax, Type1Super* out);

// The scale choice of one 32-element block alone (steps 1-2 above, without
// the comparison with round-to-nearest), for a quantizer that rounds the
// levels itself on that grid (quant/gptq.h): q4_0 / q5_0 a signed step
// (*lo = 0; w = step * q, q in [-8, 7] / [-16, 15]), q4_1 / q5_1 a step and a
// minimum (w = step * u + lo, u in [0, 15] / [0, 31]). Before the f16
// rounding of the stored values. w: 32 finite weights, some positive.
// Returns false for other types.
bool fit_block32(DType type, const float* x, const float* w, float* step, float* lo);

// sum_j w[j] (x[j] - y[j])^2 (w null: all ones), in double.
double weighted_squared_error(const float* x, const float* y, const float* w, int64_t n);

}  // namespace wa::quant
