// GGUF-compatible block layouts. Byte-exact with llama.cpp's so files are
// interchangeable. Each block stores `QK` weights sharing one scale; the
// k-quants group 256 weights into a super-block whose sub-block scales are
// themselves small integers times one f16 scale.
//
// Element order inside a block is part of the format: every comment below says
// which bits of which byte hold element e. The golden-byte tests
// (tests/unit/test_quant_formats.cpp) pin these down.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace wa {

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK_K = 256;  // k-quant super-block

// 4-bit: w = d * (q - 8), q in [0,15]. Element j (j<16) is the low nibble of
// qs[j]; element j+16 is the high nibble of qs[j].
struct BlockQ4_0 {
  f16_bits d;
  uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 4-bit with an offset: w = d * q + m, q in [0,15]; nibbles as in q4_0.
struct BlockQ4_1 {
  f16_bits d;
  f16_bits m;
  uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// 5-bit: w = d * (q - 16), q in [0,31]. The low 4 bits are nibbles as in
// q4_0; bit 4 of element e is bit e of qh read as a little-endian uint32.
struct BlockQ5_0 {
  f16_bits d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// 5-bit with an offset: w = d * q + m, q in [0,31]; bits as in q5_0.
struct BlockQ5_1 {
  f16_bits d;
  f16_bits m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// 8-bit: w = d * q, q in [-127,127].
struct BlockQ8_0 {
  f16_bits d;
  int8_t qs[QK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// ---------------------------------------------------------------- k-quants
// Element e of a super-block lies in 128-element half h = e / 128; inside a
// half, "plane" p = (e % 128) / 32 and lane l = e % 32.

// 2-bit, 16 sub-blocks of 16: w = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4),
// s = e / 16, q in [0,3] = bits 2p..2p+1 of qs[32h + l].
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  f16_bits d;
  f16_bits dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// 3-bit, 16 sub-blocks of 16: w = d * (sc[s] - 32) * (q - 4), q in [0,7].
// The low 2 bits of q are placed as in q2_K; bit 2 of q is bit (e / 32) of
// hmask[e % 32]. The 16 six-bit values sc[s] (0..63) are packed in 12 bytes:
// the low nibble of sc[s] is the low nibble of scales[s] for s < 8 and the
// high nibble of scales[s - 8] for s >= 8; bits 4-5 of sc[s] are bits
// 2*(s/4)..2*(s/4)+1 of scales[8 + s % 4].
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  f16_bits d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// 4-bit, 8 sub-blocks of 32: w = d * sc[s] * q - dmin * mn[s], s = e / 32,
// q in [0,15] = the low (s even) or high (s odd) nibble of qs[32 * (s / 2) + l].
// Six-bit sc/mn packed in 12 bytes (see kq_scale_min in quant/reference.cpp):
// for s < 4, sc = scales[s] & 63 and mn = scales[s + 4] & 63; for s >= 4 the
// low 4 bits are the nibbles of scales[s + 4] (sc low, mn high) and the top
// 2 bits are bits 6-7 of scales[s - 4] (sc) and of scales[s] (mn).
struct BlockQ4_K {
  f16_bits d;
  f16_bits dmin;
  uint8_t scales[12];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// 5-bit, as q4_K plus bit 4 of q = bit s of qh[l].
struct BlockQ5_K {
  f16_bits d;
  f16_bits dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 6-bit, 16 sub-blocks of 16: w = d * scales[s] * (q - 32), q in [0,63].
// The low 4 bits of q are the low (p even: p = 0, 1) or high (p = 2, 3)
// nibble of ql[64h + 32 * (p & 1) + l]; bits 4-5 are bits 2p..2p+1 of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  f16_bits d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// ------------------------------------------------ webaccel's own formats
// Not GGUF types (core/dtype.h: their ids lie outside ggml's range, so
// llama.cpp and wllama refuse such a file). Vector-quantized super-blocks of
// 256: 8-weight vectors coded as points of a lattice-coset codebook, a 4-bit
// scale per 32 and an f16 scale per 256. quant/vq.h defines the codebook,
// the bit layout of every field and the quantizer.

// 2.1875 bits per weight: 32 16-bit codes.
struct BlockWaVq2 {
  uint16_t qs[QK_K / 8];
  uint8_t scales[QK_K / 64];
  f16_bits d;
};
static_assert(sizeof(BlockWaVq2) == 70);

// 3.0625 bits per weight: per block of 32, four 23-bit codes and the 4-bit
// scale in 12 bytes.
struct BlockWaVq3 {
  uint8_t qs[QK_K / 32][12];
  f16_bits d;
};
static_assert(sizeof(BlockWaVq3) == 98);

// 8-bit over a super-block: x = d * q; bsums[i] = sum of qs[16i .. 16i+15].
// GGUF's q8_K, used here (as in llama.cpp) for the activations that k-quant
// weights multiply: one f32 scale per 256 values lets a whole super-block's
// integer products be summed before one float multiply.
struct BlockQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// Not a file format: the activations that q4_1 / q5_0 / q5_1 weights
// multiply. 32 values x = d * q, q in [-127,127], with their integer sum for
// the weight's offset term (q5_0's -16, the q4_1/q5_1 minimum).
struct BlockQ8Sum {
  float d;
  int32_t sum;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8Sum) == 40);

}  // namespace wa
