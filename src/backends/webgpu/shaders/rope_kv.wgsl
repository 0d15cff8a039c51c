// Decode attention's inputs in one dispatch: RoPE of q (into its output),
// RoPE of k stored into the key cache at position `pos`, and v stored into
// the transposed value cache (rope.wgsl + kv_store.wgsl for one token, with
// the same arithmetic). An invocation owns two neighbouring dims (2j, 2j+1)
// of q or k, so an f16 key cache word (two dims of one position) has one
// writer; each dim's rotated value needs only its pair partner (normal
// pairs (2i, 2i+1), neox pairs (i, i + n_rot / 2)). Value items: one dim
// each; an f16 value word (positions 2m, 2m+1 of one dim) keeps its other
// half. Items: q pairs, then k pairs, then v dims. Needs rope_rotate.wgsl.
// Grid: 1-D, folded into y. (Decode attention split over chunks takes all
// of this into its own kernel: attention_split.wgsl with as_rope_kv.wgsl.)
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;
@group(0) @binding(2) var<storage, read_write> kcache: array<u32>;
@group(0) @binding(3) var<storage, read_write> vcache: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let item = gid.x + gid.y * nwg.x * 256u;
  let half_dim = params.head_dim / 2u;
  let q_items = params.n_head * half_dim;
  let k_items = params.n_head_kv * half_dim;
  let kv_width = params.n_head_kv * params.head_dim;
  if (item < q_items) {
    let h = item / half_dim;
    let d = 2u * (item % half_dim);
    let x0 = params.q_off + h * params.head_dim;
    let y0 = params.qy_off + h * params.head_dim;
    act[y0 + d] = rotated(x0, d, params.cs_q);
    act[y0 + d + 1u] = rotated(x0, d + 1u, params.cs_q);
    return;
  }
  if (item < q_items + k_items) {
    let j = item - q_items;  // word j of the key row (dims 2j, 2j + 1)
    let h = j / half_dim;
    let d = 2u * (j % half_dim);
    let x0 = params.k_off + h * params.head_dim;
    let a = rotated(x0, d, params.cs_k);
    let b = rotated(x0, d + 1u, params.cs_k);
    if (params.f16 != 0u) {
      kcache[params.pos * (kv_width / 2u) + j] = pack2x16float(vec2<f32>(a, b));
    } else {
      kcache[params.pos * kv_width + 2u * j] = bitcast<u32>(a);
      kcache[params.pos * kv_width + 2u * j + 1u] = bitcast<u32>(b);
    }
    return;
  }
  let d = item - q_items - k_items;  // a dim of v: row d of the value cache
  if (d >= kv_width) {
    return;
  }
  let v = act[params.v_off + d];
  if (params.f16 != 0u) {
    let wi = d * (params.n_ctx_v / 2u) + params.pos / 2u;
    var pair = unpack2x16float(vcache[wi]);
    if ((params.pos & 1u) == 0u) {
      pair.x = v;
    } else {
      pair.y = v;
    }
    vcache[wi] = pack2x16float(pair);
  } else {
    vcache[d * params.n_ctx_v + params.pos] = bitcast<u32>(v);
  }
}
