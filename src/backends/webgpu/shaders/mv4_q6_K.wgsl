// matvec4.wgsl's block format for q6_K in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): a block's values are a
// nibbles plane (low 4 bits, 16 bytes) and a pairs plane (high 2 bits, 8
// bytes); groups of 2 blocks take 3 vec4 words: the nibbles of block 2g
// (word 3g) and 2g + 1 (word 3g + 1), then both pairs planes (word 3g + 2,
// components 2 (b % 2) and 2 (b % 2) + 1). Scales: kq_scale_word's records;
// the field holds the two sub-blocks' int8 scales S as GGUF stores them.
// w = d S (u - 32).
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return 3u * (b >> 1u) + select(b & 1u, 2u, j == 1u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return kq_scale_word(b, j);
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  let c = 2u * (b & 1u);
  return nibbles_bytes(v[0], k) | (pairs_bytes(v[1][c], v[1][c + 1u], k) << 4u);
}

fn q6_scales(b: u32, s: array<u32, 2>) -> vec2<i32> {
  return bitcast<vec2<i32>>(kq_field(b, s) << vec2<u32>(24u)) >> vec2<u32>(24u);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var ux = vec2<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    ux[k >> 2u] += dot(vec4<f32>(block_u(b, v, k)) - 32.0, x[k]);
  }
  return unpack2x16float(s[1]).x * dot(vec2<f32>(q6_scales(b, s)), ux);
}

// As the reference computes it: d * (S u) + d * (-32 S).
fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let S = q6_scales(b, s)[select(0u, 1u, i >= 16u)];
  let d = unpack2x16float(s[1]).x;
  return d * f32(S * i32(plane_pick(block_u(b, v, i >> 2u), i))) + d * f32(-32 * S);
}
