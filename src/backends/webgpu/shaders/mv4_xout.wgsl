// A plain matvec4.wgsl (MODE 0, normally with the residual add) whose
// output h is next read by an RMSNorm fused into int8-x matvecs: it also
// writes h times the norm's weights g as int8 blocks for them (mvx_q8g.wgsl's
// record at vec4 word params.xo_off of xg_out), so they skip quantizing x
// themselves. A workgroup's 32 rows are one 32-value block of x (the
// backend uses this only where GROUPS * R / S == 32 and n % 32 == 0): its
// row totals gather in workgroup memory, then 8 invocations each round 4
// values and a ninth writes the block's scales and h . h, with the
// arithmetic of mvx_q8.wgsl's x_prepare (the same per-block sums, in the
// same order), so the record holds what the readers would have computed.
// Bindings (declared by the backend): xo_g (the norm's weights, vec4s) and
// xg_out.
var<workgroup> xo_h: array<f32, 32>;

fn x_out(li: u32, wgx: u32, i: u32, valid: bool, out: f32) {
  if (valid) {
    xo_h[i] = out;
  }
  workgroupBarrier();
  if (li >= 9u) {
    return;
  }
  var x: array<vec4<f32>, 8>;
  var ss = 0.0;
  let g4 = (params.xo_gain_off >> 2u) + 8u * wgx;
  for (var j = 0u; j < 8u; j++) {
    let h = vec4<f32>(xo_h[4u * j], xo_h[4u * j + 1u], xo_h[4u * j + 2u], xo_h[4u * j + 3u]);
    ss += dot(h, h);
    x[j] = h * xo_g[g4 + j];
  }
  var amax = vec4<f32>(0.0);
  for (var j = 0u; j < 8u; j++) {
    amax = max(amax, abs(x[j]));
  }
  let m = max(max(amax.x, amax.y), max(amax.z, amax.w));
  let inv = select(0.0, 127.0 / m, m > 0.0);
  let base = params.xo_off + 3u * wgx;
  if (li < 8u) {
    xg_out[base + (li >> 2u)][li & 3u] = pack4xI8(vec4<i32>(round(x[li] * inv)));
    return;
  }
  var sum = array<vec4<i32>, 2>();
  for (var j = 0u; j < 8u; j++) {
    sum[j >> 2u] += vec4<i32>(round(x[j] * inv));
  }
  let d = m / 127.0;
  let lo = f32(sum[0].x + sum[0].y + sum[0].z + sum[0].w);
  let hi = f32(sum[1].x + sum[1].y + sum[1].z + sum[1].w);
  xg_out[base + 2u] = bitcast<vec4<u32>>(vec4<f32>(d, d * (lo + hi), d * lo, d * hi));
  let nb = params.n0 >> 5u;
  xg_out[params.xo_off + 3u * nb + (wgx >> 2u)][wgx & 3u] = bitcast<u32>(ss);
}
