// WebAssembly SIMD128 row dots of the row-dot weight types (q4_1, q5_0,
// q5_1, q2_K .. q6_K, wa_vq2, wa_vq3; see kernels_impl.h). Included by
// kernels_wasm_simd128.cpp inside its anonymous namespace (hsum, WA_UNROLL).
//
// The weights' unsigned values u are unpacked 8 at a time straight into
// 16-bit lanes (v128.load8x8_u, then the type's shifts and masks: no byte
// shifts, which SIMD128 lacks, and no bits leak in from neighbouring bytes)
// and multiplied with the 8-bit activations by i32x4.dot_i16x8, the only
// integer multiply-add SIMD128 has.
//
// k-quants: u times the sub-block's integer scale S stays within int16
// (|S u| <= 128 * 63: q6_K), so one dot per 8 values accumulates
// sum_s S[s] * sum(u qx) over the whole super-block (|sum| <= 256 * 8064 *
// 127 < 2^31); the offset/minimum term is two dots of the per-16 C with
// q8_K's per-16 sums. Both sums are exact integers and the float expression
// per super-block is the reference's (quant/reference.cpp, dot_k), so the
// results are bit-identical to the scalar kernels.
//
// q4_1 / q5_0 / q5_1: each block's integer sum is exact; the two float terms
// per block are the reference's without its fma (SIMD128 has none and a
// library fma per block would cost more than the block), so results differ
// from the reference by float rounding only (tests: 1e-9 normalised).
//
// Relaxed SIMD (WA_WASM_RELAXED): every u here is in [0, 63], which
// i16x8.relaxed_dot_i8x16_i7x16_s takes as its second operand, so u stays in
// bytes (16 per vector, the same shifts and masks on 16-bit lanes, the masks
// keeping each byte's own bits) and the activations need no widening: one
// dot per 16 products (pair sums <= 2 * 127 * 63), then for the k-quants
// i32x4.dot_i16x8 with the sub-block scale S (sum of 4 products times S).
// The integer sums are the same, so the results are the SIMD128 kernels'.

// The masks of the unpacking, made once per row (see opaque()).
struct UnpackConsts {
  v128_t m2 = opaque(wasm_i16x8_splat(3)), m4 = opaque(wasm_i16x8_splat(15)), one = opaque(wasm_i16x8_splat(1));
#if defined(WA_WASM_RELAXED)
  // The same masks per byte.
  v128_t b3 = opaque(wasm_i8x16_splat(3)), b15 = opaque(wasm_i8x16_splat(15)), b1 = opaque(wasm_i8x16_splat(1));
#endif
};

#if !defined(WA_WASM_RELAXED)
// 8 bytes at p widened to u16 lanes.
v128_t u8x8(const uint8_t* p) { return wasm_u16x8_load8x8(p); }
#endif

// u of W elements 32c + W i .. 32c + W i + W - 1 of one super-block (the bit
// positions of quant/blocks.h; quant/unpack.h's k_unpack is the scalar
// statement of the same): W = 8 in u16 lanes (SIMD128), W = 16 as bytes
// (relaxed SIMD: the same 16-bit shifts, each field masked to its byte's
// own bits).
template <DType T, int C, int I, int W>
v128_t k_u(const void* block, const UnpackConsts& uc) {
  static_assert(W == 8 || W == 16);
  constexpr int h = C / 4, p = C % 4;
  const auto load = [](const uint8_t* q) {
    if constexpr (W == 8) {
      return wasm_u16x8_load8x8(q);
    } else {
      return wasm_v128_load(q);
    }
  };
#if defined(WA_WASM_RELAXED)
  const v128_t m2 = W == 8 ? uc.m2 : uc.b3, m4 = W == 8 ? uc.m4 : uc.b15, one = W == 8 ? uc.one : uc.b1;
#else
  static_assert(W == 8, "byte-lane masks exist in the relaxed build only");
  const v128_t m2 = uc.m2, m4 = uc.m4, one = uc.one;
#endif
  if constexpr (T == DType::q2_k) {
    const auto* b = static_cast<const BlockQ2_K*>(block);
    return wasm_v128_and(wasm_u16x8_shr(load(b->qs + 32 * h + W * I), 2 * p), m2);
  } else if constexpr (T == DType::q3_k) {
    const auto* b = static_cast<const BlockQ3_K*>(block);
    const v128_t lo = wasm_v128_and(wasm_u16x8_shr(load(b->qs + 32 * h + W * I), 2 * p), m2);
    const v128_t hi = wasm_v128_and(wasm_u16x8_shr(load(b->hmask + W * I), C), one);
    return wasm_v128_or(lo, wasm_i16x8_shl(hi, 2));
  } else if constexpr (T == DType::q4_k) {
    const auto* b = static_cast<const BlockQ4_K*>(block);
    return wasm_v128_and(wasm_u16x8_shr(load(b->qs + 32 * (C / 2) + W * I), 4 * (C & 1)), m4);
  } else if constexpr (T == DType::q5_k) {
    const auto* b = static_cast<const BlockQ5_K*>(block);
    const v128_t lo = wasm_v128_and(wasm_u16x8_shr(load(b->qs + 32 * (C / 2) + W * I), 4 * (C & 1)), m4);
    const v128_t hi = wasm_v128_and(wasm_u16x8_shr(load(b->qh + W * I), C), one);
    return wasm_v128_or(lo, wasm_i16x8_shl(hi, 4));
  } else {  // q6_k
    const auto* b = static_cast<const BlockQ6_K*>(block);
    const v128_t lo = wasm_v128_and(wasm_u16x8_shr(load(b->ql + 64 * h + 32 * (p & 1) + W * I), 4 * (p >> 1)), m4);
    const v128_t hi = wasm_v128_and(wasm_u16x8_shr(load(b->qh + 32 * h + W * I), 2 * p), m2);
    return wasm_v128_or(lo, wasm_i16x8_shl(hi, 4));
  }
}

