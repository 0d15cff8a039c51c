// matvec4.wgsl's block format for f32 weights: 32 weights of a row (rows
// hold K / 32 such blocks when K is a multiple of 32) are vec4 words
// 8b..8b+7.
const BLOCK_WORDS: u32 = 8u;
const BLOCK_SCALED: bool = false;

fn block_dot(v: array<vec4<u32>, BLOCK_WORDS>, x: array<vec4<f32>, 8>) -> f32 {
  var d = 0.0;
  for (var j = 0u; j < 8u; j++) {
    d += dot(bitcast<vec4<f32>>(v[j]), x[j]);
  }
  return d;
}
