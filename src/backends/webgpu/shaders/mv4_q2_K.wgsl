// matvec4.wgsl's block format for q2_K in the bit-plane layout
// (mv4_planes.wgsl, written by repack_q.wgsl): a block's values are one
// pairs plane (8 bytes), so 2 blocks share a vec4 word: block b's are
// components 2 (b % 2) and 2 (b % 2) + 1 of vec4 word b / 2. Scales:
// kq_scale_word's records, whose 4 field words are GGUF's 16 scale bytes as
// they are (byte = scale | minimum << 4 per 16-weight sub-block).
// w = d scale u - dmin minimum.
const BLOCK_WORDS: u32 = 1u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return b >> 1u;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return kq_scale_word(b, j);
}

fn block_u_bytes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, k: u32) -> u32 {
  let c = 2u * (b & 1u);
  return pairs_bytes(v[0][c], v[0][c + 1u], k);
}

// Per 16-weight sub-block (x[0..3], x[4..7]): its own scale and minimum.
fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var ux = vec2<f32>(0.0);
  var sx = vec2<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    let h = k >> 2u;
    ux[h] += dot(vec4<f32>(block_u(b, v, k)), x[k]);
    sx[h] += dot(x[k], vec4<f32>(1.0));
  }
  let f = kq_field(b, s);
  let sc = vec2<f32>(vec2<u32>(f.x & 15u, f.y & 15u));
  let mn = vec2<f32>(vec2<u32>(f.x >> 4u, f.y >> 4u));
  let dm = unpack2x16float(s[1]);
  return dm.x * dot(sc, ux) - dm.y * dot(mn, sx);
}

fn block_value(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, i: u32) -> f32 {
  let f = kq_field(b, s);
  let byte = select(f.x, f.y, i >= 16u);
  let dm = unpack2x16float(s[1]);
  return dm.x * f32((byte & 15u) * plane_pick(block_u(b, v, i >> 2u), i)) - dm.y * f32(byte >> 4u);
}