// sum over chunk C (sub-blocks 2C, 2C+1) of S[s] * u * qx, in 4 lanes.
#if defined(WA_WASM_RELAXED)
template <DType T, int C>
v128_t k_chunk_dot(const void* block, const quant::KScales& k, const int8_t* xq, const UnpackConsts& uc) {
  const int8_t* x = xq + 32 * C;
  const v128_t p0 = relaxed_dot_i8x16_i7x16(wasm_v128_load(x), k_u<T, C, 0, 16>(block, uc));
  const v128_t p1 = relaxed_dot_i8x16_i7x16(wasm_v128_load(x + 16), k_u<T, C, 1, 16>(block, uc));
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(p0, wasm_i16x8_splat(k.S[2 * C])),
                        wasm_i32x4_dot_i16x8(p1, wasm_i16x8_splat(k.S[2 * C + 1])));
}
#else
// sum over chunk C (sub-blocks 2C, 2C+1) of S[s] * u * qx, in 4 lanes.
template <DType T, int C>
v128_t k_chunk_dot(const void* block, const quant::KScales& k, const int8_t* xq, const UnpackConsts& uc) {
  v128_t s = wasm_i32x4_splat(0);
  WA_UNROLL
  for (int half = 0; half < 2; ++half) {
    const v128_t sc = wasm_i16x8_splat(k.S[2 * C + half]);
    const v128_t u0 = half == 0 ? k_u<T, C, 0, 8>(block, uc) : k_u<T, C, 2, 8>(block, uc);
    const v128_t u1 = half == 0 ? k_u<T, C, 1, 8>(block, uc) : k_u<T, C, 3, 8>(block, uc);
    const int8_t* x = xq + 32 * C + 16 * half;
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(wasm_i16x8_mul(u0, sc), wasm_i16x8_load8x8(x)));
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(wasm_i16x8_mul(u1, sc), wasm_i16x8_load8x8(x + 8)));
  }
  return s;
}
#endif

int32_t hsum_i32x4(v128_t v) {
  v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_i32x4_extract_lane(v, 0);
}

