// matvec4.wgsl's extra workgroups (MV_WARM): the o projection after a split
// decode attention finds its own weights in L2 (the attention's l2_warm.wgsl
// rows read them there), so it leaves the memory bus idle; params.warm_groups
// extra workgroups of its grid read the first params.warm_words vec4 words
// of the next SwiGLU's gate and up matrices (warm_a, warm_b) into L2 in that
// time (H100, 7B q4_0: 2.776 -> 2.764 ms per decode step with 3 MiB of
// each, BENCHMARKS 2026-11-28). No serial tail of one load per trip: the
// last trip's loads past warm_words read on into the matrix (warm_words is
// a whole number of trips unless the matrix is smaller), or past its end,
// where WebGPU's robust bounds make them read some word of it, or 0.
// The loads are folded into one word and stored only if it equals a
// constant while warm_words is 0, which never holds when these workgroups
// load anything: the store is dead at run time, but depends on every load
// as far as a compiler can tell, so none is dropped.
fn warm_next(li: u32, w: u32) {
  let n = params.warm_words;
  let stride = params.warm_groups * 256u;
  var a0 = vec4<u32>(0u);
  var a1 = vec4<u32>(0u);
  var a2 = vec4<u32>(0u);
  var a3 = vec4<u32>(0u);
  for (var i = w * 256u + li; i < n; i += 4u * stride) {
    a0 ^= warm_a[i] ^ warm_b[i];
    a1 ^= warm_a[i + stride] ^ warm_b[i + stride];
    a2 ^= warm_a[i + 2u * stride] ^ warm_b[i + 2u * stride];
    a3 ^= warm_a[i + 3u * stride] ^ warm_b[i + 3u * stride];
  }
  let v = (a0 ^ a1) ^ (a2 ^ a3);
  if (((v.x ^ v.y) ^ (v.z ^ v.w)) == 0x5eed1e55u && n == 0u) {
    act[0] = vec4<f32>(0.0);
  }
}
