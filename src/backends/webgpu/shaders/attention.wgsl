// Causal grouped-query attention over the KV cache for prompts (and decode
// where attention_split.wgsl can't take the head): flash-attention style.
// One workgroup takes a block of BQ query tokens of one head and walks the
// visible keys in tiles of BKV. Each tile is read from the caches once for
// the whole block (through workgroup memory) instead of once per query; the
// scores S = q k^T and the output O += P v are small matrix products with a
// 4 x 4 register tile per invocation, and an online softmax (running maximum
// m and sum l per query) rescales O, so the context length never bounds the
// workgroup memory. All of it fits 16 KiB of workgroup storage (WebGPU's
// default limit), so every device takes this path.
// q: [n_head * head_dim, T] in act; K cache rows per position; V cache
// transposed (rows per dimension); f32 or f16 (packed) caches.
// ATT_CHUNKS = ceil(head_dim / 32), a constant so each invocation's output
// registers (4 queries x 4 dims per chunk) are indexed statically.
// Grid: (ceil(T / BQ), n_head).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<u32>;
@group(0) @binding(2) var<storage, read> vc: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

const BQ: u32 = 64u;   // queries per workgroup
const BKV: u32 = 32u;  // keys per tile
const DK: u32 = 16u;   // head dims per step of the scores
const DV: u32 = 32u;   // head dims per step of the output
const NCH: u32 = ATT_CHUNKS;
const WG: u32 = 128u;  // (BQ / 4) x (BKV / 4) score tiles, (BQ / 4) x (DV / 4) output tiles

