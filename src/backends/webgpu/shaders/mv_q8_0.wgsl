// matvec.wgsl's row access for q8_0: a block (two 16-byte loads) per lane step.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let b0 = row * (params.K >> 5u) + (k0 >> 5u);
  var s = 0.0;
  for (var kb = lane; kb < (n >> 5u); kb += LANES) {
    let b = b0 + kb;
    let q0 = wv[2u * b];
    let q1 = wv[2u * b + 1u];
    let xb = 32u * kb;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      let xo = xb + 4u * j;
      acc += q8_values(q0[j]) * vec4<f32>(xs[xo], xs[xo + 1u], xs[xo + 2u], xs[xo + 3u]);
      let xo1 = xo + 16u;
      acc += q8_values(q1[j]) * vec4<f32>(xs[xo1], xs[xo1 + 1u], xs[xo1 + 2u], xs[xo1 + 3u]);
    }
    s += w_scale(b) * (acc.x + acc.y + acc.z + acc.w);
  }
  return s;
}
