// Decode attention, split over the keys (phase 1 of 2): one workgroup per
// (head, chunk of 32 keys) instead of one per head walking every key, so a
// step has n_head * chunks workgroups. 4 lanes per key each dot a quarter of
// the head's dims (their reads of a key row are contiguous); then the
// chunk's maximum score m, its sum l of exp(s - m) and its unnormalised
// output o[d] = sum exp(s_j - m) v_j[d] go to the scratch buffer at
// ((h * n_chunks + c) * (head_dim + 4)): m, l, two unused words, o (so o is
// vec4-aligned). attention_combine.wgsl merges the chunks, or the o
// projection does (mvx_from_attention.wgsl). One query token (q at q_off); head_dim % 4 == 0,
// <= 256. Grid: (n_head, n_chunks), with as_rope_kv.wgsl (n_head, n_chunks + 1).
// The inputs come in one of two forms, each a file that defines the `kc`,
// `vc` bindings and q_dim, new_key_value, key_dim, value_dim:
// as_cached.wgsl (q as given, every key and value from the caches) or
// as_rope_kv.wgsl (q and the new key rotated here, and the new key and value
// stored into the caches here: decode's rope_kv.wgsl folded in).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<f32>;

const KEYS: u32 = 32u;
const PARTS: u32 = 4u;  // lanes per key
var<workgroup> qs: array<f32, 256>;
var<workgroup> dots: array<f32, 128>;
var<workgroup> ps: array<f32, 32>;

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
  let hd = params.head_dim;
  let hk = h / (params.n_head / params.n_head_kv);
  let n_kv = params.n_past + 1u;
  for (var i = li; i < hd; i += 128u) {
    qs[i] = q_dim(h, i);
  }
  new_key_value(li, h, hk, c);
  workgroupBarrier();
  let key = li / PARTS;
  let part = li % PARTS;
  let j = c * KEYS + key;
  let span = hd / PARTS;
  var d = 0.0;
  if (j < n_kv) {
    let kb = j * params.k_row + hk * hd + part * span;
    let i0 = part * span;
    if ((kb & 1u) == 0u && (span & 1u) == 0u) {
      // two dims per load (one word of an f16 cache): half the loads of
      // this latency-bound loop
      for (var i = 0u; i < span; i += 2u) {
        let k2 = key_dims2(j, kb + i, i0 + i);
        d += k2.x * qs[i0 + i];  // (the one-dim loop's order of sums)
        d += k2.y * qs[i0 + i + 1u];
      }
    } else {
      for (var i = 0u; i < span; i++) {
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
  let base = (h * params.n_chunks + c) * (hd + 4u);
  for (var i = li; i < hd; i += 128u) {
    let vb = (hk * hd + i) * params.v_row + c * KEYS;
    var a = 0.0;
    var k = 0u;
    if ((vb & 1u) == 0u) {
      // two keys per load (the value cache is transposed: a dim's row
      // holds consecutive positions), all KEYS of the chunk: a fixed trip
      // count lets the compiler issue the loads together; the keys past
      // n_kv (beyond what was stored: any value, NaN too) add exactly 0, so
      // the sum is the one over n_here keys
      for (; k < KEYS; k += 2u) {
        let v2 = value_dims2(c * KEYS + k, vb + k, i);
        a += select(0.0, ps[k] * v2.x, k < n_here);
        a += select(0.0, ps[k + 1u] * v2.y, k + 1u < n_here);
      }
    }
    for (; k < n_here; k++) {
      a += ps[k] * value_dim(c * KEYS + k, vb + k, i);
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
}
