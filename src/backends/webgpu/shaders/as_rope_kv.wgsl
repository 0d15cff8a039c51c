// attention_split.wgsl's inputs straight from the Q/K/V matvecs: q, k
// before RoPE (at q_off, k_off) and v (at v_off) of the token at position
// n_past in act. q is rotated as the workgroup loads it; the chunk that
// holds position n_past takes the new key (rotated) and value from
// workgroup memory instead of the caches, and one of its workgroups per KV
// head (the first query head of the group) stores them into the caches
// with rope_kv.wgsl's layout and arithmetic, as its last act. What the
// other workgroups read of position n_past from the caches (stale or new)
// is replaced by the values from act; an f16 value word shared with
// position n_past - 1 keeps that half, which the storing lane read with
// its chunk's values (the other half of a word starting at n_past is past
// n_kv: never used). Needs rope_rotate.wgsl, kv_cache_at.wgsl.
@group(0) @binding(1) var<storage, read_write> kc: array<u32>;
@group(0) @binding(2) var<storage, read_write> vc: array<u32>;
@group(0) @binding(4) var<storage, read> inputs: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> new_k: array<f32, 256>;
var<workgroup> new_v: array<f32, 256>;

fn as_stored(x: f32) -> f32 {
  if (F16) {
    return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
  }
  return x;
}
fn q_dim(h: u32, i: u32) -> f32 {
  return rotated(params.q_off + h * HEAD_DIM, i, params.cs_q);
}
// The new key and value into workgroup memory, in the chunk that holds
// position n_past (as the caches hold them: f16 caches round, so this
// step's scores are the ones a later step computes from the caches).
fn new_key_value(li: u32, hk: u32, c: u32) {
  if (c != params.n_past / KEYS) {
    return;
  }
  for (var i = li; i < HEAD_DIM; i += 128u) {
    new_k[i] = as_stored(rotated(params.k_off + hk * HEAD_DIM, i, params.cs_k));
    new_v[i] = as_stored(act[params.v_off + hk * HEAD_DIM + i]);
  }
}
// The cache stores, from workgroup memory (written before a barrier the
// caller passed). values_paired, vw: whether lane li read its dim's values
// of chunk c as words, and those words.
fn store_new_key_value(li: u32, h: u32, hk: u32, c: u32, values_paired: bool, vw: array<vec2<f32>, KEYS / 2u>) {
  let pos = params.n_past;
  if (c != pos / KEYS || h % (params.n_head / params.n_head_kv) != 0u) {
    return;
  }
  for (var i = 2u * li; i < HEAD_DIM; i += 256u) {
    let e = pos * params.k_row + hk * HEAD_DIM + i;  // dims (i, i + 1): one f16 word
    if (F16) {
      kc[e / 2u] = pack2x16float(vec2<f32>(new_k[i], new_k[i + 1u]));
    } else {
      kc[e] = bitcast<u32>(new_k[i]);
      kc[e + 1u] = bitcast<u32>(new_k[i + 1u]);
    }
  }
  for (var i = li; i < HEAD_DIM; i += 128u) {
    let e = (hk * HEAD_DIM + i) * params.v_row + pos;  // row hk * HEAD_DIM + i of the value cache
    let v = new_v[i];
    if (F16) {
      var pair: vec2<f32>;
      if (i == li && values_paired) {
        pair = vw[(pos - c * KEYS) / 2u];
      } else {
        pair = unpack2x16float(vc[e / 2u]);
      }
      if ((pos & 1u) == 0u) {
        pair.x = v;
      } else {
        pair.y = v;
      }
      vc[e / 2u] = pack2x16float(pair);
    } else {
      vc[e] = bitcast<u32>(v);
    }
  }
}
fn key_dim(j: u32, e: u32, i: u32) -> f32 {
  if (j == params.n_past) {
    return new_k[i];
  }
  return cache_at(true, e);
}
fn value_dim(j: u32, e: u32, i: u32) -> f32 {
  if (j == params.n_past) {
    return new_v[i];
  }
  return cache_at(false, e);
}
// Dims i, i + 1 of key j, read from the cache as `cached` (for the new key
// a stale word, discarded: a load that does not depend on the key can be
// issued with the others).
fn key_pair(j: u32, cached: vec2<f32>, i: u32) -> vec2<f32> {
  return select(cached, vec2<f32>(new_k[i], new_k[i + 1u]), j == params.n_past);
}
// Dim i of values j, j + 1, read from the cache as `cached`.
fn value_pair(j: u32, cached: vec2<f32>, i: u32) -> vec2<f32> {
  var v = cached;
  if (j == params.n_past) {
    v.x = new_v[i];
  }
  if (j + 1u == params.n_past) {
    v.y = new_v[i];
  }
  return v;
}
