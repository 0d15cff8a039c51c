// y[n, t] = W[n, :] . x[:, t] (+ r) for decode, activations read as vec4s
// (the backend uses it when x_off, x_stride, y_off, y_stride, r_off and K are
// multiples of 4; matvec.wgsl otherwise). A workgroup is 8 groups of 32
// lanes; a group computes R rows, lane l taking blocks l, l + 32, ... of
// each: per block one 16-byte-aligned load of the row's weights per row, and
// the block's 32 x values (8 vec4 loads, from L1: every group reads the same
// x) once for all R rows. That keeps x traffic at most the weights' and many
// weight loads in flight per lane, which is what a bandwidth-bound matvec
// needs (matvec.wgsl staged x in workgroup memory and read it back per
// weight word: 4x the weights' bytes, shared-memory bound). The type's
// block format (mv4_<type>.wgsl) and block_dot_w (mv4_binding.wgsl) are
// prepended; matvec4_glu.wgsl and matvec4_multi.wgsl share them.
// Grid: (ceil(N / (8 R)), T).
@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> act: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

const LANES: u32 = 32u;
const GROUPS: u32 = 8u;
const R: u32 = ROWS_PER_GROUP;
var<workgroup> partial: array<f32, 256u * ROWS_PER_GROUP>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lane = li % LANES;
  let group = li / LANES;
  let row0 = (wg.x * GROUPS + group) * R;
  let nb = params.K >> 5u;
  let x4 = (params.x_off + wg.y * params.x_stride) >> 2u;
  // Rows past N read the last row (in bounds) and are never written.
  var rb: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    rb[r] = min(row0 + r, params.N - 1u) * nb;
  }
  var s: array<f32, R>;
  for (var kb = lane; kb < nb; kb += LANES) {
    var x: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
      x[j] = act[x4 + 8u * kb + j];
    }
    for (var r = 0u; r < R; r++) {
      s[r] += block_dot_w(rb[r] + kb, x, params.w_scales);
    }
  }
  for (var r = 0u; r < R; r++) {
    partial[(group * R + r) * LANES + lane] = s[r];
  }
  workgroupBarrier();
  if (li < GROUPS * R) {
    let row = wg.x * GROUPS * R + li;
    if (row < params.N) {
      var y = 0.0;
      for (var i = 0u; i < LANES; i++) {
        y += partial[li * LANES + i];
      }
      if (params.add_r != 0u) {
        let ri = params.r_off + row;
        y += act[ri >> 2u][ri & 3u];  // a fused residual add (decode: one column)
      }
      let yi = params.y_off + wg.y * params.y_stride + row;
      act[yi >> 2u][yi & 3u] = y;
    }
  }
}
