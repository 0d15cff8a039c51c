// x86 row dots of the row-dot weight types (q4_1, q5_0, q5_1, q2_K .. q6_K,
// wa_vq2, wa_vq3; see kernels_impl.h), shared by the AVX2, AVX-512 and
// AVX512-VNNI tables: AVX2 code, which the AVX-512 files compile with EVEX
// encoding. Included inside an anonymous namespace after kernels_x86_body.h
// (h2f, load_i32).
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

// wa_vq2 / wa_vq3 (quant/vq.h): a vector of 8 is two 64-bit table loads
// (quant::vq_codebook), straight into vector lanes: the pattern's packed
// magnitudes and the sign bytes keyed by the 7 sign bits alone (the table's
// parity-0 half). maddubs needs an unsigned operand: the magnitudes are (odd,
// below 16), so the signs go onto the activations (sign_epi8; |x| <= 127
// never overflows when negated), and the pair sums stay below 2 * 15 * 127.
// The pattern's parity needs no scalar work: it is bit 7 of the packed
// entry's byte 7, which makes that byte negative, so a second sign_epi8 by
// the raw entry flips coordinate 7 exactly where the parity is 1 (the other
// bytes are positive magnitudes). madd with the block's sc + 1 makes int32;
// the super-block's integer sum is exact and its float expression is the
// reference's (quant/vq.cpp, dot_row): bit-identical.
// t[i0], t[i1], t[i2], t[i3] in the 4 lanes: broadcast loads (load ports
// only) and blends rather than insertions, which would queue on the shuffle
// port.
static __m256i gather4_u64(const uint64_t* t, uint32_t i0, uint32_t i1, uint32_t i2, uint32_t i3) {
  const auto bq = [t](uint32_t i) {
    return _mm256_castpd_si256(_mm256_broadcast_sd(reinterpret_cast<const double*>(t + i)));
  };
  const __m256i a = _mm256_blend_epi32(bq(i0), bq(i1), 0x0c), b = _mm256_blend_epi32(bq(i2), bq(i3), 0xc0);
  return _mm256_blend_epi32(a, b, 0xf0);
}

// 16 int16 lanes: the pair sums of the 32 products of 4 codes' points
// (unscaled) with xq.
template <DType T>
static __m256i vq_block_maddubs(const quant::VqCodebookView& cb, const uint32_t code[4], const int8_t* xq) {
  constexpr int K = quant::kVqIndexBits<T>;
  constexpr uint32_t imask = (1u << K) - 1;
  const __m256i e = gather4_u64(cb.packed, code[0] & imask, code[1] & imask, code[2] & imask, code[3] & imask);
  const __m256i s = gather4_u64(cb.signs, code[0] >> K, code[1] >> K, code[2] >> K, code[3] >> K);
  const __m256i sx = _mm256_sign_epi8(_mm256_sign_epi8(loadu256(xq), s), e);
  return _mm256_maddubs_epi16(_mm256_and_si256(e, _mm256_set1_epi8(0x7f)), sx);
}

template <DType T, class Block>
static float vq_row_dot_x86(const void* w, const void* x, int64_t nb) {
  const quant::VqCodebookView cb = quant::vq_codebook(T);
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      uint32_t code[4];
      int sc;
      quant::vq_block_codes<T>(&wb[b], j, code, &sc);
      const __m256i prod = vq_block_maddubs<T>(cb, code, xb[b].qs + 32 * j);
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(prod, _mm256_set1_epi16(static_cast<int16_t>(sc + 1))));
    }
    acc += 0.5f * h2f_x86(wb[b].d) * xb[b].d * static_cast<float>(hsum_epi32(isum));
  }
  return acc;
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
    case DType::wa_vq2: return vq_row_dot_x86<DType::wa_vq2, BlockWaVq2>;
    case DType::wa_vq3: return vq_row_dot_x86<DType::wa_vq3, BlockWaVq3>;
    default: return nullptr;
  }
}
