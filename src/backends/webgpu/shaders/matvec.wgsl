// y[n, t] = dot(W[n, :], x[:, t]) for a few tokens (decode): 8 rows per
// workgroup, 32 lanes per row striding over the row, a tree reduction in
// workgroup memory. Grid: (ceil(N / 8), T). The weight type's access
// functions (w_<type>.wgsl) are prepended.
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const LANES: u32 = 32u;
const ROWS: u32 = 8u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = li % LANES;
  let row = wg.x * ROWS + li / LANES;
  let t = wg.y;
  var s = 0.0;
  if (row < params.N) {
    s = w_row_partial(row, lane, LANES, params.x_off + t * params.x_stride);
  }
  partial[li] = s;
  workgroupBarrier();
  for (var off = LANES / 2u; off > 0u; off >>= 1u) {
    if (lane < off) {
      partial[li] += partial[li + off];
    }
    workgroupBarrier();
  }
  if (lane == 0u && row < params.N) {
    act[params.y_off + t * params.y_stride + row] = partial[li];
  }
}
