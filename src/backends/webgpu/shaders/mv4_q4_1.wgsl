// matvec4.wgsl's block format for q4_1 in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): block b's nibbles are vec4
// word b (GGUF's 16 bytes as they are); its scale word b (from
// params.w_scales) holds f16 d (low half) and m (high half), GGUF's pair.
// w = d u + m, so a block's dot is d (u . x) + m sum(x).
const BLOCK_WORDS: u32 = 1u;
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return b;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b;
}

// The values u of weights 4k .. 4k + 3.
fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  return nibbles_bytes(v[0], k);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let t = block_u_dot(b, v, x);
  let dm = unpack2x16float(s[0]);
  return dm.x * t.x + dm.y * t.y;
}

// Weight i of the block, as the reference dequantizer computes it.
fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let dm = unpack2x16float(s[0]);
  return dm.x * f32(plane_pick(block_u(b, v, i >> 2u), i)) + dm.y;
}
