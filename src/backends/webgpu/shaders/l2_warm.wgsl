// The next matvec's weights read once into the GPU's L2 cache by extra
// workgroups of a dispatch that leaves the memory bus idle: the split decode
// attention spends ~13 us per layer on round trips (an H100, 7B) while it
// reads a few hundred KB, so the o projection after it finds its weights in
// L2 instead of DRAM (H100, 7B q4_0: 2.834 -> 2.784 ms per decode step,
// BENCHMARKS 2026-11-28; warming the gate/up matrices too measured slower).
// The loads are folded into one word, stored (to a scratch word nothing
// reads) only if it equals a constant: the store depends on every load, so
// no compiler can drop one.
@group(0) @binding(5) var<storage, read> warm_src: array<vec4<u32>>;

// Workgroup w of params.warm_groups, lane li of 128: a grid-stride read of
// all of warm_src, eight independent loads per trip.
fn warm_next_weights(li: u32, w: u32) {
  let n = arrayLength(&warm_src);
  let stride = params.warm_groups * 128u;
  var a0 = vec4<u32>(0u);
  var a1 = vec4<u32>(0u);
  var a2 = vec4<u32>(0u);
  var a3 = vec4<u32>(0u);
  var i = w * 128u + li;
  // No serial tail of one load per trip (a round trip each: 2.771 -> 2.745
  // ms per H100 7B step without it): the last trip's loads past the end
  // are in WebGPU's robust bounds (each reads some word of the buffer, or 0).
  loop {
    if (i >= n) { break; }
    a0 ^= warm_src[i] ^ warm_src[i + 4u * stride];
    a1 ^= warm_src[i + stride] ^ warm_src[i + 5u * stride];
    a2 ^= warm_src[i + 2u * stride] ^ warm_src[i + 6u * stride];
    a3 ^= warm_src[i + 3u * stride] ^ warm_src[i + 7u * stride];
    i += 8u * stride;
  }
  let v = (a0 ^ a1) ^ (a2 ^ a3);
  if (((v.x ^ v.y) ^ (v.z ^ v.w)) == 0x5eed1e55u) {
    scratch[params.warm_sink] = 0.0;
  }
}
