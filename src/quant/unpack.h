// Decoding the GGUF block formats into a common integer form, shared by the
// reference (quant/reference.cpp) and the SIMD kernels. Every function is
// `static`: this header is included by files compiled with -mavx2/-mavx512f
// (see backends/cpu/kernels_impl.h for why nothing may be `inline`-shared).
//
// k-quants (q2_K .. q6_K), per super-block of 256 and sub-block s = e / 16:
//   w[e] = D * (S[s] * u[e]) + Cf * C[s]        u[e] unsigned, 0 .. 2^bits-1
// so a dot product with activations x = dx * qx (q8_K) is, exactly in integers,
//   dx * (D * sum_s S[s] * (sum_{e in s} u[e] qx[e]) + Cf * sum_s C[s] * bsum[s])
// where bsum[s] is q8_K's per-16 sum of qx. The type-1 formats (q2_K, q4_K,
// q5_K) put their minimum in C with Cf = -dmin; the type-0 ones (q3_K, q6_K)
// put their zero-point offset there (C = -4 S, -32 S) with Cf = D, so u
// stays unsigned, which is what x86's maddubs needs.
//
// 32-element formats with an offset (q4_1, q5_0, q5_1):
//   w[e] = D * (u[e] + O) + M
//
// The f16 -> f32 conversion is a parameter (H2F: a callable taking f16_bits):
// the reference passes fp16_to_fp32, the x86 kernels F16C's, so no `inline`
// function of core/fp16.h is emitted from a file built with AVX enabled.
// Both are exact, so the numbers are the same.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "quant/blocks.h"

namespace wa::quant {

struct KScales {
  int16_t S[16];  // multiplier of u per sub-block of 16
  int16_t C[16];  // multiplier of the sub-block's activation sum
  float D;
  float Cf;
};

// Six-bit scale and minimum j (0..7) of the 12-byte q4_K/q5_K scale field.
[[maybe_unused]] static void kq_scale_min(int j, const uint8_t* q, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Six-bit value s (0..15, 0..63) of q3_K's 12-byte scale field.
[[maybe_unused]] static int q3k_scale(int s, const uint8_t* q) {
  const int lo = s < 8 ? (q[s] & 15) : (q[s - 8] >> 4);
  const int hi = (q[8 + s % 4] >> (2 * (s / 4))) & 3;
  return lo | (hi << 4);
}

template <class H2F>
static void k_scales_q2_k(const BlockQ2_K& b, KScales* k, H2F h2f) {
  for (int s = 0; s < 16; ++s) {
    k->S[s] = static_cast<int16_t>(b.scales[s] & 15);
    k->C[s] = static_cast<int16_t>(b.scales[s] >> 4);
  }
  k->D = h2f(b.d);
  k->Cf = -h2f(b.dmin);
}

template <class H2F>
static void k_scales_q3_k(const BlockQ3_K& b, KScales* k, H2F h2f) {
  for (int s = 0; s < 16; ++s) {
    k->S[s] = static_cast<int16_t>(q3k_scale(s, b.scales) - 32);
    k->C[s] = static_cast<int16_t>(-4 * k->S[s]);
  }
  k->D = h2f(b.d);
  k->Cf = k->D;
}

// q4_K and q5_K share the scale field.
template <class H2F>
static void k_scales_q45_k(f16_bits d, f16_bits dmin, const uint8_t* scales, KScales* k, H2F h2f) {
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    kq_scale_min(j, scales, &sc, &mn);
    k->S[2 * j] = k->S[2 * j + 1] = static_cast<int16_t>(sc);
    k->C[2 * j] = k->C[2 * j + 1] = static_cast<int16_t>(mn);
  }
  k->D = h2f(d);
  k->Cf = -h2f(dmin);
}

template <class H2F>
static void k_scales_q6_k(const BlockQ6_K& b, KScales* k, H2F h2f) {
  for (int s = 0; s < 16; ++s) {
    k->S[s] = b.scales[s];
    k->C[s] = static_cast<int16_t>(-32 * b.scales[s]);
  }
  k->D = h2f(b.d);
  k->Cf = k->D;
}

// Scales of one super-block of a k-quant type.
template <class H2F>
static void k_scales(DType t, const void* block, KScales* k, H2F h2f) {
  switch (t) {
    case DType::q2_k: return k_scales_q2_k(*static_cast<const BlockQ2_K*>(block), k, h2f);
    case DType::q3_k: return k_scales_q3_k(*static_cast<const BlockQ3_K*>(block), k, h2f);
    case DType::q4_k: {
      const auto& b = *static_cast<const BlockQ4_K*>(block);
      return k_scales_q45_k(b.d, b.dmin, b.scales, k, h2f);
    }
    case DType::q5_k: {
      const auto& b = *static_cast<const BlockQ5_K*>(block);
      return k_scales_q45_k(b.d, b.dmin, b.scales, k, h2f);
    }
    case DType::q6_k: return k_scales_q6_k(*static_cast<const BlockQ6_K*>(block), k, h2f);
    default: std::memset(k, 0, sizeof *k);
  }
}

// The 256 unsigned values u of one super-block, in element order.
[[maybe_unused]] static void k_unpack(DType t, const void* block, uint8_t u[QK_K]) {
  switch (t) {
    case DType::q2_k: {
      const auto& b = *static_cast<const BlockQ2_K*>(block);
      for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, p = (e % 128) / 32, l = e % 32;
        u[e] = static_cast<uint8_t>((b.qs[32 * h + l] >> (2 * p)) & 3);
      }
      return;
    }
    case DType::q3_k: {
      const auto& b = *static_cast<const BlockQ3_K*>(block);
      for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, p = (e % 128) / 32, l = e % 32;
        const int lo = (b.qs[32 * h + l] >> (2 * p)) & 3;
        const int hi = (b.hmask[l] >> (e / 32)) & 1;
        u[e] = static_cast<uint8_t>(lo | (hi << 2));
      }
      return;
    }
    case DType::q4_k: {
      const auto& b = *static_cast<const BlockQ4_K*>(block);
      for (int e = 0; e < QK_K; ++e) {
        const int s = e / 32, l = e % 32;
        u[e] = static_cast<uint8_t>((b.qs[32 * (s / 2) + l] >> (4 * (s & 1))) & 15);
      }
      return;
    }
    case DType::q5_k: {
      const auto& b = *static_cast<const BlockQ5_K*>(block);
      for (int e = 0; e < QK_K; ++e) {
        const int s = e / 32, l = e % 32;
        const int lo = (b.qs[32 * (s / 2) + l] >> (4 * (s & 1))) & 15;
        u[e] = static_cast<uint8_t>(lo | (((b.qh[l] >> s) & 1) << 4));
      }
      return;
    }
    case DType::q6_k: {
      const auto& b = *static_cast<const BlockQ6_K*>(block);
      for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, p = (e % 128) / 32, l = e % 32;
        const int lo = (b.ql[64 * h + 32 * (p & 1) + l] >> (4 * (p >> 1))) & 15;
        const int hi = (b.qh[32 * h + l] >> (2 * p)) & 3;
        u[e] = static_cast<uint8_t>(lo | (hi << 4));
      }
      return;
    }
    default: std::memset(u, 0, QK_K);
  }
}

