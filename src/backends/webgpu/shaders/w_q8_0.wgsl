// Weight access for q8_0 matrices in the GPU layout written by repack.wgsl:
// the int8 values of block b in words [8b, 8b + 8), then every block's f16
// scale, two per word, from word params.w_scales. A block is 32 consecutive
// weights of a row; rows hold K / 32 blocks.
// Needs: `w: array<u32>`, `act: array<f32>`, `params.K`, `params.w_scales`,
// and w_block_scales.wgsl (w_scale).

// The four signed bytes of a word, lowest first.
fn q8_values(q: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(q << 24u, q << 16u, q << 8u, q)) >> vec4<u32>(24u));
}

fn w_get(row: u32, k: u32) -> f32 {
  let b = row * (params.K >> 5u) + (k >> 5u);
  let i = k & 31u;
  let q = w[8u * b + (i >> 2u)];
  let v = bitcast<i32>(q << (24u - 8u * (i & 3u))) >> 24u;
  return f32(v) * w_scale(b);
}

fn w_row_partial(row: u32, lane: u32, nlanes: u32, x0: u32) -> f32 {
  let nb = params.K >> 5u;
  var s = 0.0;
  for (var kb = lane; kb < nb; kb += nlanes) {
    let b = row * nb + kb;
    let xb = x0 + 32u * kb;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < 8u; j++) {
      let xo = xb + 4u * j;
      acc += q8_values(w[8u * b + j]) * vec4<f32>(act[xo], act[xo + 1u], act[xo + 2u], act[xo + 3u]);
    }
    s += w_scale(b) * (acc.x + acc.y + acc.z + acc.w);
  }
  return s;
}
