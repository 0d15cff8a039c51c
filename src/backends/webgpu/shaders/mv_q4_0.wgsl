// matvec.wgsl's row access for q4_0: a block (one 16-byte load) per lane step.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let b0 = row * (params.K >> 5u) + (k0 >> 5u);
  var s = 0.0;
  for (var kb = lane; kb < (n >> 5u); kb += LANES) {
    let b = b0 + kb;
    let q = wv[b];
    let xb = 32u * kb;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      let bytes = vec4<u32>(q[j], q[j] >> 8u, q[j] >> 16u, q[j] >> 24u);
      let lo = vec4<f32>(bytes & vec4<u32>(15u)) - 8.0;
      let hi = vec4<f32>((bytes >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;
      let xl = xb + 4u * j;
      let xh = xl + 16u;
      acc += lo * vec4<f32>(xs[xl], xs[xl + 1u], xs[xl + 2u], xs[xl + 3u]);
      acc += hi * vec4<f32>(xs[xh], xs[xh + 1u], xs[xh + 2u], xs[xh + 3u]);
    }
    s += w_scale(b) * (acc.x + acc.y + acc.z + acc.w);
  }
  return s;
}
