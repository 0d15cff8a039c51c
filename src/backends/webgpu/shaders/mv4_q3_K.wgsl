// matvec4.wgsl's block format for q3_K in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): a block's values are a pairs
// plane (low 2 bits, 8 bytes) and a bits plane (GGUF's hmask bit, 4 bytes);
// groups of 4 blocks take 3 vec4 words: the pairs of blocks 4g, 4g + 1
// (word 3g), of 4g + 2, 4g + 3 (word 3g + 1), then the 4 bits words (word
// 3g + 2). Scales: kq_scale_word's records; the field holds the two
// sub-blocks' 6-bit scales sc (0..63, GGUF's packing undone).
// w = d (sc - 32) (u - 4).
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return 3u * (b >> 2u) + select((b >> 1u) & 1u, 2u, j == 1u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return kq_scale_word(b, j);
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  let c = 2u * (b & 1u);
  return pairs_bytes(v[0][c], v[0][c + 1u], k) | bits_bytes(v[1][b & 3u], k, 2u);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var ux = vec2<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    ux[k >> 2u] += dot(vec4<f32>(block_u(b, v, k)) - 4.0, x[k]);
  }
  let sc = vec2<f32>(vec2<i32>(kq_field(b, s)) - 32);
  return unpack2x16float(s[1]).x * dot(sc, ux);
}

// As the reference computes it: d * (S u) + d * (-4 S), S = sc - 32.
fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let f = kq_field(b, s);
  let S = i32(select(f.x, f.y, i >= 16u)) - 32;
  let d = unpack2x16float(s[1]).x;
  return d * f32(S * i32(plane_pick(block_u(b, v, i >> 2u), i))) + d * f32(-4 * S);
}
