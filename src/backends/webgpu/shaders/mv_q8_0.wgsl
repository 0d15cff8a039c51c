// matvec.wgsl's row access for q8_0: a word (4 weights) per lane step;
// word j of a block holds weights 4j..4j+3.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let g0 = row * (params.K >> 2u) + (k0 >> 2u);  // 8 words per 32 weights
  var s = 0.0;
  for (var g = lane; g < (n >> 2u); g += LANES) {
    let b = (g0 + g) >> 3u;
    s += w_scale(b) * dot(q8_values(w[g0 + g]), xs[g]);
  }
  return s;
}
