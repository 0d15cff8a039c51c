// Rotary position embedding. The cos/sin of every (token, frequency) come
// from the host (inputs, [T][n_rot / 2][2]), computed exactly as the CPU
// reference does: GPU sin/cos of large angles are not accurate enough.
// normal: pairs (2i, 2i + 1); neox: pairs (i, i + n_rot / 2); dims past
// n_rot are copied. One invocation per pair. Grid: (ceil(n_head * head_dim / 2 / 256), T).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half_dim = params.head_dim / 2u;
  let p = gid.x;
  let t = gid.y;
  if (p >= params.n_head * half_dim) {
    return;
  }
  let h = p / half_dim;
  let i = p % half_dim;
  let x0 = params.x_off + t * params.x_stride + h * params.head_dim;
  let y0 = params.y_off + t * params.y_stride + h * params.head_dim;
  let n_pairs = params.n_rot / 2u;
  if (i < n_pairs) {
    var i0 = 2u * i;
    var i1 = 2u * i + 1u;
    if (params.neox != 0u) {
      i0 = i;
      i1 = i + n_pairs;
    }
    let c = inputs[params.cs_off + 2u * (t * n_pairs + i)];
    let s = inputs[params.cs_off + 2u * (t * n_pairs + i) + 1u];
    let a = act[x0 + i0];
    let b = act[x0 + i1];
    act[y0 + i0] = a * c - b * s;
    act[y0 + i1] = a * s + b * c;
  } else {
    // the pass-through dims n_rot..head_dim, two per invocation
    let d = n_pairs * 2u + 2u * (i - n_pairs);
    act[y0 + d] = act[x0 + d];
    act[y0 + d + 1u] = act[x0 + d + 1u];
  }
}
