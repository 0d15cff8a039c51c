// The block formats of webaccel's vector-quantized types wa_vq2 and wa_vq3
// (src/quant/vq.h: 8-weight vectors coded as points of the E8 coset, a
// 4-bit scale per 32 weights, an f16 scale per 256), as every kernel that
// reads a block format takes them (matvec4, matvec, matmul, get_rows; the
// type's mv4_<type>.wgsl follows this file). A code is a magnitude
// pattern's index (VQ_INDEX_BITS) and 7 sign bits; the pattern's 8
// magnitudes and sign parity come from the codebook, which the backend
// uploads once per device (quant::vq_codebook_words, whose comment defines
// the packed word) and binds as `vq_codebook: array<u32>`, its last storage
// binding. wa_vq2's table is 2 KiB and stays in L1; wa_vq3's 256 KiB in L2.
// The type defines BLOCK_WORDS, SCALE_WORDS, block_word, scale_word (the
// GPU layout, written by repack_vq.wgsl), VQ_INDEX_BITS, vq_codes (a
// block's 4 codes, vector j = weights 8j .. 8j + 7) and vq_step (d (sc + 1)
// / 2, the step between odd coordinates, as the reference computes it).
//
// A point's coordinates are decoded as 4-byte words of int8 (what
// dot4I8Packed takes, and 4 lanes of arithmetic per operation): magnitudes
// from 3-bit fields, the 8 sign bits (the 8th from the parity) spread to
// one bit per byte by a multiply, and negative bytes negated as two's
// complement, (m ^ 0xff) + 1 (no carry: m is 1 .. 13).

// Coordinates 0..3 (x) and 4..7 (y) of a code's point, 2x the point (odd
// integers), as int8 bytes.
fn vq_point_bytes(code: u32) -> vec2<u32> {
  let w = vq_codebook[code & ((1u << VQ_INDEX_BITS) - 1u)];
  let sg = code >> VQ_INDEX_BITS;
  let s8 = sg | (((countOneBits(sg) ^ (w >> 3u)) & 1u) << 7u);
  let mag = vec2<u32>(w & 0x07070707u, (w >> 4u) & 0x07070707u) * 2u + 0x01010101u;
  // bit i of a nibble -> bit 0 of byte i (the shifted copies never overlap)
  let neg = (vec2<u32>(s8 & 15u, s8 >> 4u) * 0x00204081u) & vec2<u32>(0x01010101u);
  return (mag ^ (neg * 0xffu)) + neg;
}

// 4 int8 bytes as floats (sign-extended by arithmetic shifts: no packed
// integer extension needed on the f32-x path).
fn vq_bytes_f32(q: u32) -> vec4<f32> {
  let i = bitcast<i32>(q);
  return vec4<f32>(vec4<i32>(i << 24u, i << 16u, i << 8u, i) >> vec4<u32>(24u));
}

// The block's four points (vq_point_bytes), every codebook lookup issued
// before the first is used; for both x forms' block dots.
fn vq_block_points(b: u32, v: array<vec4<u32>, BLOCK_WORDS>) -> array<vec2<u32>, 4> {
  let c = vq_codes(b, v);
  var q: array<vec2<u32>, 4>;
  for (var j = 0u; j < 4u; j++) {
    q[j] = vq_point_bytes(c[j]);
  }
  return q;
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let q = vq_block_points(b, v);
  var t = 0.0;
  for (var j = 0u; j < 4u; j++) {
    t += dot(vq_bytes_f32(q[j].x), x[2u * j]) + dot(vq_bytes_f32(q[j].y), x[2u * j + 1u]);
  }
  return vq_step(b, v, s) * t;
}

// Weight i as the reference dequantizes it: the step times the odd coordinate.
fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let q = vq_point_bytes(vq_codes(b, v)[i >> 3u]);
  let word = select(q.x, q.y, (i & 4u) != 0u);
  return vq_step(b, v, s) * f32(extractBits(bitcast<i32>(word), 8u * (i & 3u), 8u));
}
