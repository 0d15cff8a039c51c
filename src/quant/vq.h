// webaccel's own vector-quantized weight formats (issue 6): wa_vq2 (2.1875
// bits per weight) and wa_vq3 (3.0625). Not GGUF types: llama.cpp and
// wllama cannot read a file that uses them (core/dtype.h says why the ids
// cannot collide). CPU paths: the scalar reference row dot here, SIMD
// row dots for x86 (AVX2 code, also in the AVX-512 tables) and wasm SIMD128
// (backends/cpu/kernels_{x86,wasm}_rowdot.h, bit-identical to it; speed in
// BENCHMARKS.md); and the WebGPU backend (shaders/mv4_vq.wgsl: the codebook
// as a table in a device buffer, vq_codebook_words below).
//
// The codebook (one concept, generated here from its definition; no tables
// are stored or copied): points of the lattice coset
//   C = D8 + (1/2, ..., 1/2) = { y : every y_i in Z + 1/2, sum(y) even },
// the half-integer half of the E8 lattice (E8 = D8 u C). Every coordinate of
// such a point is non-zero, and flipping the sign of one coordinate changes
// the sum by an odd number times 1, so of the 2^8 sign patterns of a point's
// magnitudes exactly half (those with the right parity of negative signs)
// lie in C: a point is (magnitude pattern, 7 free sign bits); the sign of
// coordinate 7 follows from the parity. The magnitude patterns are the
// non-negative half-integer 8-vectors a (a_i in {1/2, 3/2, ...}) in the
// order: |a|^2, then the multiset of the a_i (decreasing, lexicographic),
// then the distinct orderings of that multiset (lexicographic); the first
// 2^K whole multisets are the codebook's (K index bits; a multiset that
// would not fit whole is skipped, later smaller ones fill in; codes left over
// decode as pattern 0). So the codebook is the part of C inside a ball,
// the shaping that suits bell-shaped weights, with the granular gain of D8
// over the integer grid.
//
//   wa_vq2: K = 9  -> 16-bit codes, 2^16 points per 8 weights (2 bits each)
//   wa_vq3: K = 16 -> 23-bit codes, 2^23 points per 8 weights (2.875 bits)
//
// A weight is w = d * (sc + 1) * s_i * m_i / 2 with m_i = 2 a_i (odd, 1..),
// s_i = +-1, d the super-block's f16 scale and sc in [0, 15] the 4-bit scale
// of its block of 32 (4 vectors of 8). Block layouts (quant/blocks.h):
//   wa_vq2, 70 bytes per 256: qs[32] (uint16: bits 0-8 the magnitude
//     pattern's index, bits 9-15 the signs of coordinates 0-6, 1 = negative),
//     scales[4] (sc of block j in the low (j even) / high (j odd) nibble of
//     scales[j / 2]), d.
//   wa_vq3, 98 bytes per 256: qs[8][12]: block j of 32 as one little-endian
//     96-bit word: bits 23v .. 23v+22 the code of vector v (bits 0-15 the
//     pattern's index, 16-22 the signs of coordinates 0-6), bits 92-95 sc;
//     then d.
//
// Quantizing (one super-block of 256 at a time):
//   1. each block of 32's step h = d (sc + 1): of 14 candidates (factors
//      0.6 .. 2.5 of rms / the codebook's rms coordinate), the one whose
//      nearest-point quantization has the least squared error, weighted by
//      the columns' importance when there is one;
//   2. d = the largest h / 16 (f16); sc = the neighbour of h / d - 1 with the
//      smaller error;
//   3. each vector of 8 to its nearest codebook point, found through the
//      magnitude multisets: |y| sorted against each multiset's sorted
//      magnitudes is the best ordering (rearrangement inequality), with the
//      parity repaired by flipping the smallest product's sign; multisets
//      whose norm is too far from |y| are skipped by the bound
//      (|y| - |a|)^2. With weights (importance, or gptq's 1 / U_ii^2) the
//      best multiset's ordering is then improved by pairwise swaps.
// The error-compensating quantizer (gptq.h) fixes the scales from the
// compensated values at each super-block, rounds the super-block once on a
// copy, refits the scales to the values the columns had when they were
// rounded (the compensation moves them after the first fit), then rounds it
// for good: vector by vector, each point chosen among the nearest to the
// values before and after the compensation inside the vector (the least
// sum_i (e_i / U_ii)^2), the error of each of its 8 columns spread over the
// columns after it.
//
// Measured (story-large, wa_vq2 gptq, output error d^T H d / w^T H w of
// blk.4.ffn_down, blk.4.ffn_gate, blk.1.attn_q): Euclidean search, one point
// per vector 1.94e-2, 1.47e-2, 1.06e-2; choosing the point with the
// in-vector compensation 1.88e-2, 1.45e-2, 1.04e-2; searching in the 1 / U_ii^2
// metric 1.44e-2, 1.44e-2, 1.04e-2; refitting the scales 1.28e-2, 1.38e-2,
// 0.96e-2; step candidates up to 2.5x (from 1.5x) 1.01e-2, 1.38e-2, 0.96e-2
// (q2_K: 0.36e-2, 1.30e-2, 0.94e-2). Held-out KLD of uniform wa_vq2: 0.0450 with
// the first, 0.0373 with the second, 0.0358 with all (README).
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"

