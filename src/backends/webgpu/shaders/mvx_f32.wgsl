// matvec4.wgsl's x in f32: each lane reads its blocks of x (or of h, with
// the norm's weights applied) from act as it goes; every group reads the
// same x, from L1 after the first. Needs the block format's block_dot.
alias XBlock = array<vec4<f32>, 8>;

fn x_prepare(li: u32) {}

// Block kb of x; with NORM also adds h . h of the block to ss.
fn x_block(kb: u32, ss: ptr<function, f32>) -> XBlock {
  var x: XBlock;
  let x4 = (params.x_off >> 2u) + 8u * kb;
  for (var j = 0u; j < 8u; j++) {
    x[j] = act[x4 + j];
  }
  if (NORM) {
    let g4 = (params.norm_off >> 2u) + 8u * kb;
    for (var j = 0u; j < 8u; j++) {
      *ss += dot(x[j], x[j]);
      x[j] *= nw[g4 + j];
    }
  }
  return x;
}

fn block_dot_x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  return block_dot(b, v, s, x);
}
