// wa_vq2 / wa_vq3 blocks (mv4_vq.wgsl) with an int8 x block (mvx_q8.wgsl):
// each code's point as two words of int8 coordinates, dotted with x's by
// dot4I8Packed (x word k holds values 4k .. 4k + 3: vector j is words 2j,
// 2j + 1), one integer sum per block, times the step and x's scale.
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let q = vq_block_points(b, v);
  var t = 0;
  for (var j = 0u; j < 4u; j++) {
    let xw = x.q[j >> 1u];
    let k = 2u * (j & 1u);
    t += dot4I8Packed(q[j].x, xw[k]) + dot4I8Packed(q[j].y, xw[k + 1u]);
  }
  return vq_step(b, v, s) * x.d.x * f32(t);
}
