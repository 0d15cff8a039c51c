// Block b of the matrix in binding WB (its f16 scales, two per word, from
// word `scales`), dotted with x and scaled, in the block format prepended
// before it (mv4_<type>.wgsl). The backend includes this once per weight
// binding of a kernel, with WB renamed (WGSL functions cannot take a storage
// binding as an argument without an extension).
fn block_dot_WB(b: u32, x: array<vec4<f32>, 8>, scales: u32) -> f32 {
  return block_dot(block_words_WB(b), x) * block_scale_WB(b, scales);
}

// The two halves of block_dot_WB, for kernels that load several blocks'
// words before using any (loads in flight hide memory latency).
fn block_words_WB(b: u32) -> array<vec4<u32>, BLOCK_WORDS> {
  var v: array<vec4<u32>, BLOCK_WORDS>;
  for (var j = 0u; j < BLOCK_WORDS; j++) {
    v[j] = WB[BLOCK_WORDS * b + j];
  }
  return v;
}
fn block_scale_WB(b: u32, scales: u32) -> f32 {
  if (!BLOCK_SCALED) {
    return 1.0;
  }
  let word = scales + (b >> 1u);
  let h = unpack2x16float(WB[word >> 2u][word & 3u]);
  return select(h.x, h.y, (b & 1u) == 1u);
}
