// q5_1's block with an int8 x block: dm.x u + dm.y per weight (mv4_q5_1.wgsl), from
// mv4x8_planes.wgsl's sums.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let t = block_uq_halves(b, v, x);
  let dm = unpack2x16float(s[0]);
  return dm.x * (t.x + t.y) + dm.y * x.d.y;
}
