// y[:, t] = x[:, t] / sqrt(mean(x[:, t]^2) + eps) * weight. One workgroup
// per token. Grid: (T, 1).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> nw: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let t = wg.x;
  let x0 = params.x_off + t * params.x_stride;
  let y0 = params.y_off + t * params.y_stride;
  // Four loads in flight per step: one workgroup per token is latency-bound
  // (decode: a single row), and a load used at once stalls every step.
  var s = vec4<f32>(0.0);
  for (var k = li; k < params.D; k += 1024u) {
    var v = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      if (k + 256u * j < params.D) {
        v[j] = act[x0 + k + 256u * j];
      }
    }
    s += v * v;
  }
  red[li] = (s.x + s.y) + (s.z + s.w);
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) {
      red[li] += red[li + off];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(params.D) + params.eps);
  for (var k = li; k < params.D; k += 1024u) {
    var v = vec4<f32>(0.0);
    var g = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      if (k + 256u * j < params.D) {
        v[j] = act[x0 + k + 256u * j];
        g[j] = nw[params.w_off + k + 256u * j];
      }
    }
    // y may be x itself: each element is read and written by one invocation
    for (var j = 0u; j < 4u; j++) {
      if (k + 256u * j < params.D) {
        act[y0 + k + 256u * j] = v[j] * inv * g[j];
      }
    }
  }
}
