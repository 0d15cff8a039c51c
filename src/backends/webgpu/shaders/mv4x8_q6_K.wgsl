// q6_K's block with an int8 x block: per 16-weight sub-block h, d S_h (u - 32)
// (mv4_q6_K.wgsl), from mv4x8_planes.wgsl's sums per half and x's half sums.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  return unpack2x16float(s[1]).x * dot(vec2<f32>(q6_scales(b, s)), t - 32.0 * x.d.zw);
}
