// The block format of wa_vq3 (mv4_vq.wgsl; quant/vq.h defines the codes):
// a block's 96-bit word (4 23-bit codes, the 4-bit scale in bits 92-95) is
// 3 u32 words, the file's as they are (u32 word 3b + t), so 4 blocks take 3
// vec4 words. A block's 3 words span at most 2 vec4s: its 2 loads are vec4
// words 3 (b / 4) + min(3 (b % 4) / 4 + j, 2), where its first word is
// component (-b) % 4 of the first (a warp's lanes read 32 consecutive
// blocks: contiguous bytes, each vec4 fetched once from L1). Scales: one
// word per pair of super-blocks, both f16 d (the even one's in the low
// half): 98 bytes per 256 weights, as in the file.
const VQ_INDEX_BITS: u32 = 16u;
const VQ_CODE_WORDS: u32 = 3u;  // u32 words of codes per block (repack_vq.wgsl)
const BLOCK_WORDS: u32 = 2u;
const SCALE_WORDS: u32 = 1u;

fn block_word(b: u32, j: u32) -> u32 {
  return 3u * (b >> 2u) + min(((3u * (b & 3u)) >> 2u) + j, 2u);
}
fn scale_word(b: u32, j: u32) -> u32 {
  return b >> 4u;
}

// Word t (0..2) of block b's 96 bits, from its two vec4 loads.
fn vq3_word(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, t: u32) -> u32 {
  let k = ((0u - b) & 3u) + t;
  return select(v[0][k & 3u], v[1][k & 3u], k >= 4u);
}

// Code j at bits 23j .. 23j + 22 of the 96-bit word.
fn vq_codes(b: u32, v: array<vec4<u32>, BLOCK_WORDS>) -> vec4<u32> {
  let w0 = vq3_word(b, v, 0u);
  let w1 = vq3_word(b, v, 1u);
  let w2 = vq3_word(b, v, 2u);
  return vec4<u32>(w0 & 0x7fffffu, (w0 >> 23u) | ((w1 & 0x3fffu) << 9u), (w1 >> 14u) | ((w2 & 0x1fu) << 18u),
                   (w2 >> 5u) & 0x7fffffu);
}

fn vq_step(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>) -> f32 {
  let sc = vq3_word(b, v, 2u) >> 28u;
  return 0.5 * unpack2x16float(s[0])[(b >> 3u) & 1u] * f32(sc + 1u);
}
