// Packing quantized values into the GGUF block layouts (quant/blocks.h),
// shared by the round-to-nearest quantizers (reference.cpp) and the
// importance-weighted ones (weighted.cpp), so that each format's bit layout
// is written in one place. A quantizer decides the scales and the levels u;
// these functions only place the bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/blocks.h"

namespace wa::quant {

// Small helpers of both quantizers' searches.
inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
// The element of largest magnitude, with its sign.
inline float signed_amax(const float* x, int n) {
  float amax = 0.0f, v = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      v = x[i];
    }
  }
  return v;
}

// A type-1 super-block (w = d * sc[s] * u - dmin * mn[s]): q2_K (16
// sub-blocks, 4-bit sc/mn), q4_K and q5_K (8 sub-blocks, 6-bit sc/mn).
struct Type1Super {
  f16_bits d, dmin;
  int sc[16], mn[16];
  uint8_t u[QK_K];
};

// A type-0 super-block of 16 sub-blocks of 16 (w = d * sc[s] * (u - half)):
// q3_K (sc in [-32, 31], half 4), q6_K (sc in [-128, 127], half 32).
struct Type0Super {
  f16_bits d;
  int sc[16];
  uint8_t u[QK_K];
};

// The round-to-nearest choice of a k-quant super-block's scales and levels
// (reference.cpp, where each one's error bound is derived); the GGUF
// round-to-nearest quantizers are these plus the packing below.
void quantize_type1_super(const float* x, int subs, int levels, int smax, Type1Super* o);
void quantize_type0_super(const float* x, int half, int smin, int smax, Type0Super* o);

// The 32 u values of a q4_1 / q5_0 / q5_1 block as nibbles plus, for 5 bits
// (qh not null), the fifth bits.
void pack_block32(const uint8_t u[32], uint8_t qs[16], uint8_t* qh);

void pack_q2_k(const Type1Super& t, BlockQ2_K* o);
void pack_q3_k(const Type0Super& t, BlockQ3_K* o);
void pack_q4_k(const Type1Super& t, BlockQ4_K* o);
void pack_q5_k(const Type1Super& t, BlockQ5_K* o);
void pack_q6_k(const Type0Super& t, BlockQ6_K* o);

}  // namespace wa::quant
