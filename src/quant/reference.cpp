#include "quant/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"

namespace wa::quant {

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const f16_bits*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<f16_bits*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
    std::memcpy(&dst[i], &bits, sizeof(float));
  }
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
      h[i] = static_cast<uint16_t>((bits >> 16) | 0x40u);  // keep NaN a NaN
    } else {
      bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
      h[i] = static_cast<uint16_t>(bits >> 16);
    }
  }
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < QK8_0; ++j) dst[b * QK8_0 + j] = d * static_cast<float>(blocks[b].qs[j]);
  }
}

// Symmetric: the largest magnitude maps to +-127.
void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float* x = src + b * QK8_0;
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) blocks[b].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
  }
}

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const float d = fp16_to_fp32(blocks[b].d);
    float* y = dst + b * QK4_0;
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((blocks[b].qs[j] & 0x0f) - 8);
      y[j + QK4_0 / 2] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

// The signed value of largest magnitude maps to -8, so the 16 levels are used
// asymmetrically in the direction that matters for this block.
void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const float* x = src + b * QK4_0;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + QK4_0 / 2] * id + 8.5f));
      blocks[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

}  // namespace wa::quant
