// Block b of the matrix in binding WB, dotted with x and scaled, in the block
// format prepended before it (mv4_<type>.wgsl). The format says where a
// block's bytes are: BLOCK_WORDS vec4 words of values at block_word(b, j),
// and SCALE_WORDS (0, 1 or 2) u32 words of scales at word `scales` +
// scale_word(b, j) (a matrix's scales follow its values); its block_dot
// applies them. The backend includes this once per weight binding of a
// kernel, with WB renamed (WGSL functions cannot take a storage binding as an
// argument without an extension).
fn block_dot_WB(b: u32, x: array<vec4<f32>, 8>, scales: u32) -> f32 {
  return block_dot(b, block_words_WB(b), block_scales_WB(b, scales), x);
}

// The two loads of block_dot_WB, for kernels that issue several blocks'
// loads before using any (loads in flight hide memory latency).
fn block_words_WB(b: u32) -> array<vec4<u32>, BLOCK_WORDS> {
  var v: array<vec4<u32>, BLOCK_WORDS>;
  for (var j = 0u; j < BLOCK_WORDS; j++) {
    v[j] = WB[block_word(b, j)];
  }
  return v;
}
fn block_scales_WB(b: u32, scales: u32) -> array<u32, 2> {
  var s: array<u32, 2>;
  for (var j = 0u; j < SCALE_WORDS; j++) {
    let word = scales + scale_word(b, j);
    s[j] = WB[word >> 2u][word & 3u];
  }
  return s;
}
