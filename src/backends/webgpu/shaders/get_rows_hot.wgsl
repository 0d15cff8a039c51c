// Hot rows (formats/hot_rows.h): some rows of the table stored again in a
// higher precision, which the lookup reads instead for the ids they have.
// hot_ids holds their ids (the file's i32, validated by the loader as
// strictly increasing in [0, n_vocab), so as u32 they sort the same), hot
// the rows in their type's GPU layout, read by hot_w_get: that type's
// w_<type>.wgsl with the binding and its functions renamed by the backend
// (hot_rows_accessors). params.n_hot: the hot table's rows; its scales (q8_0,
// q4_0) from word params.hot_scales.
@group(0) @binding(3) var<storage, read> hot_ids: array<u32>;
@group(0) @binding(4) var<storage, read> hot: array<u32>;

// The hot table's row of `id` (a binary search: every invocation of a token
// walks the same few words, which stay in cache), or params.n_hot for none.
fn hot_row(id: u32) -> u32 {
  var lo = 0u;
  var hi = params.n_hot;
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (hot_ids[mid] < id) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  if (lo < params.n_hot && hot_ids[lo] == id) {  // (&& short-circuits: no read past the table)
    return lo;
  }
  return params.n_hot;
}

fn row_value(id: u32, k: u32) -> f32 {
  let h = hot_row(id);
  if (h < params.n_hot) {
    return hot_w_get(h, k);
  }
  return w_get(id - params.row0, k);
}
