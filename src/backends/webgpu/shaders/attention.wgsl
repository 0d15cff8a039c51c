// Causal grouped-query attention over the KV cache, one workgroup per
// (head, query token), keys in chunks of 64 with an online softmax (running
// maximum and sum), so any context length fits in workgroup memory.
// q: [n_head * head_dim, T] in act; K cache rows per position; V cache
// transposed (rows per dimension); f32 or f16 (packed) caches.
// Grid: (n_head, T).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<u32>;
@group(0) @binding(2) var<storage, read> vc: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 64u;
const MAX_DIMS_PER_LANE: u32 = 4u;  // head_dim <= 256
var<workgroup> qs: array<f32, 256>;
var<workgroup> ps: array<f32, 64>;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let t = wg.y;
  let hd = params.head_dim;
  let hk = h / (params.n_head / params.n_head_kv);
  let q0 = params.q_off + t * params.q_stride + h * hd;
  for (var i = li; i < hd; i += WG) {
    qs[i] = act[q0 + i];
  }
  workgroupBarrier();
  let n_kv = params.n_past + t + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, MAX_DIMS_PER_LANE>;
  for (var r = 0u; r < MAX_DIMS_PER_LANE; r++) {
    acc[r] = 0.0;
  }
  for (var c0 = 0u; c0 < n_kv; c0 += WG) {
    let j = c0 + li;
    var s = -3.0e38;
    if (j < n_kv) {
      let kb = j * params.k_row + hk * hd;
      var d = 0.0;
      for (var i = 0u; i < hd; i++) {
        d += cache_at(true, kb + i) * qs[i];
      }
      s = params.scale * d;
    }
    red[li] = s;
    workgroupBarrier();
    for (var off = WG / 2u; off > 0u; off >>= 1u) {
      if (li < off) {
        red[li] = max(red[li], red[li + off]);
      }
      workgroupBarrier();
    }
    let m_new = max(m, red[0]);
    workgroupBarrier();
    let corr = exp(m - m_new);
    var p = 0.0;
    if (j < n_kv) {
      p = exp(s - m_new);
    }
    ps[li] = p;
    red[li] = p;
    workgroupBarrier();
    for (var off = WG / 2u; off > 0u; off >>= 1u) {
      if (li < off) {
        red[li] += red[li + off];
      }
      workgroupBarrier();
    }
    l = l * corr + red[0];
    let n_here = min(WG, n_kv - c0);
    for (var r = 0u; r < MAX_DIMS_PER_LANE; r++) {
      let i = li + r * WG;
      if (i < hd) {
        let vb = (hk * hd + i) * params.v_row + c0;
        var a = 0.0;
        for (var jj = 0u; jj < n_here; jj++) {
          a += ps[jj] * cache_at(false, vb + jj);
        }
        acc[r] = acc[r] * corr + a;
      }
    }
    m = m_new;
    workgroupBarrier();
  }
  let y0 = params.y_off + t * params.y_stride + h * hd;
  for (var r = 0u; r < MAX_DIMS_PER_LANE; r++) {
    let i = li + r * WG;
    if (i < hd) {
      act[y0 + i] = acc[r] / l;
    }
  }
}
