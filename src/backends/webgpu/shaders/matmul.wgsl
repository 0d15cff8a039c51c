// y[n, t] = sum_k W[n, k] x[k, t] for prompts: MM_BN x MM_BT output tiles
// (weight rows x tokens), k in steps of 32 (one quantized block per row)
// through workgroup memory. mm_<type>.wgsl dequantizes the weight tile 64
// rows at a time, 8 values per invocation, a block's words at a time. Both
// tiles are stored k-major as vec4s, so each step of k reads an invocation's
// 4-row and 4-token groups with one 16-byte load each. An invocation owns
// (MM_BN / 16) x (MM_BT / 16) outputs: 4 x 4 blocks 64 rows and 64 tokens
// apart, so the 16 invocations along a dimension read 16 consecutive vec4s
// (no bank conflicts) and each loaded vec4 feeds 4 or 8 vec4 FMAs. The
// tile is chosen per device from its workgroup storage (matmul_tile()).
// MM_T is the tiles' scalar type: f32, or f16 where the device has
// shader-f16 (`enable f16;` heads the module). In f16 the tiles take half
// the workgroup memory and a vec4 multiply-add is two packed f16x2
// instructions on GPUs that have them, twice the f32 rate: each k-step's
// products are summed in f16 (`part`, 32 terms) and added to f32 totals
// after it, so rounding grows with 32 terms, not with K.
// Grid: (ceil(N / MM_BN), ceil(T / MM_BT)).
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const BN: u32 = MM_BN;
const BT: u32 = MM_BT;
const BK: u32 = 32u;
const RN: u32 = BN / 64u;  // 4-row groups per invocation
const RT: u32 = BT / 64u;  // 4-token groups per invocation
const HALF: bool = MM_HALF;  // MM_T is f16
var<workgroup> ws: array<vec4<MM_T>, BK * BN / 4u>;  // [BK][BN]
var<workgroup> xs: array<vec4<MM_T>, BK * BT / 4u>;  // [BK][BT]

// The weight tile's value at k-step kk of tile row r (for the loaders).
fn ws_set(kk: u32, r: u32, v: f32) {
  ws[(kk * BN + r) >> 2u][r & 3u] = MM_T(v);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wg: vec3<u32>) {
  let n0 = wg.x * BN;
  let t0 = wg.y * BT;
  var acc: array<vec4<f32>, 4u * RN * RT>;  // [row group a][row i][token group b]: 4 tokens
  var part: array<vec4<MM_T>, 4u * RN * RT>;  // HALF: this k-step's sums, like acc
  for (var i = 0u; i < 4u * RN * RT; i++) {
    acc[i] = vec4<f32>(0.0);
    part[i] = vec4<MM_T>(0.0);
  }
  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    for (var r0 = 0u; r0 < BN; r0 += 64u) {
      mm_load_w_tile(li, n0, k0, r0);
    }
    // x: 4 consecutive k of one token per invocation, consecutive
    // invocations on consecutive tokens (conflict-free stores).
    for (var e = li; e < BT * BK / 4u; e += 256u) {
      let tt = e % BT;
      let kq = 4u * (e / BT);
      var xv = vec4<f32>(0.0);
      if (t0 + tt < params.T) {
        let xb = params.x_off + (t0 + tt) * params.x_stride + k0 + kq;
        for (var i = 0u; i < 4u; i++) {
          if (k0 + kq + i < params.K) {
            xv[i] = act[xb + i];
          }
        }
      }
      for (var i = 0u; i < 4u; i++) {
        xs[((kq + i) * BT + tt) >> 2u][tt & 3u] = MM_T(xv[i]);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var wv: array<vec4<MM_T>, RN>;
      var xv: array<vec4<MM_T>, RT>;
      for (var a = 0u; a < RN; a++) {
        wv[a] = ws[(kk * BN + 64u * a) / 4u + lid.y];
      }
      for (var b = 0u; b < RT; b++) {
        xv[b] = xs[(kk * BT + 64u * b) / 4u + lid.x];
      }
      for (var a = 0u; a < RN; a++) {
        for (var b = 0u; b < RT; b++) {
          let i0 = 4u * a * RT + b;
          if (HALF) {
            part[i0] += wv[a].x * xv[b];
            part[i0 + RT] += wv[a].y * xv[b];
            part[i0 + 2u * RT] += wv[a].z * xv[b];
            part[i0 + 3u * RT] += wv[a].w * xv[b];
          } else {  // (the conversions are f32 to f32 here: no-ops)
            acc[i0] += vec4<f32>(wv[a].x * xv[b]);
            acc[i0 + RT] += vec4<f32>(wv[a].y * xv[b]);
            acc[i0 + 2u * RT] += vec4<f32>(wv[a].z * xv[b]);
            acc[i0 + 3u * RT] += vec4<f32>(wv[a].w * xv[b]);
          }
        }
      }
    }
    if (HALF) {
      for (var i = 0u; i < 4u * RN * RT; i++) {
        acc[i] += vec4<f32>(part[i]);
        part[i] = vec4<MM_T>(0.0);
      }
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < RN; a++) {
    for (var i = 0u; i < 4u; i++) {
      let n = n0 + 64u * a + 4u * lid.y + i;
      for (var b = 0u; b < RT; b++) {
        let o = acc[(4u * a + i) * RT + b];
        for (var j = 0u; j < 4u; j++) {
          let t = t0 + 64u * b + 4u * lid.x + j;
          if (n < params.N && t < params.T) {
            act[params.y_off + t * params.y_stride + n] = o[j];
          }
        }
      }
    }
  }
}
