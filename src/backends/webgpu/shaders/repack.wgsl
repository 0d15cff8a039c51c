// Rewrites GGUF q8_0 / q4_0 blocks (34 / 18 bytes: an f16 scale, then the
// values; blocks are not word aligned) into the GPU layout of
// w_q8_0.wgsl / w_q4_0.wgsl: values of block b in words, then all scales,
// two per word. One invocation per pair of blocks (a scale word is written
// by one invocation). Grid: (ceil(n_blocks / 2 / 256), y) with rows of the
// grid continuing the count. The bindings and byte readers: repack_io.wgsl.

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let pair = gid.x + gid.y * nwg.x * 256u;
  let b0 = 2u * pair;
  if (b0 >= params.n_blocks) {
    return;
  }
  let block_bytes = params.block_bytes;  // 34 (q8_0) or 18 (q4_0)
  let words = (block_bytes - 2u) / 4u;   // 8 or 4
  var scales = 0u;
  for (var k = 0u; k < 2u; k++) {
    let b = b0 + k;
    if (b >= params.n_blocks) {
      break;
    }
    let o = b * block_bytes;
    scales |= half_at(o) << (16u * k);
    for (var j = 0u; j < words; j++) {
      let q = o + 2u + 4u * j;
      w[words * b + j] = word_at(q);
    }
  }
  w[params.w_scales + pair] = scales;
}
