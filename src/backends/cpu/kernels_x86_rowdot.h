// x86 row dots of the row-dot weight types (q4_1, q5_0, q5_1, q2_K .. q6_K;
// see kernels_impl.h), shared by the AVX2, AVX-512 and AVX512-VNNI tables:
// AVX2 code, which the AVX-512 files compile with EVEX encoding. Included
// inside an anonymous namespace after kernels_x86_body.h (h2f, load_i32).
//
// k-quants: each 32-value chunk of a super-block is unpacked into 32 unsigned
// bytes u (the type's bit planes: shifts and masks, no tables), multiplied
// with the q8_K activations by maddubs (u <= 63, |x| <= 127: the pair sums
// fit int16), and weighted per sub-block of 16 by madd with the integer
// scales; the offset/minimum term is one madd of the per-16 scales with q8_K's
// per-16 sums. Both integer sums are exact, so each super-block's float
// expression is the reference's (quant/reference.cpp, dot_k) and the result
// is bit-identical to the scalar kernels.
//
// q4_1 / q5_0 / q5_1: the u bytes of a 32-value block (nibbles, plus bit 4
// from qh for 5 bits) times the activations, accumulated in 8 float lanes;
// the offset term per block in a scalar. Not bit-identical to the reference
// (other float order), within the tests' 1e-9 normalised error.

static float h2f_x86(f16_bits h) { return h2f(h); }

static int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

static __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// u of chunk c (elements 32c .. 32c+31) of one super-block.
template <DType T>
static __m256i k_chunk(const void* block, int c) {
  const __m256i m2 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  const int h = c / 4, p = c % 4;
  if constexpr (T == DType::q2_k) {
    const auto* b = static_cast<const BlockQ2_K*>(block);
    return _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qs + 32 * h), _mm_cvtsi32_si128(2 * p)), m2);
  } else if constexpr (T == DType::q3_k) {
    const auto* b = static_cast<const BlockQ3_K*>(block);
    const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qs + 32 * h), _mm_cvtsi32_si128(2 * p)), m2);
    // Bit c of every hmask byte; the bits a 16-bit shift brings in from the
    // neighbouring byte are masked off.
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(loadu256(b->hmask), _mm_cvtsi32_si128(c)), one);
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 2));
  } else if constexpr (T == DType::q4_k) {
    const auto* b = static_cast<const BlockQ4_K*>(block);
    return _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qs + 32 * (c / 2)), _mm_cvtsi32_si128(4 * (c & 1))), m4);
  } else if constexpr (T == DType::q5_k) {
    const auto* b = static_cast<const BlockQ5_K*>(block);
    const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qs + 32 * (c / 2)), _mm_cvtsi32_si128(4 * (c & 1))), m4);
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qh), _mm_cvtsi32_si128(c)), one);
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  } else {  // q6_k
    const auto* b = static_cast<const BlockQ6_K*>(block);
    const __m256i lo =
        _mm256_and_si256(_mm256_srl_epi16(loadu256(b->ql + 64 * h + 32 * (p & 1)), _mm_cvtsi32_si128(4 * (p >> 1))), m4);
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(loadu256(b->qh + 32 * h), _mm_cvtsi32_si128(2 * p)), m2);
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  }
}

template <DType T, class Block>
static float k_row_dot_x86(const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    quant::KScales k;
    quant::k_scales(T, &wb[b], &k, h2f_x86);
    __m256i isa = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      const __m256i u = k_chunk<T>(&wb[b], c);
      const __m256i prod = _mm256_maddubs_epi16(u, loadu256(xb[b].qs + 32 * c));
      // Lanes 0..7 hold sub-block 2c, lanes 8..15 sub-block 2c+1.
      const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(k.S[2 * c + 1]), _mm_set1_epi16(k.S[2 * c]));
      isa = _mm256_add_epi32(isa, _mm256_madd_epi16(prod, sc));
    }
    const __m256i isc = _mm256_madd_epi16(loadu256(k.C), loadu256(xb[b].bsums));
    acc += xb[b].d * (k.D * static_cast<float>(hsum_epi32(isa)) + k.Cf * static_cast<float>(hsum_epi32(isc)));
  }
  return acc;
}

// 32 bytes: byte e = 0x10 where bit e of the 32-bit qh is set.
static __m256i q5_high_bits(const uint8_t* qh) {
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(load_i32(qh)),
                                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                                             2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(0x10));
}

template <DType T, class Block>
static float block32_row_dot_x86(const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8Sum*>(x);
  const __m256i mask = _mm256_set1_epi8(0x0f), ones16 = _mm256_set1_epi16(1);
  const __m256i shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);  // low nibbles, then high (as q4_0)
  __m256 acc = _mm256_setzero_ps();
  float off = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const Block& blk = wb[b];
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs)));
    __m256i u = _mm256_and_si256(_mm256_srlv_epi32(raw, shift), mask);
    float D, M = 0.0f;
    int O = 0;
    if constexpr (T == DType::q4_1) {
      D = h2f(blk.d);
      M = h2f(blk.m);
    } else if constexpr (T == DType::q5_0) {
      u = _mm256_or_si256(u, q5_high_bits(blk.qh));
      D = h2f(blk.d);
      O = -16;
    } else {
      u = _mm256_or_si256(u, q5_high_bits(blk.qh));
      D = h2f(blk.d);
      M = h2f(blk.m);
    }
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(u, loadu256(xb[b].qs)), ones16);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(xb[b].d * D), _mm256_cvtepi32_ps(s), acc);
    off = std::fma(xb[b].d * (D * static_cast<float>(O) + M), static_cast<float>(xb[b].sum), off);
  }
  return hsum256(acc) + off;
}

[[maybe_unused]] static RowDotFn x86_row_dot(DType t) {
  switch (t) {
    case DType::q4_1: return block32_row_dot_x86<DType::q4_1, BlockQ4_1>;
    case DType::q5_0: return block32_row_dot_x86<DType::q5_0, BlockQ5_0>;
    case DType::q5_1: return block32_row_dot_x86<DType::q5_1, BlockQ5_1>;
    case DType::q2_k: return k_row_dot_x86<DType::q2_k, BlockQ2_K>;
    case DType::q3_k: return k_row_dot_x86<DType::q3_k, BlockQ3_K>;
    case DType::q4_k: return k_row_dot_x86<DType::q4_k, BlockQ4_K>;
    case DType::q5_k: return k_row_dot_x86<DType::q5_k, BlockQ5_K>;
    case DType::q6_k: return k_row_dot_x86<DType::q6_k, BlockQ6_K>;
    default: return nullptr;
  }
}
