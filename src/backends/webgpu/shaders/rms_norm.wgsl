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
  var s = 0.0;
  for (var k = li; k < params.D; k += 256u) {
    let v = act[x0 + k];
    s += v * v;
  }
  red[li] = s;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) {
      red[li] += red[li + off];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(params.D) + params.eps);
  for (var k = li; k < params.D; k += 256u) {
    act[y0 + k] = act[x0 + k] * inv * nw[params.w_off + k];
  }
}
