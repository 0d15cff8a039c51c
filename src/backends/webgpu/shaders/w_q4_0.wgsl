// Weight access for q4_0 matrices in the GPU layout written by repack.wgsl:
// the 16 bytes of 4-bit values of block b in words [4b, 4b + 4) (byte j holds
// weight j in its low nibble and weight j + 16 in its high nibble, as in
// GGUF), then every block's f16 scale, two per word, from word
// params.w_scales. Values are (nibble - 8) * scale.
// Needs: `w: array<u32>`, `act: array<f32>`, `params.K`, `params.w_scales`,
// and w_block_scales.wgsl (w_scale).

fn w_get(row: u32, k: u32) -> f32 {
  let b = row * (params.K >> 5u) + (k >> 5u);
  let i = k & 31u;
  let byte_index = i & 15u;
  let q = (w[4u * b + (byte_index >> 2u)] >> (8u * (byte_index & 3u))) & 0xffu;
  let nib = select(q & 15u, q >> 4u, i >= 16u);
  return (f32(nib) - 8.0) * w_scale(b);
}

fn w_row_partial(row: u32, lane: u32, nlanes: u32, x0: u32) -> f32 {
  let nb = params.K >> 5u;
  var s = 0.0;
  for (var kb = lane; kb < nb; kb += nlanes) {
    let b = row * nb + kb;
    let xb = x0 + 32u * kb;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      let q = w[4u * b + j];
      let bytes = vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u);
      let lo = vec4<f32>(bytes & vec4<u32>(15u)) - 8.0;
      let hi = vec4<f32>((bytes >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;
      let xl = xb + 4u * j;
      let xh = xl + 16u;
      acc += lo * vec4<f32>(act[xl], act[xl + 1u], act[xl + 2u], act[xl + 3u]);
      acc += hi * vec4<f32>(act[xh], act[xh + 1u], act[xh + 2u], act[xh + 3u]);
    }
    s += w_scale(b) * (acc.x + acc.y + acc.z + acc.w);
  }
  return s;
}
