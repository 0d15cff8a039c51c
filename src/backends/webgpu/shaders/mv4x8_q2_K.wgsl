// q2_K's block with an int8 x block: per 16-weight sub-block h, d sc_h u -
// dmin mn_h (mv4_q2_K.wgsl), from mv4x8_planes.wgsl's sums per half and x's
// half sums.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  let f = kq_field(b, s);
  let sc = vec2<f32>(vec2<u32>(f.x & 15u, f.y & 15u));
  let mn = vec2<f32>(vec2<u32>(f.x >> 4u, f.y >> 4u));
  let dm = unpack2x16float(s[1]);
  return dm.x * dot(sc, t) - dm.y * dot(mn, x.d.zw);
}
