// matvec.wgsl's row access for f16 weights: a word (two weights) per lane
// step when rows start on a word (even K), else one weight at a time.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  var s = 0.0;
  if ((params.K & 1u) == 0u) {
    let base = (row * params.K + k0) >> 1u;
    for (var j = lane; j < (n >> 1u); j += LANES) {
      let v = unpack2x16float(w[base + j]);
      let x = xs[j >> 1u];
      s += select(v.x * x.x + v.y * x.y, v.x * x.z + v.y * x.w, (j & 1u) == 1u);
    }
  } else {
    for (var k = lane; k < n; k += LANES) {
      s += w_get(row, k0 + k) * xs[k >> 2u][k & 3u];
    }
  }
  return s;
}
