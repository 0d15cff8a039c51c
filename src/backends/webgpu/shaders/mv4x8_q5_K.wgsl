// q5_K's block with an int8 x block: d sc u - dmin mn (mv4_q5_K.wgsl), from
// mv4x8_planes.wgsl's sums.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  let a = kq_scale_min(b, s);
  return a.x * (t.x + t.y) - a.y * x.d.y;
}
