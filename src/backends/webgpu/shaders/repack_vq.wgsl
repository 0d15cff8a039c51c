// Rewrites wa_vq2 / wa_vq3 super-blocks (quant/blocks.h) into their GPU
// block format (the type's mv4_<type>.wgsl, prepended, with repack_io.wgsl):
// each 32-weight block's VQ_CODE_WORDS words of codes (wa_vq3's with the
// block's scale in the top 4 bits) to u32 words VQ_CODE_WORDS b + t, the
// file's bytes unchanged; wa_vq2's word of 8 4-bit scales, written by a
// super-block's first block; and the word of f16 d of a pair of
// super-blocks, written by the pair's first block. One invocation per
// 32-weight block. Grid: (ceil(n_blocks / 256), y) with rows of the grid
// continuing the count.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * 256u;
  if (b >= params.n_blocks) {
    return;
  }
  let o = (b >> 3u) * params.block_bytes;  // the super-block's bytes: codes, [scales], d
  let c = b & 7u;
  for (var t = 0u; t < VQ_CODE_WORDS; t++) {
    w[VQ_CODE_WORDS * b + t] = word_at(o + 4u * (VQ_CODE_WORDS * c + t));
  }
  if (SCALE_WORDS == 2u && c == 0u) {  // wa_vq2's scales[4], after the 32 codes
    w[params.w_scales + scale_word(b, 0u)] = word_at(o + 32u * VQ_CODE_WORDS);
  }
  if ((b & 15u) == 0u) {
    var d = half_at(o + params.block_bytes - 2u);
    if (b + 8u < params.n_blocks) {
      d |= half_at(o + 2u * params.block_bytes - 2u) << 16u;
    }
    w[params.w_scales + scale_word(b, SCALE_WORDS - 1u)] = d;
  }
}
