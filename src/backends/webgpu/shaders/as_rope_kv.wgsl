// attention_split.wgsl's inputs straight from the Q/K/V matvecs: q, k
// before RoPE (at q_off, k_off) and v (at v_off) of the token at position
// n_past in act. q is rotated as the workgroup loads it; the chunk that
// holds position n_past takes the new key (rotated) and value from
// workgroup memory instead of the caches, and a workgroup per KV head of
// the grid's last row stores them into the caches with rope_kv.wgsl's
// layout and arithmetic. No workgroup reads from the caches what this
// dispatch writes: the attention workgroups read position n_past from act,
// and an f16 value word shared with position n_past - 1 keeps that half
// (read-modify-write). Needs rope_rotate.wgsl.
@group(0) @binding(1) var<storage, read_write> kc: array<u32>;
@group(0) @binding(2) var<storage, read_write> vc: array<u32>;
@group(0) @binding(4) var<storage, read> inputs: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> new_k: array<f32, 256>;
var<workgroup> new_v: array<f32, 256>;

fn as_stored(x: f32) -> f32 {
  if (params.f16 != 0u) {
    return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
  }
  return x;
}
fn q_dim(h: u32, i: u32) -> f32 {
  return rotated(params.q_off + h * params.head_dim, i, params.cs_q);
}
// The new key and value into workgroup memory, in the chunk that holds
// position n_past (as the caches hold them: f16 caches round, so this
// step's scores are the ones a later step computes from the caches).
fn new_key_value(li: u32, h: u32, hk: u32, c: u32) {
  let pos = params.n_past;
  if (c != pos / KEYS) {
    return;
  }
  let hd = params.head_dim;
  for (var i = li; i < hd; i += 128u) {
    new_k[i] = as_stored(rotated(params.k_off + hk * hd, i, params.cs_k));
    new_v[i] = as_stored(act[params.v_off + hk * hd + i]);
  }
}
// The cache stores of KV head hk, in workgroups of their own (the grid's
// last row, attention_split.wgsl), so no attention workgroup waits on
// them: the stores wait on their loads, and the f16 value word on a read
// of the word (read-modify-write), which inside an attention workgroup put
// two more round trips before its first barrier (the H100's 7B step,
// 2026-11-28: that phase was half of the dispatch's time). A lane stores
// only what it computed itself.
fn store_new_key_value(li: u32, hk: u32) {
  if (hk >= params.n_head_kv) {
    return;
  }
  let pos = params.n_past;
  let hd = params.head_dim;
  for (var i = 2u * li; i < hd; i += 256u) {
    let a = rotated(params.k_off + hk * hd, i, params.cs_k);
    let b = rotated(params.k_off + hk * hd, i + 1u, params.cs_k);
    let e = pos * params.k_row + hk * hd + i;  // dims (i, i + 1): one f16 word
    if (params.f16 != 0u) {
      kc[e / 2u] = pack2x16float(vec2<f32>(a, b));
    } else {
      kc[e] = bitcast<u32>(a);
      kc[e + 1u] = bitcast<u32>(b);
    }
  }
  for (var i = li; i < hd; i += 128u) {
    let e = (hk * hd + i) * params.v_row + pos;  // row hk * hd + i of the value cache
    let v = act[params.v_off + hk * hd + i];
    if (params.f16 != 0u) {
      var pair = unpack2x16float(vc[e / 2u]);
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
// Dim i of key j and of value j, given the caches' word: position n_past
// from workgroup memory (another workgroup may be storing it; the cache's
// word was read anyway, so that no load depends on a branch).
fn key_at(j: u32, i: u32, cached: f32) -> f32 {
  return select(cached, new_k[i], j == params.n_past);
}
fn value_at(j: u32, i: u32, cached: f32) -> f32 {
  return select(cached, new_v[i], j == params.n_past);
}
