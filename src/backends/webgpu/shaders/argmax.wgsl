// The index of the largest of n values (the first one on ties, as the CPU
// sampler does), written as a u32 at y_off. One workgroup. Greedy decoding
// reads back this one word instead of the logits.
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const BATCH: u32 = 8u;
var<workgroup> best_v: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  // BATCH independent loads per invocation before their use: one workgroup
  // reading all the values is latency-bound otherwise. (Slots past n load
  // the last value, in bounds, and are skipped.)
  for (var base = li; base < params.n; base += 256u * BATCH) {
    var v: array<f32, BATCH>;
    for (var j = 0u; j < BATCH; j++) {
      v[j] = act[params.x_off + min(base + j * 256u, params.n - 1u)];
    }
    for (var j = 0u; j < BATCH; j++) {
      let i = base + j * 256u;
      if (i < params.n && (v[j] > bv || bi == 0xffffffffu)) {
        bv = v[j];
        bi = i;
      }
    }
  }
  best_v[li] = bv;
  best_i[li] = bi;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) {
      let ov = best_v[li + off];
      let oi = best_i[li + off];
      if (oi != 0xffffffffu && (ov > best_v[li] || (ov == best_v[li] && oi < best_i[li]) || best_i[li] == 0xffffffffu)) {
        best_v[li] = ov;
        best_i[li] = oi;
      }
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    act[params.y_off] = bitcast<f32>(best_i[0]);
  }
}
