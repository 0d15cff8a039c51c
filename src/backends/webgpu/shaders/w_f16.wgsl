// Weight access for f16 matrices: row-major halves, two per u32 word (the
// file's bytes as they are). Read with unpack2x16float, so no shader-f16 needed.
// Needs: `w: array<u32>`, `act: array<f32>`, `params.K`.
fn w_get(row: u32, k: u32) -> f32 {
  let e = row * params.K + k;
  let v = unpack2x16float(w[e >> 1u]);
  return select(v.x, v.y, (e & 1u) == 1u);
}

fn w_row_partial(row: u32, lane: u32, nlanes: u32, x0: u32) -> f32 {
  var s = 0.0;
  if ((params.K & 1u) == 0u) {
    // Even rows start on a word: lanes take whole words (two weights each).
    let base = row * (params.K >> 1u);
    for (var j = lane; j < (params.K >> 1u); j += nlanes) {
      let v = unpack2x16float(w[base + j]);
      s += v.x * act[x0 + 2u * j] + v.y * act[x0 + 2u * j + 1u];
    }
  } else {
    for (var k = lane; k < params.K; k += nlanes) {
      s += w_get(row, k) * act[x0 + k];
    }
  }
  return s;
}
