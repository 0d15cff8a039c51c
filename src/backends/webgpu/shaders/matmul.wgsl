// y[n, t] = sum_k W[n, k] x[k, t] for prompts: 64 x 64 output tiles, k in
// steps of 32 (one quantized block per row) through workgroup memory, 4 x 4
// outputs per invocation. mm_<type>.wgsl dequantizes a 64 x 32 weight tile,
// 8 values per invocation, a block's words at a time. Both tiles are stored
// k-major so the inner loop reads 4 consecutive values of each.
// Grid: (ceil(N / 64), ceil(T / 64)).
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const BN: u32 = 64u;
const BT: u32 = 64u;
const BK: u32 = 32u;
var<workgroup> ws: array<f32, 2048>;  // [BK][BN]
var<workgroup> xs: array<f32, 2048>;  // [BK][BT]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wg: vec3<u32>) {
  let n0 = wg.x * BN;
  let t0 = wg.y * BT;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    mm_load_w_tile(li, n0, k0);
    for (var i = 0u; i < 8u; i++) {
      let e = li + 256u * i;
      let kk = e % BK;
      let tt = e / BK;
      var xv = 0.0;
      if (t0 + tt < params.T && k0 + kk < params.K) {
        xv = act[params.x_off + (t0 + tt) * params.x_stride + k0 + kk];
      }
      xs[kk * BT + tt] = xv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let wb = kk * BN + lid.y * 4u;
      let xb = kk * BT + lid.x * 4u;
      let wv = vec4<f32>(ws[wb], ws[wb + 1u], ws[wb + 2u], ws[wb + 3u]);
      let xv = vec4<f32>(xs[xb], xs[xb + 1u], xs[xb + 2u], xs[xb + 3u]);
      acc[0] += wv.x * xv;
      acc[1] += wv.y * xv;
      acc[2] += wv.z * xv;
      acc[3] += wv.w * xv;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let t = t0 + lid.x * 4u + j;
      if (n < params.N && t < params.T) {
        act[params.y_off + t * params.y_stride + n] = acc[i][j];
      }
    }
  }
}
