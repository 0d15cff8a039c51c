// matvec4.wgsl's block format for f16 weights: 32 weights of a row (rows
// hold K / 32 such blocks when K is a multiple of 32) are vec4 words
// 4b..4b+3, two weights per u32.
const BLOCK_WORDS: u32 = 4u;
const SCALE_WORDS: u32 = 0u;  // no scales

fn block_word(b: u32, j: u32) -> u32 {
  return 4u * b + j;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return 0u;
}

fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  var d = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let q = v[j];
    let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
    let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
    d += dot(lo, x[2u * j]) + dot(hi, x[2u * j + 1u]);
  }
  return d;
}
