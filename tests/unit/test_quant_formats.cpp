// GGUF block formats q4_1, q5_0, q5_1, q2_K .. q6_K (and q8_K, the k-quants'
// activation type): byte layout, quantize -> dequantize error bounds, and the
// reference dot products.
//
// Layout is pinned two ways: hand-built blocks whose values are worked out
// here by hand, and random bytes decoded by `spec_decode` below, a second,
// independently structured decoder that walks each block the way llama.cpp's
// dequantize loops do (pointers advancing through the planes), so a bit placed
// anywhere else than in llama.cpp's files fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/reference.h"

namespace wa {
namespace {

constexpr f16_bits kOne = 0x3c00, kTwo = 0x4000, kHalf = 0x3800, kMinusOne = 0xbc00;

std::vector<float> decode(DType t, const void* block, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  type_traits(t)->to_f32(block, y.data(), n);
  return y;
}

// ---------------------------------------------------------------- sizes, ids

TEST(QuantFormats, TraitsMatchGguf) {
  struct Row {
    DType t;
    uint32_t id;
    const char* name;
    int64_t bs;
    size_t bytes;
  };
  for (const Row& r : {Row{DType::q4_1, 3, "q4_1", 32, 20}, Row{DType::q5_0, 6, "q5_0", 32, 22},
                       Row{DType::q5_1, 7, "q5_1", 32, 24}, Row{DType::q2_k, 10, "q2_K", 256, 84},
                       Row{DType::q3_k, 11, "q3_K", 256, 110}, Row{DType::q4_k, 12, "q4_K", 256, 144},
                       Row{DType::q5_k, 13, "q5_K", 256, 176}, Row{DType::q6_k, 14, "q6_K", 256, 210},
                       Row{DType::q8_k, 15, "q8_K", 256, 292}}) {
    const TypeTraits* t = type_traits_from_id(r.id);
    ASSERT_NE(t, nullptr) << r.name;
    EXPECT_EQ(t->type, r.t);
    EXPECT_STREQ(t->name, r.name);
    EXPECT_EQ(t->block_size, r.bs) << r.name;
    EXPECT_EQ(t->block_bytes, r.bytes) << r.name;
    EXPECT_TRUE(t->quantized);
    EXPECT_NE(t->to_f32, nullptr) << r.name;
    EXPECT_NE(t->from_f32, nullptr) << r.name;
    EXPECT_EQ(dtype_from_name(r.name), r.t);
  }
  EXPECT_EQ(row_bytes(DType::q4_k, 4096), 16u * 144u);
  EXPECT_EQ(row_bytes(DType::q2_k, 512), 2u * 84u);
  EXPECT_EQ(type_traits(DType::q8_1)->to_f32, nullptr);  // still unsupported: reported, not guessed
}

// ---------------------------------------------------------------- hand-built blocks

TEST(QuantFormats, Q4_1GoldenBlock) {
  BlockQ4_1 b{};
  b.d = kTwo;
  b.m = kMinusOne;
  b.qs[0] = 0x5a;   // element 0 = low nibble 10, element 16 = high nibble 5
  b.qs[15] = 0x30;  // element 15 = 0, element 31 = 3
  const auto y = decode(DType::q4_1, &b, 32);
  EXPECT_EQ(y[0], 19.0f);
  EXPECT_EQ(y[16], 9.0f);
  EXPECT_EQ(y[15], -1.0f);
  EXPECT_EQ(y[31], 5.0f);
  EXPECT_EQ(y[1], -1.0f);
}

TEST(QuantFormats, Q5_0GoldenBlock) {
  BlockQ5_0 b{};
  b.d = kOne;
  b.qh[0] = 0x01;  // bit 0: element 0
  b.qh[2] = 0x01;  // bit 16: element 16
  b.qh[3] = 0x80;  // bit 31: element 31
  b.qs[0] = 0x21;
  b.qs[15] = 0xf0;
  const auto y = decode(DType::q5_0, &b, 32);
  EXPECT_EQ(y[0], 1.0f);     // (1 | 16) - 16
  EXPECT_EQ(y[16], 2.0f);    // (2 | 16) - 16
  EXPECT_EQ(y[15], -16.0f);  // 0 - 16
  EXPECT_EQ(y[31], 15.0f);   // (15 | 16) - 16
  EXPECT_EQ(y[1], -16.0f);
}

TEST(QuantFormats, Q5_1GoldenBlock) {
  BlockQ5_1 b{};
  b.d = kHalf;
  b.m = kOne;
  b.qh[0] = 0x20;  // bit 5: element 5
  b.qh[1] = 0x02;  // bit 9: element 9
  b.qs[5] = 0x43;  // element 5 low 3, element 21 high 4
  b.qs[9] = 0x07;
  const auto y = decode(DType::q5_1, &b, 32);
  EXPECT_EQ(y[5], 0.5f * 19 + 1);
  EXPECT_EQ(y[21], 0.5f * 4 + 1);
  EXPECT_EQ(y[9], 0.5f * 23 + 1);
  EXPECT_EQ(y[0], 1.0f);
}

TEST(QuantFormats, Q2_KGoldenBlock) {
  BlockQ2_K b{};
  b.d = kOne;
  b.dmin = kHalf;
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>((s + 1) | ((s & 3) << 4));  // scale s+1, min s&3
  b.qs[0] = 0xe4;   // 2-bit fields 0,1,2,3 -> elements 0, 32, 64, 96
  b.qs[17] = 0x0c;  // field 1 = 3 -> element 32 + 17 = 49
  b.qs[32] = 0x40;  // field 3 = 1 -> element 128 + 96 = 224
  const auto y = decode(DType::q2_k, &b, 256);
  auto want = [&](int e, int q) { const int s = e / 16; return static_cast<float>((s + 1) * q) - 0.5f * static_cast<float>(s & 3); };
  EXPECT_EQ(y[0], want(0, 0));
  EXPECT_EQ(y[32], want(32, 1));
  EXPECT_EQ(y[64], want(64, 2));
  EXPECT_EQ(y[96], want(96, 3));
  EXPECT_EQ(y[49], want(49, 3));
  EXPECT_EQ(y[224], want(224, 1));
  EXPECT_EQ(y[225], want(225, 0));
  EXPECT_EQ(y[224], 14.0f);  // sub-block 14: scale 15, min 2 -> 15*1 - 0.5*2
}

TEST(QuantFormats, Q3_KGoldenBlock) {
  BlockQ3_K b{};
  b.d = kOne;
  // Six-bit scale values v (scale = v - 32): sub-block 0 -> 33 (+1), 5 -> 30
  // (-2), 9 -> 40 (+8), 15 -> 63 (+31); all others 32 (0).
  uint8_t v[16];
  for (auto& x : v) x = 32;
  v[0] = 33;
  v[5] = 30;
  v[9] = 40;
  v[15] = 63;
  for (int s = 0; s < 16; ++s) {
    if (s < 8) b.scales[s] |= static_cast<uint8_t>(v[s] & 15);
    else b.scales[s - 8] |= static_cast<uint8_t>((v[s] & 15) << 4);
    b.scales[8 + s % 4] |= static_cast<uint8_t>((v[s] >> 4) << (2 * (s / 4)));
  }
  // Element 0: low bits 3, high bit set -> q = 7 - 4 = 3. Element 80
  // (sub-block 5, second half of plane 2: byte 16, bits 4-5): low 1, high bit
  // clear -> 1 - 4 = -3. Element 150 (sub-block 9: half 1, plane 0, lane 22):
  // low 2, high bit (bit 4 of hmask[22]) set -> 6 - 4 = 2. Element 255 (plane
  // 3 of half 1, lane 31): low 0, high clear -> -4.
  b.qs[0] = 0x03;
  b.hmask[0] = 0x01;
  b.qs[16] = 0x10;
  b.qs[32 + 22] = 0x02;
  b.hmask[22] = 0x10;
  for (int l = 0; l < 32; ++l) b.hmask[l] |= 0x40;  // bit 6: elements 192..223 have the high bit
  const auto y = decode(DType::q3_k, &b, 256);
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(y[80], -2.0f * -3.0f);
  EXPECT_EQ(y[150], 8.0f * 2.0f);
  EXPECT_EQ(y[255], 31.0f * -4.0f);
  EXPECT_EQ(y[200], 0.0f);  // scale 0
  EXPECT_EQ(y[1], 1.0f * -4.0f);
}

// q4_K / q5_K scale field: 8 six-bit scales and mins.
void put_scale_min(uint8_t q[12], const int sc[8], const int mn[8]) {
  std::memset(q, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] |= static_cast<uint8_t>(sc[j]);
      q[j + 4] |= static_cast<uint8_t>(mn[j]);
    } else {
      q[j + 4] |= static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      q[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      q[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

TEST(QuantFormats, Q4_KGoldenBlock) {
  BlockQ4_K b{};
  b.d = kOne;
  b.dmin = kTwo;
  const int sc[8] = {1, 2, 3, 63, 5, 48, 33, 17}, mn[8] = {0, 1, 0, 2, 62, 0, 3, 16};
  put_scale_min(b.scales, sc, mn);
  b.qs[0] = 0x7f;       // element 0 = 15 (sub-block 0), element 32 = 7 (sub-block 1)
  b.qs[32 + 5] = 0x90;  // element 64 + 5 = 0 (sub-block 2), element 96 + 5 = 9 (sub-block 3)
  b.qs[96 + 31] = 0xa1;  // element 192 + 31 = 1 (sub-block 6), element 224 + 31 = 10 (sub-block 7)
  b.qs[64] = 0x0c;      // element 128 = 12 (sub-block 4)
  b.qs[65] = 0x20;      // element 160 + 1 = 2 (sub-block 5)
  const auto y = decode(DType::q4_k, &b, 256);
  auto want = [&](int s, int q) { return static_cast<float>(sc[s] * q) - 2.0f * static_cast<float>(mn[s]); };
  EXPECT_EQ(y[0], want(0, 15));
  EXPECT_EQ(y[32], want(1, 7));
  EXPECT_EQ(y[69], want(2, 0));
  EXPECT_EQ(y[101], want(3, 9));
  EXPECT_EQ(y[223], want(6, 1));
  EXPECT_EQ(y[255], want(7, 10));
  EXPECT_EQ(y[128], want(4, 12));
  EXPECT_EQ(y[161], want(5, 2));
  EXPECT_EQ(y[128], 60.0f - 124.0f);
}

TEST(QuantFormats, Q5_KGoldenBlock) {
  BlockQ5_K b{};
  b.d = kHalf;
  b.dmin = kOne;
  const int sc[8] = {2, 4, 6, 8, 10, 12, 14, 63}, mn[8] = {1, 0, 0, 0, 0, 0, 0, 5};
  put_scale_min(b.scales, sc, mn);
  b.qs[3] = 0x21;       // element 3 = 1, element 35 = 2
  b.qh[3] = 0x03;       // bit 0 -> element 3 + 16, bit 1 -> element 35 + 16
  b.qs[96 + 7] = 0xf0;  // element 224 + 7 = 15
  b.qh[7] = 0x80;       // bit 7 -> element 231 + 16
  const auto y = decode(DType::q5_k, &b, 256);
  auto want = [&](int s, int q) { return 0.5f * static_cast<float>(sc[s] * q) - static_cast<float>(mn[s]); };
  EXPECT_EQ(y[3], want(0, 17));
  EXPECT_EQ(y[35], want(1, 18));
  EXPECT_EQ(y[231], want(7, 31));
  EXPECT_EQ(y[0], want(0, 0));
  EXPECT_EQ(y[231], 0.5f * 63 * 31 - 5);
}

TEST(QuantFormats, Q6_KGoldenBlock) {
  BlockQ6_K b{};
  b.d = kHalf;
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s % 2 ? -(s + 1) : s + 1);
  // Element 0: ql[0] low 5, qh[0] bits 0-1 = 2 -> 37 - 32 = 5 (sub-block 0).
  // Element 32: ql[32] low 0, qh[0] bits 2-3 = 3 -> 48 - 32 = 16 (sub-block 2).
  // Element 64: ql[0] high 15, qh[0] bits 4-5 = 0 -> 15 - 32 = -17 (sub-block 4).
  // Element 96: ql[32] high 1, qh[0] bits 6-7 = 1 -> 17 - 32 = -15 (sub-block 6).
  // Element 128 + 96 + 31 = 255: ql[64 + 32 + 31] high 15, qh[32 + 31] bits 6-7 = 3 -> 63 - 32 = 31.
  b.ql[0] = 0xf5;
  b.ql[32] = 0x10;
  b.qh[0] = 0x4e;  // 01 00 11 10
  b.ql[127] = 0xf0;
  b.qh[63] = 0xc0;
  const auto y = decode(DType::q6_k, &b, 256);
  auto scale = [&](int s) { return static_cast<float>(b.scales[s]); };
  EXPECT_EQ(y[0], 0.5f * scale(0) * 5);
  EXPECT_EQ(y[32], 0.5f * scale(2) * 16);
  EXPECT_EQ(y[64], 0.5f * scale(4) * -17);
  EXPECT_EQ(y[96], 0.5f * scale(6) * -15);
  EXPECT_EQ(y[255], 0.5f * scale(15) * 31);
  EXPECT_EQ(y[1], 0.5f * scale(0) * -32);
}

// ---------------------------------------------------------------- random bytes vs a loop-nest decoder

float h(f16_bits v) { return fp16_to_fp32(v); }

// Decodes n elements of `t` the way llama.cpp's dequantize loops walk them.
std::vector<float> spec_decode(DType t, const uint8_t* p, int64_t n) {
  std::vector<float> out;
  auto emit = [&](float v) { out.push_back(v); };
  const int64_t nb = n / block_size(t);
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* blk = p + i * type_traits(t)->block_bytes;
    switch (t) {
      case DType::q4_1: {
        BlockQ4_1 b;
        std::memcpy(&b, blk, sizeof b);
        float y[32];
        for (int j = 0; j < 16; ++j) {
          y[j] = h(b.d) * (b.qs[j] & 0xf) + h(b.m);
          y[j + 16] = h(b.d) * (b.qs[j] >> 4) + h(b.m);
        }
        for (float v : y) emit(v);
        break;
      }
      case DType::q5_0:
      case DType::q5_1: {
        f16_bits d, m = 0;
        uint8_t qh[4], qs[16];
        if (t == DType::q5_0) {
          BlockQ5_0 b;
          std::memcpy(&b, blk, sizeof b);
          d = b.d;
          std::memcpy(qh, b.qh, 4);
          std::memcpy(qs, b.qs, 16);
        } else {
          BlockQ5_1 b;
          std::memcpy(&b, blk, sizeof b);
          d = b.d;
          m = b.m;
          std::memcpy(qh, b.qh, 4);
          std::memcpy(qs, b.qs, 16);
        }
        uint32_t bits;
        std::memcpy(&bits, qh, 4);  // little-endian host
        float y[32];
        for (int j = 0; j < 16; ++j) {
          const int x0 = (qs[j] & 0xf) | static_cast<int>(((bits >> j) << 4) & 0x10);
          const int x1 = (qs[j] >> 4) | static_cast<int>((bits >> (j + 12)) & 0x10);
          if (t == DType::q5_0) {
            y[j] = h(d) * static_cast<float>(x0 - 16);
            y[j + 16] = h(d) * static_cast<float>(x1 - 16);
          } else {
            y[j] = h(d) * static_cast<float>(x0) + h(m);
            y[j + 16] = h(d) * static_cast<float>(x1) + h(m);
          }
        }
        for (float v : y) emit(v);
        break;
      }
      case DType::q2_k: {
        BlockQ2_K b;
        std::memcpy(&b, blk, sizeof b);
        const uint8_t* q = b.qs;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
          for (int shift = 0; shift < 8; shift += 2) {
            for (int part = 0; part < 2; ++part) {
              const uint8_t sc = b.scales[is++];
              for (int l = 0; l < 16; ++l)
                emit(h(b.d) * static_cast<float>((sc & 0xf) * ((q[l + 16 * part] >> shift) & 3)) -
                     h(b.dmin) * static_cast<float>(sc >> 4));
            }
          }
        }
        break;
      }
      case DType::q3_k: {
        BlockQ3_K b;
        std::memcpy(&b, blk, sizeof b);
        // Unpack the 12 bytes of scales into 16 signed values.
        int8_t sc[16];
        for (int j = 0; j < 16; ++j) {
          const int low = j < 8 ? b.scales[j] & 0xf : b.scales[j - 8] >> 4;
          const int high = (b.scales[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
          sc[j] = static_cast<int8_t>((low | (high << 4)) - 32);
        }
        const uint8_t* q = b.qs;
        uint8_t mbit = 1;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
          for (int shift = 0; shift < 8; shift += 2, mbit = static_cast<uint8_t>(mbit << 1)) {
            for (int part = 0; part < 2; ++part) {
              const float dl = h(b.d) * static_cast<float>(sc[is++]);
              for (int l = 0; l < 16; ++l) {
                const int lo = (q[l + 16 * part] >> shift) & 3;
                const int minus = (b.hmask[l + 16 * part] & mbit) ? 0 : 4;
                emit(dl * static_cast<float>(lo - minus));
              }
            }
          }
        }
        break;
      }
      case DType::q4_k:
      case DType::q5_k: {
        f16_bits d, dmin;
        const uint8_t *scales, *qs, *qh = nullptr;
        BlockQ4_K b4;
        BlockQ5_K b5;
        if (t == DType::q4_k) {
          std::memcpy(&b4, blk, sizeof b4);
          d = b4.d, dmin = b4.dmin, scales = b4.scales, qs = b4.qs;
        } else {
          std::memcpy(&b5, blk, sizeof b5);
          d = b5.d, dmin = b5.dmin, scales = b5.scales, qs = b5.qs, qh = b5.qh;
        }
        auto get = [&](int j, int* s, int* m) {
          if (j < 4) {
            *s = scales[j] & 63;
            *m = scales[j + 4] & 63;
          } else {
            *s = (scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4);
            *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
          }
        };
        int u1 = 1, u2 = 2;
        for (int j = 0; j < 4; ++j, qs += 32, u1 <<= 2, u2 <<= 2) {
          int s1, m1, s2, m2;
          get(2 * j, &s1, &m1);
          get(2 * j + 1, &s2, &m2);
          for (int l = 0; l < 32; ++l) {
            const int hi = qh && (qh[l] & u1) ? 16 : 0;
            emit(h(d) * static_cast<float>(s1 * ((qs[l] & 0xf) + hi)) - h(dmin) * static_cast<float>(m1));
          }
          for (int l = 0; l < 32; ++l) {
            const int hi = qh && (qh[l] & u2) ? 16 : 0;
            emit(h(d) * static_cast<float>(s2 * ((qs[l] >> 4) + hi)) - h(dmin) * static_cast<float>(m2));
          }
        }
        break;
      }
      case DType::q6_k: {
        BlockQ6_K b;
        std::memcpy(&b, blk, sizeof b);
        const uint8_t* ql = b.ql;
        const uint8_t* qh = b.qh;
        const int8_t* sc = b.scales;
        float y[256];
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8) {
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[128 * half + l] = h(b.d) * static_cast<float>(sc[is] * q1);
            y[128 * half + l + 32] = h(b.d) * static_cast<float>(sc[is + 2] * q2);
            y[128 * half + l + 64] = h(b.d) * static_cast<float>(sc[is + 4] * q3);
            y[128 * half + l + 96] = h(b.d) * static_cast<float>(sc[is + 6] * q4);
          }
        }
        for (float v : y) emit(v);
        break;
      }
      default:
        ADD_FAILURE() << "no spec decoder for " << dtype_name(t);
    }
  }
  return out;
}

constexpr DType kNewTypes[] = {DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k,
                               DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k};

// Offsets of the f16 fields, which random bytes must not make NaN/inf.
std::vector<size_t> half_fields(DType t) {
  switch (t) {
    case DType::q4_1: return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case DType::q5_0: return {offsetof(BlockQ5_0, d)};
    case DType::q5_1: return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case DType::q2_k: return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case DType::q3_k: return {offsetof(BlockQ3_K, d)};
    case DType::q4_k: return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case DType::q5_k: return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case DType::q6_k: return {offsetof(BlockQ6_K, d)};
    default: return {};
  }
}

TEST(QuantFormats, RandomBytesDecodeLikeLlamaCpp) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (DType t : kNewTypes) {
    const int64_t n = 4 * block_size(t);
    std::vector<uint8_t> bytes(row_bytes(t, n));
    for (int rep = 0; rep < 50; ++rep) {
      for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
      for (int64_t i = 0; i < n / block_size(t); ++i) {
        for (size_t off : half_fields(t)) {
          const f16_bits v = fp32_to_fp16(scale(rng));
          std::memcpy(bytes.data() + i * type_traits(t)->block_bytes + off, &v, 2);
        }
      }
      const std::vector<float> got = decode(t, bytes.data(), n);
      const std::vector<float> want = spec_decode(t, bytes.data(), n);
      ASSERT_EQ(got.size(), want.size());
      for (size_t e = 0; e < got.size(); ++e) {
        // The same products, possibly rounded in another order (d * (s * q)
        // here and (d * s) * q in llama.cpp): a few ulp of the largest term.
        const float tol = 4e-7f * (std::fabs(want[e]) + 64.0f * 4.0f);
        ASSERT_NEAR(got[e], want[e], tol) << dtype_name(t) << " element " << e << " rep " << rep;
      }
    }
  }
}

