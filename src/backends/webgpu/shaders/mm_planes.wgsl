// matmul.wgsl's weight tile for the types with a block format (bit-plane
// and vq types: w_planes.wgsl and the type's block format prepended), the
// 64 rows from tile row r0: invocation li takes values 8j..8j+7, j = li %
// 4, of row r0 + li / 4's block, dequantized as the reference does
// (block_value) from the block's words loaded once.
fn mm_load_w_tile(li: u32, n0: u32, k0: u32, r0: u32) {
  let r = r0 + li / 4u;
  let j = li % 4u;
  var vals: array<f32, 8>;
  if (n0 + r < params.N) {
    let b = (n0 + r) * (params.K >> 5u) + (k0 >> 5u);
    let p = w_block(b);
    for (var i = 0u; i < 8u; i++) {
      vals[i] = block_value(b, p.v, p.s, 8u * j + i);
    }
  }
  for (var i = 0u; i < 8u; i++) {
    ws_set(8u * j + i, r, vals[i]);
  }
}
