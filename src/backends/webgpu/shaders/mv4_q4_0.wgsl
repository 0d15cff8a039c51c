// matvec4.wgsl's block format for q4_0 (repack.wgsl's layout: block b's 16
// bytes of 4-bit values are vec4 word b, its f16 scale with the others from
// word params.w_scales). Byte i of the block holds weight i in its low nibble
// and weight i + 16 in its high nibble, so word j covers weights 4j..4j+3
// (x[j]) and 16+4j..16+4j+3 (x[j + 4]). Values are (nibble - 8) * scale.
const BLOCK_WORDS: u32 = 1u;  // vec4 words of values per 32-weight block
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return b;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b >> 1u;
}

// Nibbles as floats minus 8 without integer-to-float conversions (a
// quarter-rate instruction on NVIDIA GPUs, which made these matvecs
// compute-bound): a nibble in the low mantissa bits of 2^23 is the float
// 2^23 + nibble, exactly.
fn nibbles_lo(q: u32) -> vec4<f32> {
  let m = (vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u)) | vec4<u32>(0x4b000000u);
  return bitcast<vec4<f32>>(m) - 8388616.0;  // 2^23 + 8
}
fn nibbles_hi(q: u32) -> vec4<f32> {
  let m = (vec4<u32>(q >> 4u, q >> 12u, q >> 20u, q >> 28u) & vec4<u32>(15u)) | vec4<u32>(0x4b000000u);
  return bitcast<vec4<f32>>(m) - 8388616.0;
}

// The block's values . x, times its scale (half b & 1 of the scale word).
fn block_dot(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: array<vec4<f32>, 8>) -> f32 {
  let q = v[0];
  let h = unpack2x16float(s[0]);
  let d = dot(nibbles_lo(q.x), x[0]) + dot(nibbles_lo(q.y), x[1]) + dot(nibbles_lo(q.z), x[2]) +
          dot(nibbles_lo(q.w), x[3]) + dot(nibbles_hi(q.x), x[4]) + dot(nibbles_hi(q.y), x[5]) +
          dot(nibbles_hi(q.z), x[6]) + dot(nibbles_hi(q.w), x[7]);
  return select(h.x, h.y, (b & 1u) == 1u) * d;
}
