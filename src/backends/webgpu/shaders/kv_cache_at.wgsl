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
