// GGUF-compatible block layouts. Byte-exact with llama.cpp's so files are
// interchangeable. Each block stores `QK` weights sharing one scale.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace wa {

constexpr int QK4_0 = 32;
constexpr int QK8_0 = 32;

// 4-bit: w = d * (q - 8), q in [0,15]. Element j (j<16) is the low nibble of
// qs[j]; element j+16 is the high nibble of qs[j].
struct BlockQ4_0 {
  f16_bits d;
  uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 8-bit: w = d * q, q in [-127,127].
struct BlockQ8_0 {
  f16_bits d;
  int8_t qs[QK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

}  // namespace wa
