// matvec4.wgsl's block format for q4_K in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): block b (chunk b % 8 of its
// super-block, one q4_K sub-block) has its own nibbles in vec4 word b (GGUF
// shares bytes between chunks 2c and 2c + 1). Scales: kq_scale_word's
// records; the chunk's field is its 6-bit scale sc (low byte) and minimum mn
// (high byte), unpacked from GGUF's 12-byte field. w = d sc u - dmin mn.
const BLOCK_WORDS: u32 = 1u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return b;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return kq_scale_word(b, j);
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  return nibbles_bytes(v[0], k);
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let t = block_u_dot(b, v, x);
  let a = kq_scale_min(b, s);
  return a.x * t.x - a.y * t.y;
}

// As the reference computes it: d * (sc u) + (-dmin) * mn.
fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let f = kq_field(b, s);
  let dm = unpack2x16float(s[1]);
  return dm.x * f32(f.x * plane_pick(block_u(b, v, i >> 2u), i)) - dm.y * f32(f.y);
}
