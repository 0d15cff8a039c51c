// matvec4's x from act at x_off (both x forms read it through this; token
// t's column x_stride further on, few-token MODE 0): with NORM, h times the
// norm's weights, adding h . h of the block to ss for the 1/rms factor.
fn x_source_block(b: u32, t: u32, ss: ptr<function, f32>) -> array<vec4<f32>, 8> {
  var x: array<vec4<f32>, 8>;
  let x4 = ((params.x_off + t * params.x_stride) >> 2u) + 8u * b;
  for (var j = 0u; j < 8u; j++) {
    x[j] = act[x4 + j];
  }
  if (NORM) {
    let g4 = (params.norm_off >> 2u) + 8u * b;
    for (var j = 0u; j < 8u; j++) {
      *ss += dot(x[j], x[j]);
      x[j] *= norm_gain(g4 + j);  // nw, bound with NORM only
    }
  }
  return x;
}
