// Weight access for the types with a block format: the bit-plane types
// (q4_1, q5_0, q5_1, q2_K .. q6_K; mv4_planes.wgsl describes the layout) and
// the vector-quantized wa_vq2, wa_vq3 (mv4_vq.wgsl), through the type's
// mv4_<type>.wgsl, prepended with its family's file: a block's words are
// loaded from the u32 binding `w` and decoded by the format's block_value,
// which computes each weight as the reference dequantizer does. Rows hold
// K / 32 blocks. Needs: `w: array<u32>`, `params.K`, `params.w_scales`.

struct PlaneBlock {
  v: array<vec4<u32>, BLOCK_WORDS>,
  s: array<u32, 2>,
}

fn w_block(b: u32) -> PlaneBlock {
  var p: PlaneBlock;
  for (var j = 0u; j < BLOCK_WORDS; j++) {
    let i = 4u * block_word(b, j);
    p.v[j] = vec4<u32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u]);
  }
  for (var j = 0u; j < SCALE_WORDS; j++) {
    p.s[j] = w[params.w_scales + scale_word(b, j)];
  }
  return p;
}

fn w_get(row: u32, k: u32) -> f32 {
  let b = row * (params.K >> 5u) + (k >> 5u);
  let p = w_block(b);
  return block_value(b, p.v, p.s, k & 31u);
}
