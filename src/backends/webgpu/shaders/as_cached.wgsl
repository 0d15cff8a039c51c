// attention_split.wgsl's inputs as the graph left them: q (RoPE applied)
// in act, every key and value in the caches.
@group(0) @binding(1) var<storage, read> kc: array<u32>;
@group(0) @binding(2) var<storage, read> vc: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

fn q_dim(h: u32, i: u32) -> f32 {
  return act[params.q_off + h * params.head_dim + i];
}
fn new_key_value(li: u32, h: u32, hk: u32, c: u32) {}
fn store_new_key_value(li: u32, hk: u32) {}  // (no store row in the grid)
// Dim i of key j and of value j, given as the caches hold them.
fn key_at(j: u32, i: u32, cached: f32) -> f32 {
  return cached;
}
fn value_at(j: u32, i: u32, cached: f32) -> f32 {
  return cached;
}
