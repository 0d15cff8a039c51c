// matvec4.wgsl's block format for q5_0 in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): groups of 4 blocks in 5 vec4
// words, the 4 blocks' nibbles (GGUF's qs) then one word with their 4 bits
// words (GGUF's qh: bit i is weight i's bit 4), so block b's planes are vec4
// words 5 (b / 4) + b % 4 and component b % 4 of 5 (b / 4) + 4. Scales:
// every block's f16 d, two per word, as q4_0's. w = d (u - 16).
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return 5u * (b >> 2u) + select(b & 3u, 4u, j == 1u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b >> 1u;
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  return nibbles_bytes(v[0], k) | bits_bytes(v[1][b & 3u], k, 4u);
}

fn block_d(b: u32, s: array<u32, 2>) -> f32 {
  let h = unpack2x16float(s[0]);
  return select(h.x, h.y, (b & 1u) == 1u);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var d = 0.0;
  for (var k = 0u; k < 8u; k++) {
    d += dot(vec4<f32>(block_u(b, v, k)) - 16.0, x[k]);
  }
  return block_d(b, s) * d;
}

fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  return block_d(b, s) * f32(i32(plane_pick(block_u(b, v, i >> 2u), i)) - 16);
}