// Scores: q as [DK][BQ / 4] vec4 (4 queries, one dim) from 0, k as
// [DK][BKV / 4] (4 keys, one dim) from 256. Output: v as [BKV][DV / 4]
// (4 dims, one key) from 0.
var<workgroup> stage: array<vec4<f32>, 384>;
var<workgroup> ps: array<vec4<f32>, 512>;  // [BKV][BQ / 4]: scores, then exp(s - m)
var<workgroup> corr: array<f32, 64>;       // per query: the rescale of O for this tile, at the end 1 / l

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  // Later query blocks see more keys: start them first so the short ones
  // fill the tail.
  let t0 = (nwg.x - 1u - wg.x) * BQ;
  let h = wg.y;
  let hd = params.head_dim;
  let hk = h / (params.n_head / params.n_head_kv);
  let n_q = min(BQ, params.T - t0);
  let n_kv = params.n_past + t0 + n_q;  // keys visible to the block's last query
  let qa = li / 8u;  // this invocation's queries 4qa..4qa+3
  let kb = li % 8u;  // its keys 4kb..4kb+3 of a tile, or dims 4kb..4kb+3 of an output chunk
  let q_base = params.q_off + t0 * params.q_stride + h * hd;

  var acc: array<vec4<f32>, 4u * NCH>;  // [chunk][query]: 4 dims
  for (var i = 0u; i < 4u * NCH; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  var m = -3.0e38;  // the running maximum and sum of query li (li < BQ)
  var l = 0.0;

  for (var j0 = 0u; j0 < n_kv; j0 += BKV) {
    // ---- S = q k^T for the tile
    var s: array<vec4<f32>, 4>;  // [query]: 4 keys
    for (var i = 0u; i < 4u; i++) {
      s[i] = vec4<f32>(0.0);
    }
    for (var d0 = 0u; d0 < hd; d0 += DK) {
      for (var e = li; e < DK * BQ / 4u; e += WG) {
        let dd = e % DK;
        let q4 = e / DK;
        var v = vec4<f32>(0.0);
        if (d0 + dd < hd) {
          for (var i = 0u; i < 4u; i++) {
            if (4u * q4 + i < n_q) {
              v[i] = act[q_base + (4u * q4 + i) * params.q_stride + d0 + dd];
            }
          }
        }
        stage[dd * (BQ / 4u) + q4] = v;
      }
      {
        let dd = li % DK;
        let k4 = li / DK;
        var v = vec4<f32>(0.0);
        if (d0 + dd < hd) {
          for (var i = 0u; i < 4u; i++) {
            let j = j0 + 4u * k4 + i;
            if (j < n_kv) {
              v[i] = cache_at(true, j * params.k_row + hk * hd + d0 + dd);
            }
          }
        }
        stage[256u + dd * (BKV / 4u) + k4] = v;
      }
      workgroupBarrier();
      for (var dd = 0u; dd < DK; dd++) {
        let qv = stage[dd * (BQ / 4u) + qa];
        let kv = stage[256u + dd * (BKV / 4u) + kb];
        s[0] += qv.x * kv;
        s[1] += qv.y * kv;
        s[2] += qv.z * kv;
        s[3] += qv.w * kv;
      }
      workgroupBarrier();
    }
    // Scaled and causally masked: query t sees keys j <= n_past + t. A
    // query's first tile always holds key 0, so its maximum is finite.
    for (var c = 0u; c < 4u; c++) {
      let j = j0 + 4u * kb + c;
      var col: vec4<f32>;
      for (var i = 0u; i < 4u; i++) {
        let t = t0 + 4u * qa + i;
        col[i] = select(-3.0e38, params.scale * s[i][c], j <= params.n_past + t);
      }
      ps[(4u * kb + c) * (BQ / 4u) + qa] = col;
    }
    workgroupBarrier();

    // ---- online softmax: invocation li < BQ owns query li's m and l
    if (li < BQ) {
      let q4 = li / 4u;
      let qc = li % 4u;
      var mt = m;
      for (var k = 0u; k < BKV; k++) {
        mt = max(mt, ps[k * (BQ / 4u) + q4][qc]);
      }
      var sum = 0.0;
      for (var k = 0u; k < BKV; k++) {
        let p = exp(ps[k * (BQ / 4u) + q4][qc] - mt);
        ps[k * (BQ / 4u) + q4][qc] = p;
        sum += p;
      }
      let r = exp(m - mt);
      l = l * r + sum;
      m = mt;
      corr[li] = r;
    }
    workgroupBarrier();

    // ---- O = O * corr + P v, a chunk of DV dims at a time
    let r = vec4<f32>(corr[4u * qa], corr[4u * qa + 1u], corr[4u * qa + 2u], corr[4u * qa + 3u]);
    for (var ch = 0u; ch < NCH; ch++) {
      {
        // 4 dims of one key per vec4; consecutive invocations read
        // consecutive keys of a (transposed) V row.
        let k = li % BKV;
        let j = j0 + k;
        for (var d4 = li / BKV; d4 < DV / 4u; d4 += WG / BKV) {
          var v = vec4<f32>(0.0);
          if (j < n_kv) {
            for (var i = 0u; i < 4u; i++) {
              let d = ch * DV + 4u * d4 + i;
              if (d < hd) {
                v[i] = cache_at(false, (hk * hd + d) * params.v_row + j);
              }
            }
          }
          stage[k * (DV / 4u) + d4] = v;
        }
      }
      workgroupBarrier();
      var o0 = acc[4u * ch] * r.x;
      var o1 = acc[4u * ch + 1u] * r.y;
      var o2 = acc[4u * ch + 2u] * r.z;
      var o3 = acc[4u * ch + 3u] * r.w;
      for (var k = 0u; k < BKV; k++) {
        let p = ps[k * (BQ / 4u) + qa];
        let v = stage[k * (DV / 4u) + kb];
        o0 += p.x * v;
        o1 += p.y * v;
        o2 += p.z * v;
        o3 += p.w * v;
      }
      acc[4u * ch] = o0;
      acc[4u * ch + 1u] = o1;
      acc[4u * ch + 2u] = o2;
      acc[4u * ch + 3u] = o3;
      workgroupBarrier();
    }
  }

  if (li < BQ) {
    corr[li] = 1.0 / l;
  }
  workgroupBarrier();
  let y_base = params.y_off + t0 * params.y_stride + h * hd;
  for (var ch = 0u; ch < NCH; ch++) {
    for (var i = 0u; i < 4u; i++) {
      let t = 4u * qa + i;
      let o = acc[4u * ch + i] * corr[t];
      for (var c = 0u; c < 4u; c++) {
        let d = ch * DV + 4u * kb + c;
        if (t < n_q && d < hd) {
          act[y_base + t * params.y_stride + d] = o[c];
        }
      }
    }
  }
}
