// matvec4.wgsl's block format for q5_K in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): values grouped as q5_0's (4
// blocks' nibbles, then their 4 bits words, in 5 vec4 words; GGUF's qh bit
// c of byte l becomes bit l of chunk c's bits word); scales as q4_K's
// (kq_scale_word's records, field = sc, mn). w = d sc u - dmin mn.
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return 5u * (b >> 2u) + select(b & 3u, 4u, j == 1u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return kq_scale_word(b, j);
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  return nibbles_bytes(v[0], k) | bits_bytes(v[1][b & 3u], k, 4u);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let t = block_u_dot(b, v, x);
  let a = kq_scale_min(b, s);
  return a.x * t.x - a.y * t.y;
}

fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let f = kq_field(b, s);
  let dm = unpack2x16float(s[1]);
  return dm.x * f32(f.x * plane_pick(block_u(b, v, i >> 2u), i)) - dm.y * f32(f.y);
}
