// y[n, t] = sum_k W[n, k] x[k, t] for prompts: 64 x 64 output tiles, k in
// steps of 16 through workgroup memory, 4 x 4 outputs per invocation.
// Weights are dequantized into the tile (w_<type>.wgsl's w_get). Grid:
// (ceil(N / 64), ceil(T / 64)).
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const BN: u32 = 64u;
const BT: u32 = 64u;
const BK: u32 = 16u;
var<workgroup> ws: array<f32, 1024>;  // [BN][BK]
var<workgroup> xs: array<f32, 1024>;  // [BK][BT]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wg: vec3<u32>) {
  let n0 = wg.x * BN;
  let t0 = wg.y * BT;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) {
    acc[i] = 0.0;
  }
  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + 256u * i;
      let nn = n0 + e / BK;
      let kk = k0 + e % BK;
      var v = 0.0;
      if (nn < params.N && kk < params.K) {
        v = w_get(nn, kk);
      }
      ws[e] = v;
      let kx = k0 + e / BT;
      let tt = t0 + e % BT;
      var xv = 0.0;
      if (tt < params.T && kx < params.K) {
        xv = act[params.x_off + tt * params.x_stride + kx];
      }
      xs[e] = xv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let wv = vec4<f32>(ws[(lid.y * 4u) * BK + kk], ws[(lid.y * 4u + 1u) * BK + kk], ws[(lid.y * 4u + 2u) * BK + kk],
                         ws[(lid.y * 4u + 3u) * BK + kk]);
      let xv = vec4<f32>(xs[kk * BT + lid.x * 4u], xs[kk * BT + lid.x * 4u + 1u], xs[kk * BT + lid.x * 4u + 2u],
                         xs[kk * BT + lid.x * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] += wv[i] * xv[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let t = t0 + lid.x * 4u + j;
      if (n < params.N && t < params.T) {
        act[params.y_off + t * params.y_stride + n] = acc[i * 4u + j];
      }
    }
  }
}
