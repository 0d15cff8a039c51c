// matmul.wgsl's weight tile for q4_0, the 64 rows from tile row r0:
// invocation li takes word li % 4 of row r0 + li / 4's block (values
// 4j..4j+3 and 16+4j..16+4j+3).
fn mm_load_w_tile(li: u32, n0: u32, k0: u32, r0: u32) {
  let r = r0 + li / 4u;
  let j = li % 4u;
  var lo = vec4<f32>(0.0);
  var hi = vec4<f32>(0.0);
  if (n0 + r < params.N) {
    let b = (n0 + r) * (params.K >> 5u) + (k0 >> 5u);
    let q = w[4u * b + j];
    let d = w_scale(b);
    let bytes = vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u);
    lo = (vec4<f32>(bytes & vec4<u32>(15u)) - 8.0) * d;
    hi = (vec4<f32>((bytes >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0) * d;
  }
  for (var i = 0u; i < 4u; i++) {
    ws_set(4u * j + i, r, lo[i]);
    ws_set(16u + 4u * j + i, r, hi[i]);
  }
}
