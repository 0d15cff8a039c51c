// mvx_q8.wgsl's x: a decode attention's output, merged here from
// attention_split.wgsl's chunks (bound as nw), which is what
// attention_combine.wgsl would have written (the o projection after
// attention reads no other x). Per head h of head_dim values, with m_c, l_c,
// o_c the chunks' maxima, sums and outputs: x = sum_c e^(m_c - M) o_c /
// sum_c e^(m_c - M) l_c, M = max_c m_c. Each workgroup merges all heads
// (n_chunks * n_head * (head_dim + 4) floats from L2), so the backend folds
// the merge in only for few chunks. head_dim % 32 == 0: a block is in one head.
fn x_source_block(b: u32, t: u32, ss: ptr<function, f32>) -> array<vec4<f32>, 8> {  // (one token, no norm: t, ss unused)
  let hd = params.head_dim;
  let h = (32u * b) / hd;
  let i0 = (32u * b) % hd;
  let stride = hd + 4u;  // m, l, 2 unused, o[head_dim]: o vec4-aligned
  let first = h * params.n_chunks * stride;
  var big_m = -3.0e38;
  for (var c = 0u; c < params.n_chunks; c++) {
    big_m = max(big_m, nw[(first + c * stride) >> 2u].x);
  }
  var l = 0.0;
  var x: array<vec4<f32>, 8>;
  for (var c = 0u; c < params.n_chunks; c++) {
    let ml = nw[(first + c * stride) >> 2u];
    let e = exp(ml.x - big_m);
    l += ml.y * e;
    let o4 = (first + c * stride + 4u + i0) >> 2u;
    for (var j = 0u; j < 8u; j++) {
      x[j] += nw[o4 + j] * e;
    }
  }
  for (var j = 0u; j < 8u; j++) {
    x[j] /= l;
  }
  return x;
}
