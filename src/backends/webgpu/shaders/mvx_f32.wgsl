// matvec4.wgsl's x in f32: each lane reads its blocks of x (or of h, with
// the norm's weights applied) from act as it goes; every group reads the
// same x, from L1 after the first. Needs the block format's block_dot and
// mvx_from_act.wgsl.
alias XBlock = array<vec4<f32>, 8>;

fn x_prepare(li: u32) {}

// Block kb of token t's x (mvx_from_act.wgsl).
fn x_block(kb: u32, t: u32, ss: ptr<function, f32>) -> XBlock {
  return x_source_block(kb, t, ss);
}

fn block_dot_x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  return block_dot(b, v, s, x);
}
