// matvec4.wgsl's block format for q5_1 in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): values grouped as q5_0's
// (4 blocks' nibbles, then their 4 bits words, in 5 vec4 words); scale word
// b holds f16 d and m as q4_1's. w = d u + m.
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return 5u * (b >> 2u) + select(b & 3u, 4u, j == 1u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b;
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  return nibbles_bytes(v[0], k) | bits_bytes(v[1][b & 3u], k, 4u);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let t = block_u_dot(b, v, x);
  let dm = unpack2x16float(s[0]);
  return dm.x * t.x + dm.y * t.y;
}

fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let dm = unpack2x16float(s[0]);
  return dm.x * f32(plane_pick(block_u(b, v, i >> 2u), i)) + dm.y;
}
