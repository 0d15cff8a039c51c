// The f16 scale of block b of a q8_0 / q4_0 weight in repack.wgsl's GPU
// layout: every block's scale, two per word, from word params.w_scales.
fn w_scale(b: u32) -> f32 {
  let v = unpack2x16float(w[params.w_scales + (b >> 1u)]);
  return select(v.x, v.y, (b & 1u) == 1u);
}
