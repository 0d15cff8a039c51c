// matvec4.wgsl's block format for f32 weights: 32 weights of a row (rows
// hold K / 32 such blocks when K is a multiple of 32) are vec4 words
// 8b..8b+7.
const BLOCK_WORDS: u32 = 8u;
const SCALE_WORDS: u32 = 0u;  // no scales

fn block_word(b: u32, j: u32) -> u32 {
  return 8u * b + j;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return 0u;
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var d = 0.0;
  for (var j = 0u; j < 8u; j++) {
    d += dot(bitcast<vec4<f32>>(v[j]), x[j]);
  }
  return d;
}
