// Element e of the key (is_k) or value cache of an attention kernel, f32 or
// two f16 per word (params.f16). Needs `kc`, `vc`: array<u32> and params.
fn cache_at(is_k: bool, e: u32) -> f32 {
  var word: u32;
  if (is_k) {
    word = kc[select(e, e >> 1u, params.f16 != 0u)];
  } else {
    word = vc[select(e, e >> 1u, params.f16 != 0u)];
  }
  if (params.f16 == 0u) {
    return bitcast<f32>(word);
  }
  let v = unpack2x16float(word);
  return select(v.x, v.y, (e & 1u) == 1u);
}
// Elements e and e + 1 of a cache (e even): one word for f16 caches, where
// cache_at reads that word once per element.
fn cache_pair(is_k: bool, e: u32) -> vec2<f32> {
  if (params.f16 != 0u) {
    if (is_k) {
      return unpack2x16float(kc[e >> 1u]);
    }
    return unpack2x16float(vc[e >> 1u]);
  }
  if (is_k) {
    return vec2<f32>(bitcast<f32>(kc[e]), bitcast<f32>(kc[e + 1u]));
  }
  return vec2<f32>(bitcast<f32>(vc[e]), bitcast<f32>(vc[e + 1u]));
}
