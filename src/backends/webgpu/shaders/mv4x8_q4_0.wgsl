// q4_0's block (mv4_q4_0.wgsl) dotted with an int8 x block (mvx_q8.wgsl):
// the nibbles n as bytes (0..15, positive as int8) dotted with x's values,
// minus 8 times their sum: (n - 8) . q = n . q - 8 sum(q).
fn block_dot_q8x(b: u32, v: array<vec4<u32>, BLOCK_WORDS>, s: array<u32, 2>, x: XBlock) -> f32 {
  let q = v[0];
  let lo = vec4<u32>(0x0f0f0f0fu);
  let a = q & lo;
  let c = (q >> vec4<u32>(4u)) & lo;
  let i = dot4I8Packed(a.x, x.q[0].x) + dot4I8Packed(a.y, x.q[0].y) + dot4I8Packed(a.z, x.q[0].z) +
          dot4I8Packed(a.w, x.q[0].w) + dot4I8Packed(c.x, x.q[1].x) + dot4I8Packed(c.y, x.q[1].y) +
          dot4I8Packed(c.z, x.q[1].z) + dot4I8Packed(c.w, x.q[1].w);
  let h = unpack2x16float(s[0]);
  return select(h.x, h.y, (b & 1u) == 1u) * (x.d.x * f32(i) - 8.0 * x.d.y);
}
