// x86 kernel bodies, shared by kernels_avx2.cpp and kernels_avx512.cpp.
// Included inside an anonymous namespace by a file compiled with at least
// -mavx2 -mfma -mf16c, after <immintrin.h>; every function is internal to
// that file (see kernels_impl.h for why nothing here may be `inline`-shared).
//
// Kernel names follow <weights>_<op>_<tile>: e.g. int8_gemm_tile_4x8 (q4_0
// and q8_0 through its template flag) is 4 weight rows times one 8-row
// activation panel.
//
// q4_0 / q8_0 (int8 dot products):
//   m == 1: rows of W are split between threads; each thread streams its rows
//           once, 4 at a time so every activation block load serves 4 rows.
//   m > 1:  activations are quantized into 8-row interleaved panels (see
//           kernels_impl.h). A thread owns a contiguous range of W rows; it
//           unpacks 16 of them at a time, 512 k at a time, into a small
//           L1-resident buffer (nibbles -> bytes, f16 scales -> f32), then
//           runs a 4 W-rows x 8 X-rows register tile over every panel. The
//           lanes of an accumulator are the 8 X rows, so a block costs one
//           broadcast + one maddubs + one add per 4 k per W row and the
//           scale/convert/fma epilogue is shared by 8 results.

// ---------------------------------------------------------------------------
// Small helpers

static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static float h2f(uint16_t h) { return _cvtsh_ss(h); }

static int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Quantizes 32 floats to int8 (same arithmetic as the scalar reference:
// scale amax/127, round to nearest even) and returns the scale.
static float quantize_block32(const float* x, __m256i* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
  const float amax = hmax256(m);
  const float d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, id));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, id));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, id));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, id));
  // packs work per 128-bit lane; the permute restores element order.
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  *q = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  return d;
}

// ---------------------------------------------------------------------------
// matmul_prepare for q4_0 / q8_0

