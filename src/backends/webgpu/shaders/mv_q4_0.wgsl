// matvec.wgsl's row access for q4_0: a word (8 weights) per lane step;
// word j of a block holds weights 4j..4j+3 (low nibbles) and 16+4j..16+4j+3.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let g0 = row * (params.K >> 3u) + (k0 >> 3u);  // 4 words per 32 weights
  var s = 0.0;
  for (var g = lane; g < (n >> 3u); g += LANES) {
    let q = w[g0 + g];
    let b = (g0 + g) >> 2u;
    let xi = (g >> 2u) * 8u + (g & 3u);
    let bytes = vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u);
    let lo = vec4<f32>(bytes & vec4<u32>(15u)) - 8.0;
    let hi = vec4<f32>((bytes >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;
    s += w_scale(b) * (dot(lo, xs[xi]) + dot(hi, xs[xi + 4u]));
  }
  return s;
}
