// The feed-forward's gate and up matvecs and their SwiGLU in one dispatch
// for decode: y[n] = silu(G[n, :] . x) * (U[n, :] . x), G and U of the same
// shape and type. matvec4.wgsl's scheme (8 groups of 32 lanes, R rows per
// group, x read once per block for all 2R rows) with two weight bindings
// and the same block format (mv4_<type>.wgsl; block_dot_w and block_dot_wu
// from mv4_binding.wgsl). G and U have the same shape, so one w_scales
// serves both. Grid: (ceil(N / (8 R)), 1).
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> wu: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> act: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

const LANES: u32 = 32u;
const GROUPS: u32 = 8u;
const R: u32 = ROWS_PER_GROUP;
var<workgroup> partial: array<f32, 512u * ROWS_PER_GROUP>;

fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = li % LANES;
  let group = li / LANES;
  let row0 = (wg.x * GROUPS + group) * R;
  let nb = params.K >> 5u;
  let x4 = params.x_off >> 2u;
  var rb: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    rb[r] = min(row0 + r, params.N - 1u) * nb;
  }
  var sg: array<f32, R>;
  var su: array<f32, R>;
  for (var kb = lane; kb < nb; kb += LANES) {
    var x: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
      x[j] = act[x4 + 8u * kb + j];
    }
    for (var r = 0u; r < R; r++) {
      sg[r] += block_dot_w(rb[r] + kb, x, params.w_scales);
      su[r] += block_dot_wu(rb[r] + kb, x, params.w_scales);
    }
  }
  for (var r = 0u; r < R; r++) {
    partial[(group * R + r) * LANES + lane] = sg[r];
    partial[((GROUPS + group) * R + r) * LANES + lane] = su[r];
  }
  workgroupBarrier();
  if (li < GROUPS * R) {
    let row = wg.x * GROUPS * R + li;
    if (row < params.N) {
      var g = 0.0;
      var u = 0.0;
      for (var i = 0u; i < LANES; i++) {
        g += partial[li * LANES + i];
        u += partial[(GROUPS * R + li) * LANES + i];
      }
      let yi = params.y_off + row;
      act[yi >> 2u][yi & 3u] = silu(g) * u;
    }
  }
}