struct Block32Params {
  float D;
  float M;
  int O;
};

// The little-endian uint32 at qh (q5_0 / q5_1's fifth bits; wa_vq3's codes).
[[maybe_unused]] static uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) | (static_cast<uint32_t>(qh[2]) << 16) |
         (static_cast<uint32_t>(qh[3]) << 24);
}

// One 32-element block of q4_1 / q5_0 / q5_1: its u values and parameters.
template <class H2F>
static void block32_unpack(DType t, const void* block, uint8_t u[32], Block32Params* p, H2F h2f) {
  const uint8_t* qs = nullptr;
  uint32_t h = 0;
  switch (t) {
    case DType::q4_1: {
      const auto& b = *static_cast<const BlockQ4_1*>(block);
      *p = {h2f(b.d), h2f(b.m), 0};
      qs = b.qs;
      break;
    }
    case DType::q5_0: {
      const auto& b = *static_cast<const BlockQ5_0*>(block);
      *p = {h2f(b.d), 0.0f, -16};
      qs = b.qs;
      h = load_qh(b.qh);
      break;
    }
    case DType::q5_1: {
      const auto& b = *static_cast<const BlockQ5_1*>(block);
      *p = {h2f(b.d), h2f(b.m), 0};
      qs = b.qs;
      h = load_qh(b.qh);
      break;
    }
    default:
      *p = {0.0f, 0.0f, 0};
      std::memset(u, 0, 32);
      return;
  }
  for (int j = 0; j < 16; ++j) {
    u[j] = static_cast<uint8_t>((qs[j] & 15) | (((h >> j) & 1) << 4));
    u[j + 16] = static_cast<uint8_t>((qs[j] >> 4) | (((h >> (j + 16)) & 1) << 4));
  }
}

// wa_vq2 / wa_vq3 (quant/vq.h): the 4 codes and the 4-bit scale of block j
// (values 32j .. 32j+31) of a super-block; the reference and the SIMD
// kernels read the bit layout here.
template <DType T>
static void vq_block_codes(const void* block, int j, uint32_t code[4], int* sc) {
  static_assert(T == DType::wa_vq2 || T == DType::wa_vq3);
  if constexpr (T == DType::wa_vq2) {
    const auto* b = static_cast<const BlockWaVq2*>(block);
    for (int v = 0; v < 4; ++v) code[v] = b->qs[4 * j + v];
    *sc = (b->scales[j / 2] >> (4 * (j & 1))) & 15;
  } else {
    // Code v is bits 23v .. 23v+22 of the block's little-endian 96-bit word:
    // the 32 bits from byte 23v / 8 hold it whole (the last ends in byte 11).
    const uint8_t* q = static_cast<const BlockWaVq3*>(block)->qs[j];
    constexpr uint32_t m23 = (1u << 23) - 1;
    code[0] = load_qh(q) & m23;
    code[1] = (load_qh(q + 2) >> 7) & m23;
    code[2] = (load_qh(q + 5) >> 6) & m23;
    code[3] = (load_qh(q + 8) >> 5) & m23;
    *sc = q[11] >> 4;  // bits 92-95
  }
}

}  // namespace wa::quant
