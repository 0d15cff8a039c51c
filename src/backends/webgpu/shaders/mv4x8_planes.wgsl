// The bit-plane types' values (mv4_planes.wgsl, each type's block_u) dotted
// with an int8 x block (mvx_q8.wgsl): per 16-value half, the values (0 ..
// 63, positive as int8) packed to bytes and multiplied with x's by
// dot4I8Packed, times x's scale. Each type's mv4x8_<type>.wgsl applies its
// scales and offsets as its block_dot does, with x's sums from the XBlock.
// Used for the one-nibble-plane types (q4_1, q4_K): see has_int8_dot for
// why the others keep f32 x.
fn block_uq_halves(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, x: XBlock) -> vec2<f32> {
  var lo = 0;
  var hi = 0;
  for (var k = 0u; k < 4u; k++) {
    lo += dot4I8Packed(pack4xU8(block_u(b, v, k)), x.q[0][k]);
    hi += dot4I8Packed(pack4xU8(block_u(b, v, k + 4u)), x.q[1][k]);
  }
  return vec2<f32>(f32(lo), f32(hi)) * x.d.x;
}