static void prepare_int8(const MatmulProblem& p, void* ws, int ith, int nth) {
  const int64_t nb = p.k / 32;
  auto* base = static_cast<uint8_t*>(ws);
  const __m256i ones8 = _mm256_set1_epi8(1);
  if (p.m == 1) {
    auto* qs = reinterpret_cast<int8_t*>(base);
    auto* c = reinterpret_cast<int16_t*>(base + nb * 32);
    auto* d = reinterpret_cast<float*>(base + nb * 64);
    const Range r = split_range(nb, ith, nth, 1);
    for (int64_t b = r.begin; b < r.end; ++b) {
      __m256i q;
      d[b] = quantize_block32(p.x + b * 32, &q);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * 32), q);
      const __m256i pairs = _mm256_maddubs_epi16(ones8, q);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + b * 16),
                          _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(pairs, 3)));
    }
    return;
  }
  const Range r = split_range(p.m, ith, nth, kPanelRows);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int64_t panels = (p.m + kPanelRows - 1) / kPanelRows;
  for (int64_t row0 = r.begin; row0 < r.end; row0 += kPanelRows) {
    const int64_t pi = row0 / kPanelRows;
    for (int rr = 0; rr < kPanelRows; ++rr) {
      const int64_t row = row0 + rr;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = base + panel_block_offset(pi, b, panels, nb);
        alignas(32) int8_t q8[32];
        float d = 0.0f;
        int32_t csum = 0;
        if (row < p.m) {
          __m256i q;
          d = quantize_block32(p.x + row * p.x_row_stride + b * 32, &q);
          _mm256_store_si256(reinterpret_cast<__m256i*>(q8), q);
          const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
          __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
          t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
          t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
          csum = -8 * _mm_cvtsi128_si32(t);
        } else {
          std::memset(q8, 0, sizeof q8);  // padding row: zero scale and values
        }
        for (int g = 0; g < 8; ++g) std::memcpy(blk + g * 32 + rr * 4, q8 + g * 4, 4);
        std::memcpy(blk + 256 + rr * 4, &d, 4);
        std::memcpy(blk + 288 + rr * 4, &csum, 4);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// m == 1: matvec over the row layout

// Software prefetch for the matvecs. R rows of one block each per step is R
// short interleaved streams (a 2048-wide q4_0 row is 18 cache lines), too
// short for the hardware prefetcher to lock on; the rows of a group are
// adjacent, so prefetch that region linearly, kGemvPrefetchSteps block
// steps ahead of the current position: it runs into the next group before
// this one ends.
constexpr int64_t kGemvPrefetchSteps = 64;

template <int R, size_t BlockBytes>
static void gemv_prefetch(const void* row0, int64_t b) {
  // Integer arithmetic: near the end of W the address is past the array,
  // which a prefetch tolerates but C++ pointer arithmetic does not.
  const uintptr_t p = reinterpret_cast<uintptr_t>(row0) + static_cast<uintptr_t>((b + kGemvPrefetchSteps) * static_cast<int64_t>(R * BlockBytes));
  for (size_t off = 0; off < R * BlockBytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
}

// R scales of block b of R rows, times dx: one f16 conversion for all rows.
template <int R, class Block>
static __m128 gemv_scales(const Block* const* w, int64_t b, float dx) {
  __m128i h = _mm_setzero_si128();
  if constexpr (R >= 1) h = _mm_insert_epi16(h, w[0][b].d, 0);
  if constexpr (R >= 2) h = _mm_insert_epi16(h, w[1][b].d, 1);
  if constexpr (R >= 3) h = _mm_insert_epi16(h, w[2][b].d, 2);
  if constexpr (R >= 4) h = _mm_insert_epi16(h, w[3][b].d, 3);
  return _mm_mul_ps(_mm_cvtph_ps(h), _mm_set1_ps(dx));
}

// Broadcast lane r of a 4-float vector to 8 lanes.
template <int r>
static __m256 lane8(__m128 v) {
  return _mm256_broadcastss_ps(_mm_shuffle_ps(v, v, _MM_SHUFFLE(r, r, r, r)));
}

template <int R>
static void q4_0_gemv_rows(const MatmulProblem& p, const void* ws, int64_t j0) {
  const int64_t nb = p.k / 32;
  const auto* base = static_cast<const uint8_t*>(ws);
  const auto* xq = reinterpret_cast<const int8_t*>(base);
  const auto* xc = reinterpret_cast<const int16_t*>(base + nb * 32);
  const auto* xd = reinterpret_cast<const float*>(base + nb * 64);
  const BlockQ4_0* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i ones16 = _mm256_set1_epi16(1);
  // Low nibbles (k 0..15) in the low half, high nibbles (k 16..31) in the
  // high half: one broadcast load and one variable shift, no lane insert.
  const __m256i shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xc + b * 16));
    gemv_prefetch<R, sizeof(BlockQ4_0)>(w[0], b);
    const __m128 sc = gemv_scales<R>(w, b, xd[b]);
    __m256i s[R];
    for (int r = 0; r < R; ++r) {
      const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].qs)));
      const __m256i u = _mm256_and_si256(_mm256_srlv_epi32(raw, shift), mask);
      s[r] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u, x), c), ones16);
    }
    if constexpr (R >= 1) acc[0] = _mm256_fmadd_ps(lane8<0>(sc), _mm256_cvtepi32_ps(s[0]), acc[0]);
    if constexpr (R >= 2) acc[1] = _mm256_fmadd_ps(lane8<1>(sc), _mm256_cvtepi32_ps(s[1]), acc[1]);
    if constexpr (R >= 3) acc[2] = _mm256_fmadd_ps(lane8<2>(sc), _mm256_cvtepi32_ps(s[2]), acc[2]);
    if constexpr (R >= 4) acc[3] = _mm256_fmadd_ps(lane8<3>(sc), _mm256_cvtepi32_ps(s[3]), acc[3]);
  }
  for (int r = 0; r < R; ++r) p.y[j0 + r] = hsum256(acc[r]);
}

template <int R>
static void q8_0_gemv_rows(const MatmulProblem& p, const void* ws, int64_t j0) {
  const int64_t nb = p.k / 32;
  const auto* base = static_cast<const uint8_t*>(ws);
  const auto* xq = reinterpret_cast<const int8_t*>(base);
  const auto* xd = reinterpret_cast<const float*>(base + nb * 64);
  const BlockQ8_0* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * 32));
    gemv_prefetch<R, sizeof(BlockQ8_0)>(w[0], b);
    const __m128 sc = gemv_scales<R>(w, b, xd[b]);
    __m256i s[R];
    for (int r = 0; r < R; ++r) {
      const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
      // maddubs needs an unsigned operand: |w| * (x with w's sign).
      s[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(x, wq)), ones16);
    }
    if constexpr (R >= 1) acc[0] = _mm256_fmadd_ps(lane8<0>(sc), _mm256_cvtepi32_ps(s[0]), acc[0]);
    if constexpr (R >= 2) acc[1] = _mm256_fmadd_ps(lane8<1>(sc), _mm256_cvtepi32_ps(s[1]), acc[1]);
    if constexpr (R >= 3) acc[2] = _mm256_fmadd_ps(lane8<2>(sc), _mm256_cvtepi32_ps(s[2]), acc[2]);
    if constexpr (R >= 4) acc[3] = _mm256_fmadd_ps(lane8<3>(sc), _mm256_cvtepi32_ps(s[3]), acc[3]);
  }
  for (int r = 0; r < R; ++r) p.y[j0 + r] = hsum256(acc[r]);
}

