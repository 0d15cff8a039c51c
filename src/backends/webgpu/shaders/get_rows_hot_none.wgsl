// (get_rows_hot.wgsl left out: the table has no hot rows)
fn row_value(id: u32, k: u32) -> f32 {
  return w_get(id - params.row0, k);
}
