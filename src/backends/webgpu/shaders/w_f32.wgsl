// Weight access for f32 matrices: row-major, K floats per row, stored as u32 words.
// Needs: `w: array<u32>`, `act: array<f32>`, `params.K`.
fn w_get(row: u32, k: u32) -> f32 {
  return bitcast<f32>(w[row * params.K + k]);
}

// This lane's share of dot(W[row, :], act[x0 : x0 + K]): lanes stride over
// elements, so neighbouring lanes read neighbouring words.
fn w_row_partial(row: u32, lane: u32, nlanes: u32, x0: u32) -> f32 {
  let base = row * params.K;
  var s = 0.0;
  for (var k = lane; k < params.K; k += nlanes) {
    s += bitcast<f32>(w[base + k]) * act[x0 + k];
  }
  return s;
}