template <bool Q4>
static void int8_gemv(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const Range r = split_range(p.n, ith, nth, 4);
  int64_t j = r.begin;
  for (; j + 4 <= r.end; j += 4) Q4 ? q4_0_gemv_rows<4>(p, ws, j) : q8_0_gemv_rows<4>(p, ws, j);
  for (; j < r.end; ++j) Q4 ? q4_0_gemv_rows<1>(p, ws, j) : q8_0_gemv_rows<1>(p, ws, j);
}

// ---------------------------------------------------------------------------
// m > 1: panel GEMM

constexpr int kGroupRows = 16;                   // W rows unpacked together
constexpr int kChunkBlocks = kPanelChunkBlocks;  // k blocks (x32) unpacked together
constexpr int kTileRows = 4;     // W rows per register tile

// Unpacked weights for one group and k chunk. q4_0: `w` holds the nibbles as
// unsigned bytes 0..15. q8_0: `w` and `a` hold the low and high nibble of
// w + 128 (unsigned bytes 0..15).
struct WBuf {
  alignas(64) uint8_t w[kGroupRows][kChunkBlocks * 32];
  alignas(64) uint8_t a[kGroupRows][kChunkBlocks * 32];
  alignas(64) float d[kGroupRows][kChunkBlocks];
};

template <bool Q4>
static void unpack_group(const MatmulProblem& p, int64_t j0, int rows, int64_t b0, int nbc, WBuf* buf) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  for (int r = 0; r < kGroupRows; ++r) {
    if (r >= rows) {  // padding rows: zero scale makes their (discarded) results 0
      std::memset(buf->w[r], 0, static_cast<size_t>(nbc) * 32);
      std::memset(buf->a[r], 0, static_cast<size_t>(nbc) * 32);
      for (int b = 0; b < nbc; ++b) buf->d[r][b] = 0.0f;
      continue;
    }
    const uint8_t* row = static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride;
    for (int b = 0; b < nbc; ++b) {
      if constexpr (Q4) {
        const BlockQ4_0* blk = reinterpret_cast<const BlockQ4_0*>(row) + b0 + b;
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->qs));
        const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), mask);
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf->w[r] + b * 32), u);
        buf->d[r][b] = h2f(blk->d);
      } else {
        // w + 128 = 16 * hi + lo with both nibbles in [0, 15]: each half is
        // then a q4_0-like unsigned operand (see int8_gemm_tile_4x8).
        const BlockQ8_0* blk = reinterpret_cast<const BlockQ8_0*>(row) + b0 + b;
        const __m256i t = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs)),
                                           _mm256_set1_epi8(static_cast<char>(0x80)));
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf->w[r] + b * 32), _mm256_and_si256(t, mask));
        _mm256_store_si256(reinterpret_cast<__m256i*>(buf->a[r] + b * 32),
                           _mm256_and_si256(_mm256_srli_epi16(t, 4), mask));
        buf->d[r][b] = h2f(blk->d);
      }
    }
  }
}

// Keeps v in a register at this point: GCC otherwise reassociates the
// integer accumulation chains into trees, hoists every maddubs and spills.
#define WA_PIN(v) __asm__("" : "+x"(v))

