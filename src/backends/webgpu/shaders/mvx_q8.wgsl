// matvec4.wgsl's x in int8: the workgroup first quantizes x (with NORM: h
// times the norm's weights; the 1/rms factor is applied to the sums at the
// end) to 8 bits per value with one f32 scale per 32-value block, into
// workgroup memory; then a block's dot with the weights is 8 packed 4 x 8-bit
// integer dot products (dot4I8Packed) instead of 32 float conversions and
// multiply-adds, and a lane reads 32 bytes of x per block instead of 128.
// (The same rounding llama.cpp's and our CPU kernels apply to activations.)
// MV_X_BLOCKS: the capacity in 32-value blocks (at least K / 32; 52 bytes
// each; MatvecShape::x_blocks). Needs the
// type's block_dot_q8x (mv4x8_<type>.wgsl) and where x comes from:
// x_source_block (mvx_from_act.wgsl: act, or h with the norm applied;
// mvx_from_attention.wgsl: decode attention's chunks, merged).
struct XBlock {
  q: array<vec4<u32>, 2>,  // values 4j..4j+3 in word j, as int8
  // the block's scale d, and d times the sum of its values: of all 32, of
  // values 0..15 and of 16..31 (k-quants' 16-value sub-blocks)
  d: vec4<f32>,
}
var<workgroup> xq_values: array<vec4<u32>, 2u * MV_X_BLOCKS>;
var<workgroup> xq_scales: array<vec4<f32>, MV_X_BLOCKS>;
var<workgroup> xq_sumsq: array<f32, MV_X_BLOCKS>;  // h . h per block (NORM)

fn x_prepare(li: u32) {
  let nb = params.K >> 5u;
  for (var b = li; b < nb; b += GROUPS * LANES) {
    var ss = 0.0;
    let x = x_source_block(b, 0u, &ss);
    if (NORM) {
      xq_sumsq[b] = ss;
    }
    var amax = vec4<f32>(0.0);
    for (var j = 0u; j < 8u; j++) {
      amax = max(amax, abs(x[j]));
    }
    let m = max(max(amax.x, amax.y), max(amax.z, amax.w));
    let inv = select(0.0, 127.0 / m, m > 0.0);
    var w: array<u32, 8>;
    var sum = array<vec4<i32>, 2>();
    for (var j = 0u; j < 8u; j++) {
      let q = vec4<i32>(round(x[j] * inv));
      sum[j >> 2u] += q;
      w[j] = pack4xI8(q);
    }
    xq_values[2u * b] = vec4<u32>(w[0], w[1], w[2], w[3]);
    xq_values[2u * b + 1u] = vec4<u32>(w[4], w[5], w[6], w[7]);
    let d = m / 127.0;
    let lo = f32(sum[0].x + sum[0].y + sum[0].z + sum[0].w);
    let hi = f32(sum[1].x + sum[1].y + sum[1].z + sum[1].w);
    xq_scales[b] = vec4<f32>(d, d * (lo + hi), d * lo, d * hi);
  }
  workgroupBarrier();
}

fn x_block(kb: u32, t: u32, ss: ptr<function, f32>) -> XBlock {  // (one token: t is 0)
  if (NORM) {
    *ss += xq_sumsq[kb];
  }
  return XBlock(array<vec4<u32>, 2>(xq_values[2u * kb], xq_values[2u * kb + 1u]), xq_scales[kb]);
}

fn block_dot_x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  return block_dot_q8x(b, v, s, x);
}