// ---------------------------------------------------------------- quantize -> dequantize

// Test data: Gaussian super-blocks of varying scale, some all-positive, some
// all-negative, some with an outlier, one all zero.
std::vector<float> test_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const float sigma = std::pow(10.0f, static_cast<float>(sb % 5) - 2.0f);
    for (int e = 0; e < 256; ++e) {
      float v = sigma * dist(rng);
      if (sb % 7 == 3) v = std::fabs(v) + sigma;
      if (sb % 7 == 4) v = -std::fabs(v) - 0.5f * sigma;
      if (sb % 7 == 5 && e == 77) v = 40.0f * sigma;
      if (sb % 7 == 6) v = 0.0f;
      x[static_cast<size_t>(sb * 256 + e)] = v;
    }
  }
  return x;
}

float amax_of(const float* x, int n) {
  float a = 0;
  for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

// The error bound each format's design implies (see the quantizers in
// quant/reference.cpp), per element, from the data alone. `slack` covers the
// f16 rounding of the stored scales (relative 2^-11 each).
float bound_for(DType t, const float* sb, int e) {
  const float amax_sb = amax_of(sb, 256);
  const float slack = amax_sb / 512.0f + 1e-30f;
  switch (t) {
    case DType::q4_1:
    case DType::q5_1: {  // half a step of the block's range
      const float* b = sb + e / 32 * 32;
      const float lo = *std::min_element(b, b + 32), hi = *std::max_element(b, b + 32);
      return (hi - lo) / (t == DType::q4_1 ? 15.0f : 31.0f) / 2.0f + slack;
    }
    case DType::q5_0:  // one step at the clamped end (as q4_0)
      return amax_of(sb + e / 32 * 32, 32) / 16.0f + slack;
    case DType::q2_k:
    case DType::q4_k:
    case DType::q5_k: {  // type-1: step/2 + (levels/2) d + dmin/2 (+ d/4 from the step's rounding)
      const int len = t == DType::q2_k ? 16 : 32, levels = t == DType::q2_k ? 3 : (t == DType::q4_k ? 15 : 31);
      const int smax = t == DType::q2_k ? 15 : 63;
      float max_step = 0, max_min = 0, step_e = 0;
      for (int s = 0; s < 256 / len; ++s) {
        const float* b = sb + s * len;
        const float lo = std::min(0.0f, *std::min_element(b, b + len)), hi = *std::max_element(b, b + len);
        const float step = (hi - lo) / static_cast<float>(levels);
        max_step = std::max(max_step, step);
        max_min = std::max(max_min, -lo);
        if (s == e / len) step_e = step;
      }
      const float d = max_step / static_cast<float>(smax), dmin = max_min / static_cast<float>(smax);
      return step_e / 2.0f + d / 4.0f + static_cast<float>(levels) * d / 2.0f + dmin / 2.0f + slack;
    }
    case DType::q3_k:
    case DType::q6_k: {  // type-0: amax_sub/half + (half+1)|d|, |d| = amax_sb / half / |smin|
      const int half = t == DType::q3_k ? 4 : 32, smin = t == DType::q3_k ? 32 : 128;
      const float d = amax_sb / static_cast<float>(half) / static_cast<float>(smin);
      return amax_of(sb + e / 16 * 16, 16) / static_cast<float>(half) + static_cast<float>(half + 1) * d + slack;
    }
    default:
      return 0.0f;
  }
}

TEST(QuantFormats, RoundTripWithinDesignBound) {
  const int64_t n = 256 * 70;
  const std::vector<float> x = test_data(n, 7);
  for (DType t : kNewTypes) {
    const TypeTraits* tt = type_traits(t);
    std::vector<uint8_t> q(row_bytes(t, n));
    tt->from_f32(x.data(), q.data(), n);
    std::vector<float> y(static_cast<size_t>(n));
    tt->to_f32(q.data(), y.data(), n);
    double err2 = 0, sig2 = 0, worst_ratio = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* sb = x.data() + i / 256 * 256;
      const float bound = bound_for(t, sb, static_cast<int>(i % 256));
      const float err = std::fabs(x[static_cast<size_t>(i)] - y[static_cast<size_t>(i)]);
      ASSERT_LE(err, bound) << dtype_name(t) << " element " << i << " x=" << x[static_cast<size_t>(i)];
      worst_ratio = std::max(worst_ratio, static_cast<double>(err / bound));
      err2 += static_cast<double>(err) * err;
      sig2 += static_cast<double>(x[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
    }
    // The bound is tight enough to mean something: the worst element comes close.
    EXPECT_GT(worst_ratio, 0.3) << dtype_name(t);
    // And more bits, less error: normalised error per type, printed for the record.
    std::printf("  %-5s relative rms error %.5f, worst |err|/bound %.3f\n", dtype_name(t), std::sqrt(err2 / sig2),
                worst_ratio);
  }
}

TEST(QuantFormats, ZeroBlocksStayZero) {
  for (DType t : kNewTypes) {
    std::vector<float> x(512, 0.0f), y(512, 1.0f);
    const int64_t n = std::max<int64_t>(block_size(t), 256);
    std::vector<uint8_t> q(row_bytes(t, n));
    type_traits(t)->from_f32(x.data(), q.data(), n);
    type_traits(t)->to_f32(q.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], 0.0f) << dtype_name(t);
  }
}

// More bits must mean less error on the same data.
TEST(QuantFormats, ErrorFallsWithBits) {
  const int64_t n = 256 * 32;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  auto rms = [&](DType t) {
    std::vector<uint8_t> q(row_bytes(t, n));
    type_traits(t)->from_f32(x.data(), q.data(), n);
    type_traits(t)->to_f32(q.data(), y.data(), n);
    double e = 0;
    for (int64_t i = 0; i < n; ++i) e += (x[static_cast<size_t>(i)] - y[static_cast<size_t>(i)]) * (x[static_cast<size_t>(i)] - y[static_cast<size_t>(i)]);
    return std::sqrt(e / static_cast<double>(n));
  };
  EXPECT_GT(rms(DType::q2_k), rms(DType::q3_k));
  EXPECT_GT(rms(DType::q3_k), rms(DType::q4_k));
  EXPECT_GT(rms(DType::q4_k), rms(DType::q5_k));
  EXPECT_GT(rms(DType::q5_k), rms(DType::q6_k));
  EXPECT_GT(rms(DType::q6_k), rms(DType::q8_0));
  EXPECT_GT(rms(DType::q4_1), rms(DType::q5_1));
  EXPECT_GT(rms(DType::q4_0), rms(DType::q5_0));
  EXPECT_LT(rms(DType::q4_k), 0.1);  // about 1/sqrt(12) of a 4-bit step of a unit Gaussian's range
}

// ---------------------------------------------------------------- activations and reference dots

TEST(QuantFormats, Q8_KActivationsAndSums) {
  std::vector<float> x = test_data(512, 11);
  std::vector<BlockQ8_K> q(2);
  quant::quantize_row_q8_k(x.data(), q.data(), 512);
  std::vector<float> y(512);
  quant::dequantize_row_q8_k(q.data(), y.data(), 512);
  for (int b = 0; b < 2; ++b) {
    const float amax = amax_of(x.data() + 256 * b, 256);
    for (int e = 0; e < 256; ++e) EXPECT_LE(std::fabs(x[256 * b + e] - y[256 * b + e]), amax / 127.0f / 2.0f * 1.0001f + 1e-30f);
    for (int i = 0; i < 16; ++i) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += q[b].qs[16 * i + j];
      EXPECT_EQ(q[b].bsums[i], s);
    }
  }
}

