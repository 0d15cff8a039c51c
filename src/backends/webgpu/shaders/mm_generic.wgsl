// matmul.wgsl's weight tile for f32/f16 weights, the 64 rows from tile row
// r0: 8 consecutive values of a row per invocation through w_get (any K).
fn mm_load_w_tile(li: u32, n0: u32, k0: u32, r0: u32) {
  let r = r0 + li / 4u;
  let kb = (li % 4u) * 8u;
  for (var i = 0u; i < 8u; i++) {
    var v = 0.0;
    if (n0 + r < params.N && k0 + kb + i < params.K) {
      v = w_get(n0 + r, k0 + kb + i);
    }
    ws_set(kb + i, r, v);
  }
}
