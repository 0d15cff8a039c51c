// The block format of wa_vq2 (mv4_vq.wgsl; quant/vq.h defines the codes):
// a block's 4 16-bit codes are 2 words, the file's qs as they are, so 2
// blocks share a vec4 word (block b's are components 2 (b % 2) and
// 2 (b % 2) + 1 of vec4 word b / 2: u32 word 2b + t). Scales: per pair of
// super-blocks 3 words, each one's 8 4-bit scales (the file's scales[4];
// block j's in bits 4j .. 4j + 3), then both f16 d (the even super-block's
// in the low half): 70 bytes per 256 weights, as in the file.
const VQ_INDEX_BITS: u32 = 9u;
const VQ_CODE_WORDS: u32 = 2u;  // u32 words of codes per block (repack_vq.wgsl)
const BLOCK_WORDS: u32 = 1u;
const SCALE_WORDS: u32 = 2u;

fn block_word(b: u32, j: u32) -> u32 {
  return b >> 1u;
}
fn scale_word(b: u32, j: u32) -> u32 {
  return 3u * (b >> 4u) + select((b >> 3u) & 1u, 2u, j == 1u);
}

fn vq_codes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>) -> vec4<u32> {
  let c = 2u * (b & 1u);
  let w0 = v[0][c];
  let w1 = v[0][c + 1u];
  return vec4<u32>(w0 & 0xffffu, w0 >> 16u, w1 & 0xffffu, w1 >> 16u);
}

fn vq_step(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>) -> f32 {
  let sc = (s[0] >> (4u * (b & 7u))) & 15u;
  return 0.5 * unpack2x16float(s[1])[(b >> 3u) & 1u] * f32(sc + 1u);
}
