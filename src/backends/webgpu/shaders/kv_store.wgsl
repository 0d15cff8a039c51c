// Writes x [width, T] into a KV cache at positions [pos, pos + T).
// Key caches hold one row of `width` values per position; value caches are
// transposed, one row of n_ctx positions per dimension. f16 caches pack two
// halves per word (no shader-f16 needed): each invocation owns whole words,
// so no two invocations write the same word (n_ctx and width are even).
// Grid: (ceil(n_items / 256), 1, 1) with n_items as the host computed it.
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read_write> cache: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn x_at(d: u32, t: u32) -> f32 {
  return act[params.x_off + t * params.x_stride + d];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * 256u;
  if (item >= params.n_items) {
    return;
  }
  if (params.f16 == 0u) {
    if (params.transposed == 0u) {
      let t = item / params.width;
      let d = item % params.width;
      cache[(params.pos + t) * params.width + d] = bitcast<u32>(x_at(d, t));
    } else {
      let d = item / params.T;
      let t = item % params.T;
      cache[d * params.n_ctx + params.pos + t] = bitcast<u32>(x_at(d, t));
    }
    return;
  }
  if (params.transposed == 0u) {
    // one word = dims (2j, 2j + 1) of one token
    let half_w = params.width / 2u;
    let t = item / half_w;
    let j = item % half_w;
    cache[(params.pos + t) * half_w + j] = pack2x16float(vec2<f32>(x_at(2u * j, t), x_at(2u * j + 1u, t)));
  } else {
    // one word = positions (2j, 2j + 1) of one dimension's row; words at the
    // ends of the range keep their other half
    let first = params.pos / 2u;
    let n_words = (params.pos + params.T + 1u) / 2u - first;
    let d = item / n_words;
    let j = first + item % n_words;
    let wi = d * (params.n_ctx / 2u) + j;
    var v = unpack2x16float(cache[wi]);
    let p0 = 2u * j;
    if (p0 >= params.pos && p0 < params.pos + params.T) {
      v.x = x_at(d, p0 - params.pos);
    }
    if (p0 + 1u >= params.pos && p0 + 1u < params.pos + params.T) {
      v.y = x_at(d, p0 + 1u - params.pos);
    }
    cache[wi] = pack2x16float(v);
  }
}