template <DType T, class Block>
float k_row_dot_wasm(const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  const UnpackConsts uc;
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    quant::KScales k;
    quant::k_scales(T, &wb[b], &k, fp16_to_fp32);
    const int8_t* xq = xb[b].qs;
    const v128_t s01 = wasm_i32x4_add(k_chunk_dot<T, 0>(&wb[b], k, xq, uc), k_chunk_dot<T, 1>(&wb[b], k, xq, uc));
    const v128_t s23 = wasm_i32x4_add(k_chunk_dot<T, 2>(&wb[b], k, xq, uc), k_chunk_dot<T, 3>(&wb[b], k, xq, uc));
    const v128_t s45 = wasm_i32x4_add(k_chunk_dot<T, 4>(&wb[b], k, xq, uc), k_chunk_dot<T, 5>(&wb[b], k, xq, uc));
    const v128_t s67 = wasm_i32x4_add(k_chunk_dot<T, 6>(&wb[b], k, xq, uc), k_chunk_dot<T, 7>(&wb[b], k, xq, uc));
    const int32_t isa = hsum_i32x4(wasm_i32x4_add(wasm_i32x4_add(s01, s23), wasm_i32x4_add(s45, s67)));
    // |C| <= 4096 (q6_K: -32 S), |bsum| <= 16 * 127: the pair sums fit.
    const v128_t c = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(k.C), wasm_v128_load(xb[b].bsums)),
                                    wasm_i32x4_dot_i16x8(wasm_v128_load(k.C + 8), wasm_v128_load(xb[b].bsums + 8)));
    const int32_t isc = hsum_i32x4(c);
    acc += xb[b].d * (k.D * static_cast<float>(isa) + k.Cf * static_cast<float>(isc));
  }
  return acc;
}

// 8 lanes: 0x10 where bit 8 * G + lane of qh is set (q5_0 / q5_1's fifth bit).
// bits: lane j = 1 << j; x10: 0x10 in every lane (made once per row, opaque()).
template <int G>
v128_t q5_high8(uint32_t qh, v128_t bits, v128_t x10) {
  const v128_t hb = wasm_i16x8_splat(static_cast<int16_t>((qh >> (8 * G)) & 0xff));
  return wasm_v128_and(wasm_i16x8_eq(wasm_v128_and(hb, bits), bits), x10);
}

template <DType T, class Block>
float block32_row_dot_wasm(const void* w, const void* x, int64_t nb) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8Sum*>(x);
  const v128_t m4 = opaque(wasm_i16x8_splat(15));
  const v128_t bits = opaque(wasm_i16x8_make(1, 2, 4, 8, 16, 32, 64, 128)), x10 = opaque(wasm_i16x8_splat(0x10));
#if defined(WA_WASM_RELAXED)
  const v128_t b15 = opaque(wasm_i8x16_splat(15)), x10b = opaque(wasm_i8x16_splat(0x10));
  const v128_t bits8 = opaque(wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128));
  (void)m4;
  (void)bits;
  (void)x10;
#endif
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const Block& blk = wb[b];
    // w = D (u + O) + M: q4_1 / q5_1's scale and minimum, q5_0's offset of -16.
    const float D = fp16_to_fp32(blk.d);
    float M = 0.0f;
    int O = 0;
    if constexpr (T == DType::q5_0) {
      O = -16;
    } else {
      M = fp16_to_fp32(blk.m);
    }
#if defined(WA_WASM_RELAXED)
    // Bytes: u of elements 0..15 (low nibbles) and 16..31 (high nibbles).
    const v128_t q = wasm_v128_load(blk.qs);
    v128_t ub[2] = {wasm_v128_and(q, b15), wasm_v128_and(wasm_u16x8_shr(q, 4), b15)};
    if constexpr (T != DType::q4_1) {
      // The fifth bits: 0x10 in byte lane t where bit t (resp. 16 + t) of qh is set.
      const uint32_t qh = quant::load_qh(blk.qh);
      const v128_t hb = wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
      const v128_t lo = wasm_i8x16_swizzle(wasm_i32x4_splat(static_cast<int32_t>(qh)), hb);
      const v128_t hi = wasm_i8x16_swizzle(wasm_i32x4_splat(static_cast<int32_t>(qh >> 16)), hb);
      ub[0] = wasm_v128_or(ub[0], wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(lo, bits8), bits8), x10b));
      ub[1] = wasm_v128_or(ub[1], wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hi, bits8), bits8), x10b));
    }
    const int8_t* xq = xb[b].qs;
    // Pair sums <= 2 * 127 * 31 each; two of them still fit 16 bits.
    const v128_t s = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(relaxed_dot_i8x16_i7x16(wasm_v128_load(xq), ub[0]),
                                                                     relaxed_dot_i8x16_i7x16(wasm_v128_load(xq + 16), ub[1])));
