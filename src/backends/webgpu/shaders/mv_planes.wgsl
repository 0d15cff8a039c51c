// matvec.wgsl's row access for the types with a block format (bit-plane
// and vq types: w_planes.wgsl and the type's block format prepended): a
// block per lane step, its 32 x values from the staged xs. This is the path for x that is not 16-byte aligned
// (matvec4.wgsl takes every aligned one), so it favours sharing the block
// format over speed: lanes reading the same xs bank (blocks are 8 vec4
// apart) conflict, which matvec.wgsl's header measures as slow.
fn mv_row_partial(row: u32, lane: u32, k0: u32, n: u32) -> f32 {
  let b0 = row * (params.K >> 5u) + (k0 >> 5u);
  var s = 0.0;
  for (var c = lane; c < (n >> 5u); c += LANES) {
    var x: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
      x[j] = xs[8u * c + j];
    }
    let p = w_block(b0 + c);
    s += block_dot(b0 + c, p.v, p.s, x);
  }
  return s;
}
