// matvec4.wgsl's x in int8 blocks that the matvec before it wrote
// (mv4_xout.wgsl: the residual stream h times the norm's weights, rounded as
// mvx_q8.wgsl rounds it, with h . h per block), read per block from the xg
// buffer (bound at the norm's slot; L1 and L2 serve the repeated reads)
// instead of quantized into workgroup memory first: no prologue reading and
// rounding all of x in every workgroup, no workgroup memory for Dawn to
// zero-fill, no barrier before the first weight loads. Measured on an H200
// (bench/webgpu/matvec_probe.mjs --xg, 2026-11-28): a 7B Q/K/V + norm
// dispatch 12.3 -> 8.6 us, gate/up + norm 15.1 -> 12.6 us (2 rows per
// group); a matvec without the norm's prologue gained nothing (it is
// cheap there), so only a norm's readers take x this way.
// The record at vec4 word params.xg_off: block kb's values in words 3 kb,
// 3 kb + 1 and its scales (mvx_q8.wgsl's XBlock.d, f32 bits) in 3 kb + 2;
// then h . h of block kb at word 3 nb + kb / 4, component kb % 4.
// Needs the type's block_dot_q8x (mv4x8_<type>.wgsl) and the `xg` binding.
struct XBlock {
  q: array<vec4<u32>, 2>,
  d: vec4<f32>,
}

fn x_prepare(li: u32) {}

fn x_block(kb: u32, ss: ptr<function, f32>) -> XBlock {
  let base = params.xg_off;
  if (NORM) {
    *ss += bitcast<f32>(xg[base + 3u * (params.K >> 5u) + (kb >> 2u)][kb & 3u]);
  }
  return XBlock(array<vec4<u32>, 2>(xg[base + 3u * kb], xg[base + 3u * kb + 1u]),
                bitcast<vec4<f32>>(xg[base + 3u * kb + 2u]));
}

fn block_dot_x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  return block_dot_q8x(b, v, s, x);
}
