// y[n, t] = dot(W[n, :], x[:, t]) for decode: x is staged in workgroup
// memory (4096 values at a time, so any K fits the 16 KiB every device has),
// 8 rows per workgroup, 32 lanes per row. Lanes take neighbouring words of
// the row (mv_<type>.wgsl), so a warp's weight loads are one contiguous run
// and its reads of the staged x hit distinct banks (a lane per block would
// make all 32 lanes read the same bank: 32-way conflicts, measured 30x
// slower on an H200). One sum per row at the end.
// Grid: (ceil(N / 8), T).
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const LANES: u32 = 32u;
const ROWS: u32 = 8u;
const XS: u32 = 4096u;
var<workgroup> xs: array<vec4<f32>, 1024>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = li % LANES;
  let row = wg.x * ROWS + li / LANES;
  let t = wg.y;
  let x0 = params.x_off + t * params.x_stride;
  var s = 0.0;
  for (var k0 = 0u; k0 < params.K; k0 += XS) {
    let n = min(XS, params.K - k0);
    for (var i = li; i < n; i += 256u) {
      xs[i >> 2u][i & 3u] = act[x0 + k0 + i];
    }
    workgroupBarrier();
    if (row < params.N) {
      s += mv_row_partial(row, lane, k0, n);
    }
    workgroupBarrier();
  }
  // The staging area is free now: it holds the lanes' partial sums.
  xs[li].x = s;
  workgroupBarrier();
  if (lane == 0u && row < params.N) {
    var r = 0.0;
    for (var i = 0u; i < LANES; i++) {
      r += xs[li + i].x;
    }
    if (params.add_r != 0u) {
      r += act[params.r_off + row];  // a fused residual add (decode: one column)
    }
    act[params.y_off + t * params.y_stride + row] = r;
  }
}