// acc[r] lane l += sum over the chunk of W row (r0 + r) . X panel row l.
//
// q4_0: per 4 k of one W row (32 MACs: 4 k x 8 X rows) one broadcast, one
// maddubs and one 16-bit add; u in [0,15] and |x| <= 127 keep 8 steps of pair
// sums below 2^15, so the widening madd runs once per block.
// q8_0: w + 128 = 16 * hi + lo with both nibbles unsigned in [0,15], so
// w . x = 16 * (hi . x) + lo . x - 128 * sum(x): two q4_0-like streams, i.e.
// two broadcast + maddubs + add16 per 32 MACs, with the widening per block.
// The sign trick (maddubs(|w|, sign(x, w))) costs the same 6 instructions
// but needs a madd + 32-bit add every step (a pair sum reaches 2*127*127,
// no int16 headroom), i.e. one more multiply-port uop per 32 MACs. The lo
// and hi passes run one after the other so only 4 16-bit accumulators are
// live at a time (16 ymm registers; interleaving them spilled).
//
// All weight rows are addressed from one pointer with constant offsets
// (WBuf rows are kRowBytes apart) to keep general registers free.
template <bool Q4>
static void int8_gemm_tile_4x8(const WBuf& buf, int r0, const uint8_t* panel_blocks, int nbc, __m256 acc[kTileRows]) {
  constexpr size_t kRowBytes = sizeof(buf.w[0]);
  constexpr size_t kHiOffset = offsetof(WBuf, a) - offsetof(WBuf, w);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const uint8_t* wp = buf.w[r0];
  for (int b = 0; b < nbc; ++b, wp += 32) {
    const uint8_t* xb = panel_blocks + static_cast<size_t>(b) * kPanelBlockBytes;
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 288));
    // One pass of 8 k groups over the 4 rows at wp + off: 16-bit sums.
    auto pass = [&](size_t off, __m256i& s0, __m256i& s1, __m256i& s2, __m256i& s3) {
      s0 = _mm256_setzero_si256();
      s1 = s0;
      s2 = s0;
      s3 = s0;
      for (int g = 0; g < 8; ++g) {
        const __m256i xg = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + g * 32));
        const uint8_t* q = wp + off + g * 4;
        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_set1_epi32(load_i32(q)), xg));
        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_set1_epi32(load_i32(q + kRowBytes)), xg));
        s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(_mm256_set1_epi32(load_i32(q + 2 * kRowBytes)), xg));
        s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(_mm256_set1_epi32(load_i32(q + 3 * kRowBytes)), xg));
        WA_PIN(s0);
        WA_PIN(s1);
        WA_PIN(s2);
        WA_PIN(s3);
      }
    };
    __m256i s0, s1, s2, s3;
    pass(0, s0, s1, s2, s3);
    // q4_0: c = -8 * sum(x) turns u into u - 8. q8_0: the hi pass adds
    // 16 * (hi . x) - 128 * sum(x) = 16 * (hi . x + c) to lo . x.
    __m256i e0 = c, e1 = c, e2 = c, e3 = c;
    if constexpr (!Q4) {
      const __m256i sixteen = _mm256_set1_epi16(16);
      const __m256i c16 = _mm256_slli_epi32(c, 4);
      __m256i h0, h1, h2, h3;
      pass(kHiOffset, h0, h1, h2, h3);
      e0 = _mm256_add_epi32(_mm256_madd_epi16(h0, sixteen), c16);
      e1 = _mm256_add_epi32(_mm256_madd_epi16(h1, sixteen), c16);
      e2 = _mm256_add_epi32(_mm256_madd_epi16(h2, sixteen), c16);
      e3 = _mm256_add_epi32(_mm256_madd_epi16(h3, sixteen), c16);
    }
    s0 = _mm256_add_epi32(_mm256_madd_epi16(s0, ones16), e0);
    s1 = _mm256_add_epi32(_mm256_madd_epi16(s1, ones16), e1);
    s2 = _mm256_add_epi32(_mm256_madd_epi16(s2, ones16), e2);
    s3 = _mm256_add_epi32(_mm256_madd_epi16(s3, ones16), e3);
    const __m256 dx = _mm256_loadu_ps(reinterpret_cast<const float*>(xb + 256));
    a0 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(buf.d[r0][b])), _mm256_cvtepi32_ps(s0), a0);
    a1 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(buf.d[r0 + 1][b])), _mm256_cvtepi32_ps(s1), a1);
    a2 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(buf.d[r0 + 2][b])), _mm256_cvtepi32_ps(s2), a2);
    a3 = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(buf.d[r0 + 3][b])), _mm256_cvtepi32_ps(s3), a3);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

#undef WA_PIN

