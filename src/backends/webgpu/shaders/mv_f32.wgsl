// matvec.wgsl's row access for f32 weights: lanes take neighbouring words.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let base = row * params.K + k0;
  var s = 0.0;
  for (var k = lane; k < n; k += LANES) {
    s += bitcast<f32>(w[base + k]) * xs[k >> 2u][k & 3u];
  }
  return s;
}
