// mvx_q8.wgsl's x from act at x_off; with NORM, h times the norm's weights,
// h . h of the block kept for the 1/rms factor.
fn x_source_block(b: u32) -> array<vec4<f32>, 8> {
  var x: array<vec4<f32>, 8>;
  let x4 = (params.x_off >> 2u) + 8u * b;
  for (var j = 0u; j < 8u; j++) {
    x[j] = act[x4 + j];
  }
  if (NORM) {
    let g4 = (params.norm_off >> 2u) + 8u * b;
    var ss = 0.0;
    for (var j = 0u; j < 8u; j++) {
      ss += dot(x[j], x[j]);
      x[j] *= nw[g4 + j];
    }
    xq_sumsq[b] = ss;
  }
  return x;
}