template <bool Q4>
static void int8_gemm(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kPanelRows - 1) / kPanelRows;
  const auto* base = static_cast<const uint8_t*>(ws);
  const Range rr = split_range(p.n, ith, nth, kGroupRows);
  static thread_local WBuf buf;
  // k chunk outermost: its slice of every X panel is contiguous and small
  // (<= 320 KiB at m=512), so it stays in L2 while all of this thread's W
  // rows stream past it. Y is revisited once per chunk: 8 bytes per 512
  // multiply-adds, negligible.
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int nbc = static_cast<int>(nb - b0 < kChunkBlocks ? nb - b0 : kChunkBlocks);
    for (int64_t j0 = rr.begin; j0 < rr.end; j0 += kGroupRows) {
      const int rows = static_cast<int>(rr.end - j0 < kGroupRows ? rr.end - j0 : kGroupRows);
      unpack_group<Q4>(p, j0, rows, b0, nbc, &buf);
      for (int64_t pi = 0; pi < panels; ++pi) {
        const uint8_t* pb = base + panel_block_offset(pi, b0, panels, nb);
        const int prow = static_cast<int>(p.m - pi * kPanelRows < kPanelRows ? p.m - pi * kPanelRows : kPanelRows);
        for (int t = 0; t < rows; t += kTileRows) {
          __m256 acc[kTileRows];
          for (int r = 0; r < kTileRows; ++r) acc[r] = _mm256_setzero_ps();
          int8_gemm_tile_4x8<Q4>(buf, t, pb, nbc, acc);
          const int tr = rows - t < kTileRows ? rows - t : kTileRows;
          for (int r = 0; r < tr; ++r) {
            alignas(32) float out[8];
            _mm256_store_ps(out, acc[r]);
            float* y = p.y + pi * kPanelRows * p.y_row_stride + j0 + t + r;
            // Chunks after the first add to Y: same order for every element,
            // whatever the thread split.
            if (b0 == 0) {
              for (int l = 0; l < prow; ++l) y[l * p.y_row_stride] = out[l];
            } else {
              for (int l = 0; l < prow; ++l) y[l * p.y_row_stride] += out[l];
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// f32 / f16 weights: FMA dot products, a tile of RW W rows x RX X rows.

template <bool F16>
static __m256 load_w8(const void* w, int64_t i) {
  if constexpr (F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  }
}

template <bool F16>
static float load_w1(const void* w, int64_t i) {
  if constexpr (F16) {
    return h2f(static_cast<const uint16_t*>(w)[i]);
  } else {
    return static_cast<const float*>(w)[i];
  }
}

template <bool F16, int RW, int RX>
static void float_tile(const MatmulProblem& p, int64_t j0, int64_t i0) {
  const void* w[RW];
  const float* x[RX];
  for (int r = 0; r < RW; ++r) w[r] = static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride;
  for (int c = 0; c < RX; ++c) x[c] = p.x + (i0 + c) * p.x_row_stride;
  __m256 acc[RW][RX];
  for (int r = 0; r < RW; ++r)
    for (int c = 0; c < RX; ++c) acc[r][c] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= p.k; t += 8) {
    __m256 xv[RX];
    for (int c = 0; c < RX; ++c) xv[c] = _mm256_loadu_ps(x[c] + t);
    for (int r = 0; r < RW; ++r) {
      const __m256 wv = load_w8<F16>(w[r], t);
      for (int c = 0; c < RX; ++c) acc[r][c] = _mm256_fmadd_ps(wv, xv[c], acc[r][c]);
    }
  }
  if (t < p.k) {  // tail: zero-padded copies, one more vector step
    alignas(32) float xt[RX][8] = {};
    alignas(32) float wt[RW][8] = {};
    for (int64_t e = t; e < p.k; ++e) {
      for (int c = 0; c < RX; ++c) xt[c][e - t] = x[c][e];
      for (int r = 0; r < RW; ++r) wt[r][e - t] = load_w1<F16>(w[r], e);
    }
    for (int r = 0; r < RW; ++r) {
      const __m256 wv = _mm256_load_ps(wt[r]);
      for (int c = 0; c < RX; ++c) acc[r][c] = _mm256_fmadd_ps(wv, _mm256_load_ps(xt[c]), acc[r][c]);
    }
  }
  for (int r = 0; r < RW; ++r)
    for (int c = 0; c < RX; ++c) p.y[(i0 + c) * p.y_row_stride + j0 + r] = hsum256(acc[r][c]);
}

template <bool F16, int RW>
static void float_rows(const MatmulProblem& p, int64_t j0, int64_t i_begin, int64_t i_end) {
  int64_t i = i_begin;
  for (; i + 3 <= i_end; i += 3) float_tile<F16, RW, 3>(p, j0, i);
  if (i_end - i == 2) float_tile<F16, RW, 2>(p, j0, i);
  if (i_end - i == 1) float_tile<F16, RW, 1>(p, j0, i);
}

template <bool F16>
static void float_gemm(const MatmulProblem& p, int ith, int nth) {
  const Range rr = split_range(p.n, ith, nth, 4);
  // X rows in blocks so a block of X stays in L2 while W rows pass over it.
  constexpr int64_t kXBlock = 48;
  for (int64_t i0 = 0; i0 < p.m; i0 += kXBlock) {
    const int64_t i1 = i0 + kXBlock < p.m ? i0 + kXBlock : p.m;
    int64_t j = rr.begin;
    for (; j + 4 <= rr.end; j += 4) float_rows<F16, 4>(p, j, i0, i1);
    for (; j < rr.end; ++j) float_rows<F16, 1>(p, j, i0, i1);
  }
}

// ---------------------------------------------------------------------------
// Entry points

static void x86_matmul_prepare(const MatmulProblem& p, void* ws, int ith, int nth) {
  if (p.wtype == DType::q4_0 || p.wtype == DType::q8_0) prepare_int8(p, ws, ith, nth);
}

static void x86_matmul_compute(const MatmulProblem& p, const void* ws, int ith, int nth) {
  switch (p.wtype) {
    case DType::q4_0:
      return p.m == 1 ? int8_gemv<true>(p, ws, ith, nth) : int8_gemm<true>(p, ws, ith, nth);
    case DType::q8_0:
      return p.m == 1 ? int8_gemv<false>(p, ws, ith, nth) : int8_gemm<false>(p, ws, ith, nth);
    case DType::f32:
      return float_gemm<false>(p, ith, nth);
    case DType::f16:
      return float_gemm<true>(p, ith, nth);
    default:
      return;
  }
}

[[maybe_unused]] static float x86_dot_f32_256(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

[[maybe_unused]] static float x86_dot_f16_f32_256(const uint16_t* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(load_w8<true>(a, i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(load_w8<true>(a, i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_w8<true>(a, i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += h2f(a[i]) * b[i];
  return s;
}

[[maybe_unused]] static void x86_axpy_f32_256(float* y, float a, const float* x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

[[maybe_unused]] static void x86_axpy_f16_f32_256(float* y, float a, const uint16_t* x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, load_w8<true>(x, i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * h2f(x[i]);
}

[[maybe_unused]] static void x86_scale_f32_256(float* y, float a, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

// ---------------------------------------------------------------- row primitives

[[maybe_unused]] static double x86_sum_squares_f32_256(const float* x, int64_t n) {
  // Squares summed in double like the reference, four lanes at a time.
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
    const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
    acc0 = _mm256_fmadd_pd(lo, lo, acc0);
    acc1 = _mm256_fmadd_pd(hi, hi, acc1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(acc0, acc1));
  double ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  return ss;
}

[[maybe_unused]] static void x86_scale_mul_f32_256(float* y, const float* x, float s, const float* w, int64_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  if (w) {
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
    }
    for (; i < n; ++i) y[i] = x[i] * s * w[i];
  } else {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), sv));
    for (; i < n; ++i) y[i] = x[i] * s;
  }
}

[[maybe_unused]] static void x86_add_f32_256(float* y, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

[[maybe_unused]] static void x86_mul_f32_256(float* y, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = a[i] * b[i];
}

// e^x for 8 floats: x = k ln2 + r with |r| <= ln2/2 (ln2 split in two parts
// so the reduction is exact enough), e^r by a degree-6 polynomial, 2^k built
// in the exponent bits. Relative error about 1e-7 (a few ulp) over the
// clamped range [-87.3, 88.7]; below it the result is the smallest normal.
static inline __m256 x86_exp_256(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.7f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

[[maybe_unused]] static void x86_swiglu_f32_256(float* y, const float* g, const float* u, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, x86_exp_256(_mm256_xor_ps(gv, sign))));
    _mm256_storeu_ps(y + i, u ? _mm256_mul_ps(s, _mm256_loadu_ps(u + i)) : s);
  }
  for (; i < n; ++i) {
    const float s = g[i] / (1.0f + std::exp(-g[i]));
    y[i] = u ? s * u[i] : s;
  }
}
