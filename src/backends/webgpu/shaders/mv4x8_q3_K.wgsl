// q3_K's block with an int8 x block: per 16-weight sub-block h, d S_h (u - 4)
// (mv4_q3_K.wgsl), from mv4x8_planes.wgsl's sums per half and x's half sums.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  let sc = vec2<f32>(vec2<i32>(kq_field(b, s)) - 32);
  return unpack2x16float(s[1]).x * dot(sc, t - 4.0 * x.d.zw);
}