// The reference dot products equal float64 sums of the decoded weights times
// the decoded activations, up to f32 rounding.
TEST(QuantFormats, ReferenceDotsMatchDecodedValues) {
  struct Dot {
    DType t;
    float (*fn)(const void*, const void*, int64_t);
  };
  const int64_t k = 1024;
  const std::vector<float> w = test_data(k, 21), x = test_data(k, 22);
  std::vector<uint8_t> xk(static_cast<size_t>(k / 256) * sizeof(BlockQ8_K)), xs(static_cast<size_t>(k / 32) * sizeof(BlockQ8Sum));
  quant::quantize_row_q8_k(x.data(), xk.data(), k);
  quant::quantize_row_q8_sum(x.data(), xs.data(), k);
  std::vector<float> xk_val(static_cast<size_t>(k)), xs_val(static_cast<size_t>(k));
  quant::dequantize_row_q8_k(xk.data(), xk_val.data(), k);
  const auto* sb = reinterpret_cast<const BlockQ8Sum*>(xs.data());
  for (int64_t i = 0; i < k; ++i) xs_val[static_cast<size_t>(i)] = sb[i / 32].d * sb[i / 32].qs[i % 32];
  for (int b = 0; b < k / 32; ++b) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += sb[b].qs[j];
    ASSERT_EQ(sb[b].sum, s);
  }
  for (const Dot& d : {Dot{DType::q4_1, quant::dot_q4_1_q8_sum}, Dot{DType::q5_0, quant::dot_q5_0_q8_sum},
                       Dot{DType::q5_1, quant::dot_q5_1_q8_sum}, Dot{DType::q2_k, quant::dot_q2_k_q8_k},
                       Dot{DType::q3_k, quant::dot_q3_k_q8_k}, Dot{DType::q4_k, quant::dot_q4_k_q8_k},
                       Dot{DType::q5_k, quant::dot_q5_k_q8_k}, Dot{DType::q6_k, quant::dot_q6_k_q8_k}}) {
    std::vector<uint8_t> wq(row_bytes(d.t, k));
    type_traits(d.t)->from_f32(w.data(), wq.data(), k);
    std::vector<float> wv(static_cast<size_t>(k));
    type_traits(d.t)->to_f32(wq.data(), wv.data(), k);
    const bool kq = block_size(d.t) == 256;
    const std::vector<float>& xv = kq ? xk_val : xs_val;
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < k; ++i) {
      ref += static_cast<double>(wv[static_cast<size_t>(i)]) * xv[static_cast<size_t>(i)];
      mag += std::fabs(static_cast<double>(wv[static_cast<size_t>(i)]) * xv[static_cast<size_t>(i)]);
    }
    const float got = d.fn(wq.data(), kq ? static_cast<const void*>(xk.data()) : xs.data(), k / block_size(d.t));
    EXPECT_NEAR(got, ref, 1e-5 * mag) << dtype_name(d.t);
  }
}

}  // namespace
}  // namespace wa
