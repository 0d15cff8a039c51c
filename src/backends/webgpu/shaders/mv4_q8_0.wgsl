// matvec4.wgsl's block format for q8_0 (repack.wgsl's layout: block b's 32
// int8 values are vec4 words 2b and 2b + 1, weight 4j + i in byte i of word
// j; its f16 scale with the others from word params.w_scales).
const BLOCK_WORDS: u32 = 2u;  // vec4 words of values per 32-weight block
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return 2u * b + j;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b >> 1u;
}

// The 4 int8 values of word q as floats, without integer-to-float
// conversions (a quarter-rate instruction on NVIDIA GPUs, which made these
// matvecs compute-bound): byte + 128 (the sign bit flipped) in the low
// mantissa bits of 2^23 is the float 2^23 + byte + 128, exactly.
fn q8_values(q: u32) -> vec4<f32> {
  let u = q ^ 0x80808080u;
  let m = (vec4<u32>(u, u >> 8u, u >> 16u, u >> 24u) & vec4<u32>(255u)) | vec4<u32>(0x4b000000u);
  return bitcast<vec4<f32>>(m) - 8388736.0;  // 2^23 + 128
}

// The block's values . x, times its scale (half b & 1 of the scale word).
fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let a = v[0];
  let c = v[1];
  let h = unpack2x16float(s[0]);
  let d = dot(q8_values(a.x), x[0]) + dot(q8_values(a.y), x[1]) + dot(q8_values(a.z), x[2]) +
          dot(q8_values(a.w), x[3]) + dot(q8_values(c.x), x[4]) + dot(q8_values(c.y), x[5]) +
          dot(q8_values(c.z), x[6]) + dot(q8_values(c.w), x[7]);
  return select(h.x, h.y, (b & 1u) == 1u) * d;
}
