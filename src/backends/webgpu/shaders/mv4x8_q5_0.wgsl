// q5_0's block with an int8 x block: d (u - 16) per weight (mv4_q5_0.wgsl),
// from mv4x8_planes.wgsl's sums and x's block sum.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  return block_d(b, s) * (t.x + t.y - 16.0 * x.d.y);
}