#else
    // Byte t: element t (low nibble) and t + 16 (high nibble).
    const v128_t q0 = u8x8(blk.qs), q1 = u8x8(blk.qs + 8);
    v128_t u[4] = {wasm_v128_and(q0, m4), wasm_v128_and(q1, m4), wasm_u16x8_shr(q0, 4), wasm_u16x8_shr(q1, 4)};
    if constexpr (T != DType::q4_1) {
      const uint32_t qh = quant::load_qh(blk.qh);
      u[0] = wasm_v128_or(u[0], q5_high8<0>(qh, bits, x10));
      u[1] = wasm_v128_or(u[1], q5_high8<1>(qh, bits, x10));
      u[2] = wasm_v128_or(u[2], q5_high8<2>(qh, bits, x10));
      u[3] = wasm_v128_or(u[3], q5_high8<3>(qh, bits, x10));
    }
    const int8_t* xq = xb[b].qs;
    const v128_t s = wasm_i32x4_add(
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(u[0], wasm_i16x8_load8x8(xq)), wasm_i32x4_dot_i16x8(u[1], wasm_i16x8_load8x8(xq + 8))),
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(u[2], wasm_i16x8_load8x8(xq + 16)), wasm_i32x4_dot_i16x8(u[3], wasm_i16x8_load8x8(xq + 24))));
#endif
    const float off = D * static_cast<float>(O) + M;
    acc += xb[b].d * D * static_cast<float>(hsum_i32x4(s));
    acc += xb[b].d * off * static_cast<float>(xb[b].sum);
  }
  return acc;
}

// wa_vq2 / wa_vq3 (quant/vq.h): a vector of 8 is two 64-bit table loads
// (quant::vq_codebook), each widened to 16-bit lanes by the load itself:
// the pattern's magnitudes (its parity, bit 63, masked off) and its signs
// (+1 / -1, keyed by the 7 sign bits and that parity). Their product dotted
// with the widened activations (|m x| <= 15 * 127), the 4 vectors of a block
// of 32 summed, times the block's sc + 1: exact int32 sums, and per
// super-block the reference's float expression (quant/vq.cpp, dot_row), so
// the results are bit-identical to the scalar kernels.
template <DType T, class Block>
float vq_row_dot_wasm(const void* w, const void* x, int64_t nb) {
  constexpr int K = quant::kVqIndexBits<T>;
  constexpr uint32_t imask = (1u << K) - 1;
  const quant::VqCodebookView cb = quant::vq_codebook(T);
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  const v128_t m7f = opaque(wasm_i16x8_splat(0x7f));
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    v128_t isum = wasm_i32x4_splat(0);
    WA_UNROLL
    for (int j = 0; j < 8; ++j) {
      uint32_t code[4];
      int sc;
      quant::vq_block_codes<T>(&wb[b], j, code, &sc);
      v128_t s = wasm_i32x4_splat(0);
      WA_UNROLL
      for (int v = 0; v < 4; ++v) {
        const uint64_t* e = cb.packed + (code[v] & imask);
        const uint32_t key = (code[v] >> K) | (static_cast<uint32_t>(*e >> 56) & 0x80u);
        const v128_t m = wasm_v128_and(wasm_u16x8_load8x8(e), m7f);
        const v128_t sm = wasm_i16x8_mul(m, wasm_i16x8_load8x8(cb.signs + key));
        s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(sm, wasm_i16x8_load8x8(xb[b].qs + 32 * j + 8 * v)));
      }
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(s, wasm_i32x4_splat(sc + 1)));
    }
    acc += 0.5f * fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(hsum_i32x4(isum));
  }
  return acc;
}

RowDotFn wasm_row_dot(DType t) {
  switch (t) {
    case DType::q4_1: return block32_row_dot_wasm<DType::q4_1, BlockQ4_1>;
    case DType::q5_0: return block32_row_dot_wasm<DType::q5_0, BlockQ5_0>;
    case DType::q5_1: return block32_row_dot_wasm<DType::q5_1, BlockQ5_1>;
    case DType::q2_k: return k_row_dot_wasm<DType::q2_k, BlockQ2_K>;
    case DType::q3_k: return k_row_dot_wasm<DType::q3_k, BlockQ3_K>;
    case DType::q4_k: return k_row_dot_wasm<DType::q4_k, BlockQ4_K>;
    case DType::q5_k: return k_row_dot_wasm<DType::q5_k, BlockQ5_K>;
    case DType::q6_k: return k_row_dot_wasm<DType::q6_k, BlockQ6_K>;
    case DType::wa_vq2: return vq_row_dot_wasm<DType::wa_vq2, BlockWaVq2>;
    case DType::wa_vq3: return vq_row_dot_wasm<DType::wa_vq3, BlockWaVq3>;
    default: return nullptr;
  }
}
