// Decode attention, split over the keys (phase 1 of 2): one workgroup per
// (head, chunk of 32 keys) instead of one per head walking every key, so a
// step has n_head * chunks workgroups. 4 lanes per key each dot a quarter of
// the head's dims (their reads of a key row are contiguous); then the
// chunk's maximum score m, its sum l of exp(s - m) and its unnormalised
// output o[d] = sum exp(s_j - m) v_j[d] go to the scratch buffer at
// ((h * n_chunks + c) * (head_dim + 4)): m, l, two unused words, o (so o is
// vec4-aligned). attention_combine.wgsl merges the chunks, or the o
// projection does (mvx_from_attention.wgsl). One query token (q at q_off); head_dim % 4 == 0,
// <= 256. Grid: (n_head, n_chunks).
// The inputs come in one of two forms, each a file that defines the `kc`,
// `vc` bindings and q_dim, new_key_value, key_dim, value_dim:
// as_cached.wgsl (q as given, every key and value from the caches) or
// as_rope_kv.wgsl (q and the new key rotated here, and the new key and value
// stored into the caches here: decode's rope_kv.wgsl folded in).
// The dispatch is latency-bound (32-128 workgroups, a few KB read each), so
// every load from the caches is issued first, before q is read: this lane's
// quarter of its key and the chunk's values of dim li, held in registers
// (the H100's 7B step, 2026-11-28: the dispatch's work cost 11.8 us per
// layer, 6.2 of it before the first barrier, when q, the new key and the
// cache stores each waited on the loads before them). The cache stores
// come last, from workgroup memory, with nothing after them to wait.
// HEAD_DIM: the head size, a constant of the pipeline (the backend's
// attention_split_kernel()).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<f32>;

const KEYS: u32 = 32u;
const PARTS: u32 = 4u;  // lanes per key
const SPAN: u32 = HEAD_DIM / PARTS;  // a lane's dims of its key
var<workgroup> qs: array<f32, 256>;
var<workgroup> dots: array<f32, 128>;
var<workgroup> ps: array<f32, 32>;

// sum_k p_k v_k[i] over the chunk's keys from the words w of dim i (values
// k, k + 1 in w[k / 2]); the keys past n_kv (beyond what was stored: any
// value, NaN too) add exactly 0, so the sum is the one over n_here keys.
fn value_sum(c: u32, i: u32, w: array<vec2<f32>, KEYS / 2u>, n_here: u32) -> f32 {
  var a = 0.0;
  for (var k = 0u; k < KEYS; k += 2u) {
    let v2 = value_pair(c * KEYS + k, w[k / 2u], i);
    a += select(0.0, ps[k] * v2.x, k < n_here);
    a += select(0.0, ps[k + 1u] * v2.y, k + 1u < n_here);
  }
  return a;
}

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let c = wg.y;
  let hk = h / (params.n_head / params.n_head_kv);
  let n_kv = params.n_past + 1u;
  let key = li / PARTS;
  let part = li % PARTS;
  let j = c * KEYS + key;
  let i0 = part * SPAN;
  // The loads from the caches. Keys past n_kv read key n_kv - 1 (in
  // bounds) and are never used; with two values per word (f16) a pair
  // must start on a word.
  let kb = min(j, n_kv - 1u) * params.k_row + hk * HEAD_DIM + i0;
  let keys_paired = (kb & 1u) == 0u && (SPAN & 1u) == 0u;
  var kw: array<vec2<f32>, max(SPAN / 2u, 1u)>;  // (a head of 4 dims: no pairs)
  if (keys_paired) {
    for (var t = 0u; t < SPAN / 2u; t++) {
      kw[t] = cache_pair(true, kb + 2u * t);
    }
  }
  let vb = (hk * HEAD_DIM + li) * params.v_row + c * KEYS;
  let values_paired = li < HEAD_DIM && (vb & 1u) == 0u;
  var vw: array<vec2<f32>, KEYS / 2u>;
  if (values_paired) {
    for (var t = 0u; t < KEYS / 2u; t++) {
      vw[t] = cache_pair(false, vb + 2u * t);
    }
  }
  for (var i = li; i < HEAD_DIM; i += 128u) {
    qs[i] = q_dim(h, i);
  }
  new_key_value(li, hk, c);
  workgroupBarrier();
  var d = 0.0;
  if (j < n_kv) {
    if (keys_paired) {
      for (var t = 0u; t < SPAN / 2u; t++) {
        let k2 = key_pair(j, kw[t], i0 + 2u * t);
        d += k2.x * qs[i0 + 2u * t];  // (the one-dim loop's order of sums)
        d += k2.y * qs[i0 + 2u * t + 1u];
      }
    } else {
      for (var i = 0u; i < SPAN; i++) {
        d += key_dim(j, kb + i, i0 + i) * qs[i0 + i];
      }
    }
  }
  dots[li] = d;
  workgroupBarrier();
  // Every lane reads the 32 scores (no reduction rounds: they are few).
  var m = -3.0e38;
  for (var k = 0u; k < KEYS; k++) {
    if (c * KEYS + k < n_kv) {
      let s = params.scale * (((dots[PARTS * k] + dots[PARTS * k + 1u]) + dots[PARTS * k + 2u]) + dots[PARTS * k + 3u]);
      m = max(m, s);
    }
  }
  workgroupBarrier();
  if (li < KEYS) {
    var p = 0.0;
    if (c * KEYS + li < n_kv) {
      let s = params.scale * (((dots[PARTS * li] + dots[PARTS * li + 1u]) + dots[PARTS * li + 2u]) + dots[PARTS * li + 3u]);
      p = exp(s - m);
    }
    ps[li] = p;
  }
  workgroupBarrier();
  let n_here = min(KEYS, n_kv - c * KEYS);
  let base = (h * params.n_chunks + c) * (HEAD_DIM + 4u);
  for (var i = li; i < HEAD_DIM; i += 128u) {
    let vbi = (hk * HEAD_DIM + i) * params.v_row + c * KEYS;
    var a = 0.0;
    if (i == li && values_paired) {
      a = value_sum(c, i, vw, n_here);
    } else if ((vbi & 1u) == 0u) {
      var w: array<vec2<f32>, KEYS / 2u>;
      for (var t = 0u; t < KEYS / 2u; t++) {
        w[t] = cache_pair(false, vbi + 2u * t);
      }
      a = value_sum(c, i, w, n_here);
    } else {
      for (var k = 0u; k < n_here; k++) {
        a += ps[k] * value_dim(c * KEYS + k, vbi + k, i);
      }
    }
    scratch[base + 4u + i] = a;
  }
  if (li == 0u) {
    var l = 0.0;
    for (var k = 0u; k < n_here; k++) {
      l += ps[k];
    }
    scratch[base] = m;
    scratch[base + 1u] = l;
  }
  store_new_key_value(li, h, hk, c, values_paired, vw);
}