namespace wa::quant {

struct GptqFactor;

// Reference converters (core/dtype.h's trait table).
void dequantize_row_wa_vq2(const void* src, float* dst, int64_t n);
void quantize_row_wa_vq2(const float* src, void* dst, int64_t n);
void dequantize_row_wa_vq3(const void* src, float* dst, int64_t n);
void quantize_row_wa_vq3(const float* src, void* dst, int64_t n);

// The row dots with q8_K activations (nb super-blocks), exact integer sums
// per block of 32.
float dot_wa_vq2_q8_k(const void* w, const void* x, int64_t nb);
float dot_wa_vq3_q8_k(const void* w, const void* x, int64_t nb);

bool is_vq_type(DType type);

// K, the magnitude pattern's index bits (above), as a constant for kernels
// that shift by it (a variable, not a function: nothing is emitted into the
// files built with -mavx2, see backends/cpu/kernels_impl.h).
template <DType T>
inline constexpr int kVqIndexBits = T == DType::wa_vq2 ? 9 : 16;

// The codebook, for tests: code bits per vector of 8 (16, 23), the point of a
// code (2 x its coordinates: odd integers), and the nearest point to y (in
// the codebook's units; the code, the point in q).
int vq_code_bits(DType type);
void vq_point(DType type, uint32_t code, int8_t out[8]);
uint32_t vq_nearest(DType type, const float y[8], float q[8]);

// The codebook as kernels read it: 2^index_bits magnitude patterns, 8 odd
// magnitudes (bytes) each, by pattern index, and each pattern's sign parity:
// a code's coordinates 0-6 are negative where its sign bits say so, and
// coordinate 7 is negative when the number of those negatives is odd and
// parity[idx] is 0, or even and parity[idx] is 1 (vq_point is the definition).
// The tables live as long as the program.
//
// The same for SIMD kernels, so that a vector costs two table loads and no
// bit counting: packed[idx] is pattern idx's 8 magnitudes as one
// little-endian uint64 (byte i: coordinate i; every magnitude is below 16)
// with parity[idx] in bit 63, and signs[key], key = the code's 7 sign bits |
// parity[idx] << 7, is its 8 signs as int8 +1 / -1 (byte i: coordinate i,
// coordinate 7's by the parity rule above). A code's point is then
// (packed[idx] & 0x7f7f...7f) times signs[key], byte by byte.
struct VqCodebookView {
  int index_bits = 0;
  const uint8_t* magnitudes = nullptr;
  const uint8_t* parity = nullptr;
  const uint64_t* packed = nullptr;  // [2^index_bits]
  const uint64_t* signs = nullptr;   // [256]
};
VqCodebookView vq_codebook(DType type);

// The same codebook packed for GPU kernels (the WebGPU backend uploads it
// once per device; shaders/mv4_vq.wgsl decodes it): one u32 per pattern,
// 2^index_bits of them. Magnitudes are odd and at most 13 (wa_vq2: 5), so
// each is stored as (m - 1) / 2 in 3 bits: coordinate i < 4 in bits 8i ..
// 8i + 2 and coordinate i + 4 in bits 8i + 4 .. 8i + 6, which makes
//   ((word >> 4h) & 0x07070707) * 2 + 0x01010101
// the magnitudes of coordinates 4h .. 4h + 3 as 4 bytes (what dot4I8Packed
// takes, once signed); bit 3 is the pattern's parity. Lives as long as the
// program.
std::span<const uint32_t> vq_codebook_words(DType type);

// Importance-weighted (col_weights: per column, null: equal) scale fit,
// nearest points. False for a type that is not a vq type.
bool quantize_row_vq_weighted(DType type, const float* x, void* dst, int64_t n, const float* col_weights);

// The error-compensating row (gptq.h): w is the row (modified in place:
// the compensation), col_weights the scale fit's weights (null: equal).
bool quantize_row_vq_gptq(DType type, float* w, const float* col_weights, void* dst, int64_t n, const GptqFactor& f);

}  // namespace wa::quant
