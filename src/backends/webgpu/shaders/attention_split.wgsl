// Decode attention, split over the keys (phase 1 of 2): one workgroup per
// (head, chunk of 32 keys) instead of one per head walking every key, so a
// step has n_head * chunks workgroups. 4 lanes per key each dot a quarter of
// the head's dims (their reads of a key row are contiguous); then the
// chunk's maximum score m, its sum l of exp(s - m) and its unnormalised
// output o[d] = sum exp(s_j - m) v_j[d] go to the scratch buffer at
// ((h * n_chunks + c) * (head_dim + 4)): m, l, two unused words, o (so o is
// vec4-aligned). attention_combine.wgsl merges the chunks, or the o
// projection does (mvx_from_attention.wgsl). One query token (q at q_off);
// head_dim % 4 == 0 (f16 caches: % 8 and an even v_row, so that a lane's
// words hold only its own dims and positions), <= 256. Grid: (n_head,
// n_chunks), with as_rope_kv.wgsl (n_head, n_chunks + 1).
// The inputs come in one of two forms, each a file that defines the `kc`,
// `vc` bindings and q_dim, new_key_value, store_new_key_value, key_at,
// value_at:
// as_cached.wgsl (q as given, every key and value from the caches) or
// as_rope_kv.wgsl (q and the new key rotated here, and the new key and value
// stored into the caches here: decode's rope_kv.wgsl folded in).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<f32>;

const KEYS: u32 = 32u;
const PARTS: u32 = 4u;  // lanes per key
// The kernel is specialized to the model (kernel_sources.cpp): params.head_dim
// and the cache type are constants here.
const HD: u32 = params.head_dim;
const F16: bool = params.f16 != 0u;  // two dims (positions) per cache word
const SPAN: u32 = HD / PARTS;  // dims of a key per lane
const KEY_WORDS: u32 = select(SPAN, SPAN / 2u, F16);
const VALUE_DIMS: u32 = (HD + 127u) / 128u;  // value dims per lane
const VALUE_WORDS: u32 = select(KEYS, KEYS / 2u, F16);
var<workgroup> qs: array<f32, 256>;
var<workgroup> dots: array<f32, 128>;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let c = wg.y;
  if (c >= params.n_chunks) {
    // (as_rope_kv.wgsl's grid has this extra row: the cache stores; with
    // l2_warm.wgsl, rows after it warm the L2 cache for the next matvec)
    if (c == params.n_chunks) {
      store_new_key_value(li, h);
    } else {
      warm_next_weights(li, (c - params.n_chunks - 1u) * params.n_head + h);
    }
    return;
  }
  let hk = h / (params.n_head / params.n_head_kv);
  let n_kv = params.n_past + 1u;
  let key = li / PARTS;
  let part = li % PARTS;
  let j = c * KEYS + key;
  let i0 = part * SPAN;
  // Every cache load first: none depends on another load, so the lane has
  // them all in flight at once instead of one round trip for q, one for the
  // keys and one for the values (the dispatch is latency-bound: it reads a
  // few hundred KB). Positions past n_kv (past the cache too, in the last
  // chunk of a full cache: robust access reads something) are never used.
  var kw: array<u32, KEY_WORDS>;
  let kb = j * params.k_row + hk * HD + i0;
  for (var t = 0u; t < KEY_WORDS; t++) {
    kw[t] = kc[select(kb, kb / 2u, F16) + t];
  }
  var vw: array<array<u32, VALUE_WORDS>, VALUE_DIMS>;
  for (var u = 0u; u < VALUE_DIMS; u++) {
    let vb = (hk * HD + min(li + u * 128u, HD - 1u)) * params.v_row + c * KEYS;
    for (var t = 0u; t < VALUE_WORDS; t++) {
      vw[u][t] = vc[select(vb, vb / 2u, F16) + t];
    }
  }
  for (var i = li; i < HD; i += 128u) {
    qs[i] = q_dim(h, i);
  }
  new_key_value(li, h, hk, c);
  workgroupBarrier();
  var d = 0.0;
  if (j < n_kv) {
    for (var t = 0u; t < KEY_WORDS; t++) {
      if (F16) {
        let k2 = unpack2x16float(kw[t]);
        d += key_at(j, i0 + 2u * t, k2.x) * qs[i0 + 2u * t];
        d += key_at(j, i0 + 2u * t + 1u, k2.y) * qs[i0 + 2u * t + 1u];
      } else {
        d += key_at(j, i0 + t, bitcast<f32>(kw[t])) * qs[i0 + t];
      }
    }
  }
  dots[li] = d;
  workgroupBarrier();
  // Every lane reads the 32 scores and computes every weight p_k itself (no
  // reduction rounds, no barrier, no serial chain of workgroup-memory reads:
  // fixed trip counts, the keys past n_kv masked by select).
  var sc: array<f32, KEYS>;
  var m = -3.0e38;
  for (var k = 0u; k < KEYS; k++) {
    sc[k] = params.scale * (((dots[PARTS * k] + dots[PARTS * k + 1u]) + dots[PARTS * k + 2u]) + dots[PARTS * k + 3u]);
    m = select(m, max(m, sc[k]), c * KEYS + k < n_kv);
  }
  var ps: array<f32, KEYS>;
  for (var k = 0u; k < KEYS; k++) {
    ps[k] = select(0.0, exp(sc[k] - m), c * KEYS + k < n_kv);
  }
  let n_here = min(KEYS, n_kv - c * KEYS);
  let base = (h * params.n_chunks + c) * (HD + 4u);
  for (var u = 0u; u < VALUE_DIMS; u++) {
    let i = li + u * 128u;
    if (i < HD) {
      // all KEYS of the chunk (a fixed trip count); the keys past n_kv
      // (any value, NaN too) add exactly 0, so the sum is the one over
      // n_here keys
      var a = 0.0;
      for (var t = 0u; t < VALUE_WORDS; t++) {
        if (F16) {
          let v2 = unpack2x16float(vw[u][t]);
          let k = 2u * t;
          a += select(0.0, ps[k] * value_at(c * KEYS + k, i, v2.x), k < n_here);
          a += select(0.0, ps[k + 1u] * value_at(c * KEYS + k + 1u, i, v2.y), k + 1u < n_here);
        } else {
          a += select(0.0, ps[t] * value_at(c * KEYS + t, i, bitcast<f32>(vw[u][t])), t < n_here);
        }
      }
      scratch[base + 4u + i] = a;
    }
  }
  if (li == 0u) {
    // (the weights past n_here are 0: adding them leaves l as it is)
    var l = 0.0;
    for (var k = 0u; k < KEYS; k++) {
      l += ps[k];
    }
    scratch[base] = m;
    scratch[base + 1u] = l;
  }
}
