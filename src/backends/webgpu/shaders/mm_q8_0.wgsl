// matmul.wgsl's weight tile for q8_0, the 64 rows from tile row r0:
// invocation li takes words 2j, 2j + 1 (values 8j..8j+7) of row
// r0 + li / 4's block, j = li % 4.
fn mm_load_w_tile(li: u32, n0: u32, k0: u32, r0: u32) {
  let r = r0 + li / 4u;
  let j = li % 4u;
  var a = vec4<f32>(0.0);
  var c = vec4<f32>(0.0);
  if (n0 + r < params.N) {
    let b = (n0 + r) * (params.K >> 5u) + (k0 >> 5u);
    let d = w_scale(b);
    a = q8_values(w[8u * b + 2u * j]) * d;
    c = q8_values(w[8u * b + 2u * j + 1u]) * d;
  }
  for (var i = 0u; i < 4u; i++) {
    ws_set(8u * j + i, r, a[i]);
    ws_set(8u * j + 4u + i, r, c[i]);
  }
}
