// attention_split.wgsl's inputs as the graph left them: q (RoPE applied)
// in act, every key and value in the caches. Needs kv_cache_at.wgsl.
@group(0) @binding(1) var<storage, read> kc: array<u32>;
@group(0) @binding(2) var<storage, read> vc: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

fn q_dim(h: u32, i: u32) -> f32 {
  return act[params.q_off + h * params.head_dim + i];
}
fn new_key_value(li: u32, h: u32, hk: u32, c: u32) {}
fn store_new_key_value(li: u32, hk: u32) {}  // (no store row in the grid)
// Dim i of key j, at element e of the key cache.
fn key_dim(j: u32, e: u32, i: u32) -> f32 {
  return cache_at(true, e);
}
// Dim i of value j, at element e of the value cache.
fn value_dim(j: u32, e: u32, i: u32) -> f32 {
  return cache_at(false, e);
}
// Dims i, i + 1 of key j at elements e, e + 1 (e even).
fn key_dims2(j: u32, e: u32, i: u32) -> vec2<f32> {
  return cache_pair(true, e);
}
// Dim i of values j, j + 1 at elements e, e + 1 (e even).
fn value_dims2(j: u32, e: u32, i: u32) -> vec2<f32> {
  return cache_pair(false, e);
}
