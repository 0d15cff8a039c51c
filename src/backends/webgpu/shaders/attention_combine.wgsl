// Decode attention, phase 2 of 2: merges attention_split.wgsl's chunks of
// one head. With M the largest chunk maximum, y[d] = sum_c o_c[d] e^(m_c - M)
// / sum_c l_c e^(m_c - M). Grid: (n_head).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> scratch: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let hd = params.head_dim;
  let stride = hd + 4u;  // m, l, 2 unused, o
  let first = h * params.n_chunks * stride;
  var big_m = -3.0e38;
  for (var c = 0u; c < params.n_chunks; c++) {
    big_m = max(big_m, scratch[first + c * stride]);
  }
  var l = 0.0;
  for (var c = 0u; c < params.n_chunks; c++) {
    l += scratch[first + c * stride + 1u] * exp(scratch[first + c * stride] - big_m);
  }
  for (var i = li; i < hd; i += 128u) {
    var o = 0.0;
    for (var c = 0u; c < params.n_chunks; c++) {
      o += scratch[first + c * stride + 4u + i] * exp(scratch[first + c * stride] - big_m);
    }
    act[params.y_off + h * hd + i] = o / l;
  }
}
