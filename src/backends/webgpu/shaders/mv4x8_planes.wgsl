// The bit-plane types' values (mv4_planes.wgsl, each type's block_u_bytes)
// dotted with an int8 x block (mvx_q8.wgsl): per 16-value half, the values
// (0 .. 63, positive as int8; the planes are byte-sliced, so they come as
// bytes) multiplied with x's by dot4I8Packed, times x's scale. Each type's
// mv4x8_<type>.wgsl applies its scales and offsets as its block_dot does,
// with x's sums from the XBlock.
fn block_uq_halves(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, x: XBlock) -> vec2<f32> {
  var lo = 0;
  var hi = 0;
  for (var k = 0u; k < 4u; k++) {
    lo += dot4I8Packed(block_u_bytes(b, v, k), x.q[0][k]);
    hi += dot4I8Packed(block_u_bytes(b, v, k + 4u), x.q[1][k]);
  }
  return vec2<f32>(f32(lo), f32(hi)) * x.d.x;
}
