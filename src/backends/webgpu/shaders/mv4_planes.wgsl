// The bit-plane GPU layout of q4_1, q5_0, q5_1 and the k-quants (q2_K ..
// q6_K), written by repack_q.wgsl and read through each type's block format
// (mv4_<type>.wgsl, prepended after this file). Every type is cut into
// 32-weight blocks (a k-quant super-block of 256 is 8 of them, block b being
// chunk b & 7 of super-block b >> 3), and a block's unsigned values u (0 ..
// 2^bits - 1) are stored as planes of whole words:
//   nibbles  16 bytes: low 4 bits; byte i holds weight i (low nibble) and
//            weight i + 16 (high nibble), as q4_0 does, so word j covers the
//            weights of x[j] and x[j + 4];
//   pairs    2 words of 2-bit fields, word t for weights 16 t .. 16 t + 15:
//            weight 16 t + 4 s + j at bits 8 j + 2 s (q2_K's and q3_K's low
//            bits, q6_K's high bits);
//   bits     1 word: weight 4 k + j at bit 8 j + k (q5's and q3_K's high bit).
// Every plane is byte-sliced: the values of weights 4k .. 4k + 3 are one
// shift and one mask away, as the 4 bytes of a word (nibbles_bytes,
// pairs_bytes, bits_bytes), so a type's values combine with whole-word
// operations (block_u_bytes) into what dot4I8Packed takes.
// Why planes: GGUF interleaves a super-block's chunks (q4_K's byte l holds
// chunks 2c and 2c + 1) and puts 5/6-bit values in 20/24 bytes; planes give
// each 32-weight block its own words, so one lane decodes one block with no
// shuffles, and 16 bytes of nibbles are one aligned vec4 load. Where a
// block's planes are not a multiple of 16 bytes (q5: 20 bytes, q6_K: 24,
// q3_K: 12, q2_K: 8), blocks are grouped so that a group is whole vec4
// words: e.g. q5 packs 4 blocks' nibbles then their 4 `bits` words in 5
// vec4s. Nothing is padded but a matrix's last group, so the values take
// exactly their bits per weight. A warp's 32 lanes read 32 consecutive
// blocks: contiguous bytes whatever the grouping. The scales follow the
// values (each format says how); block_dot applies them.
//
// x[k] holds weights 4k .. 4k + 3 of the block.

// The low 4 bits of weights 4k .. 4k + 3 from a nibbles plane, one per byte.
fn nibbles_bytes(q: vec4<u32>, k: u32) -> u32 {
  return (q[k & 3u] >> select(0u, 4u, k >= 4u)) & 0x0f0f0f0fu;
}

// The 2-bit fields of weights 4k .. 4k + 3 from a pairs plane (p0, p1), one per byte.
fn pairs_bytes(p0: u32, p1: u32, k: u32) -> u32 {
  return (select(p0, p1, k >= 4u) >> (2u * (k & 3u))) & 0x03030303u;
}

// The bits of weights 4k .. 4k + 3 from a bits plane, one per byte, at
// bit `at` of it (the value's high bit: q3_K's 2, the 5-bit types' 4): one
// shift by the constant k - at and a mask, instead of a shift down and a
// shift back up.
fn bits_bytes(h: u32, k: u32, at: u32) -> u32 {
  return select(h >> (k - at), h << (at - k), k < at) & (0x01010101u << at);
}

// The values of weights 4k .. 4k + 3 (the type's block_u_bytes, unpacked).
fn block_u(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> vec4<u32> {
  let w = block_u_bytes(b, v, k);
  return vec4<u32>(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u);
}

// Weight i's value from the 4 values of its x[i / 4].
fn plane_pick(u: vec4<u32>, i: u32) -> u32 {
  return u[i & 3u];
}

// A k-quant block's 16-bit sub-block field (two bytes: one per 16-weight
// sub-block, or scale and minimum of its one 32-weight sub-block): the scale
// words of super-block b >> 3 are 4 words of these, chunk c in half c & 1 of
// word c >> 1, then one word of f16 d (low half) and dmin (high half): 20
// bytes per 256 weights (GGUF: 14 to 20).
fn kq_scale_word(b: u32, j: u32) -> u32 {
  return 5u * (b >> 3u) + select((b & 7u) >> 1u, 4u, j == 1u);
}
fn kq_field(b: u32, s: array<u32, 2>) -> vec2<u32> {
  let f = s[0] >> (16u * (b & 1u));
  return vec2<u32>(f & 0xffu, (f >> 8u) & 0xffu);
}

// Sum of u . x and sum of x over a block, through the type's block_u_bytes
// (every bit-plane type defines it): what a format with a scale and an offset per
// block (w = a u + c: q4_1, q5_1, q4_K, q5_K) combines as a * (u . x) + c * sum(x).
fn block_u_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, x: array<vec4<f32>, 8>) -> vec2<f32> {
  var ux = 0.0;
  var sx = vec4<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    ux += dot(vec4<f32>(block_u(b, v, k)), x[k]);
    sx += x[k];
  }
  return vec2<f32>(ux, sx.x + sx.y + sx.z + sx.w);
}

// q4_K and q5_K (w = d sc u - dmin mn): the block's d sc and dmin mn.
fn kq_scale_min(b: u32, s: array<u32, 2>) -> vec2<f32> {
  let f = kq_field(b, s);
  let dm = unpack2x16float(s[1]);
  return vec2<f32>(dm.x * f32(f.x), dm.y * f32(f.y));
}
