// Two or three decode matvecs of one x in one dispatch (attention's Q, K
// and V): y_m = W_m x for m < n_mat, each W_m in its own binding with its own
// row count, scales and destination. Workgroups [0, wg1) compute W_0's rows,
// [wg1, wg2) W_1's, the rest W_2's (a workgroup's matrix is uniform, so the
// branch costs nothing); within a matrix, matvec4.wgsl's scheme (8 groups of
// 32 lanes, R rows per group, x read once per block for all R rows).
// Block format and block_dot_w0/1/2 are prepended (mv4_<type>.wgsl,
// mv4_binding.wgsl). With two matrices w2 is bound to w1 and never read.
// Grid: (wg2 + ceil(n2 / (8 R)), 1).
@group(0) @binding(0) var<storage, read> w0: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> w1: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w2: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> act: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

const LANES: u32 = 32u;
const GROUPS: u32 = 8u;
const R: u32 = ROWS_PER_GROUP;
var<workgroup> partial: array<f32, 256u * ROWS_PER_GROUP>;

fn block_dot_of(m: u32, b: u32, x: array<vec4<f32>, 8>) -> f32 {
  switch m {
    case 0u: { return block_dot_w0(b, x, params.s0); }
    case 1u: { return block_dot_w1(b, x, params.s1); }
    default: { return block_dot_w2(b, x, params.s2); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let m = select(select(2u, 1u, wg.x < params.wg2), 0u, wg.x < params.wg1);
  let first_wg = select(select(params.wg2, params.wg1, m == 1u), 0u, m == 0u);
  let n = select(select(params.n2, params.n1, m == 1u), params.n0, m == 0u);
  let y_off = select(select(params.y2, params.y1, m == 1u), params.y0, m == 0u);
  let lane = li % LANES;
  let group = li / LANES;
  let wrow0 = (wg.x - first_wg) * GROUPS * R;
  let row0 = wrow0 + group * R;
  let nb = params.K >> 5u;
  let x4 = params.x_off >> 2u;
  var rb: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    rb[r] = min(row0 + r, n - 1u) * nb;
  }
  var s: array<f32, R>;
  for (var kb = lane; kb < nb; kb += LANES) {
    var x: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
      x[j] = act[x4 + 8u * kb + j];
    }
    for (var r = 0u; r < R; r++) {
      s[r] += block_dot_of(m, rb[r] + kb, x);
    }
  }
  for (var r = 0u; r < R; r++) {
    partial[(group * R + r) * LANES + lane] = s[r];
  }
  workgroupBarrier();
  if (li < GROUPS * R) {
    let row = wrow0 + li;
    if (row < n) {
      var y = 0.0;
      for (var i = 0u; i < LANES; i++) {
        y += partial[li * LANES + i];
      }
      let yi = y_off + row;
      act[yi >> 2u][yi & 3u] = y;
    }
  }
}
