// RoPE of one dim, for kernels that rotate q or k as they read them: needs
// `act` and `inputs` (the step's cos/sin tables) bindings and params.n_rot,
// params.neox. (rope.wgsl rotates whole tensors with the same arithmetic.)
// Dim d of the head starting at x0, rotated with the table at cs.
fn rotated(x0: u32, d: u32, cs: u32) -> f32 {
  let n_pairs = params.n_rot / 2u;
  if (d >= params.n_rot) {
    return act[x0 + d];
  }
  var i = d / 2u;
  var first = (d & 1u) == 0u;
  var partner = d ^ 1u;
  if (params.neox != 0u) {
    first = d < n_pairs;
    i = select(d - n_pairs, d, first);
    partner = select(d - n_pairs, d + n_pairs, first);
  }
  let c = inputs[cs + 2u * i];
  let s = inputs[cs + 2u * i + 1u];
  if (first) {
    return act[x0 + d] * c - act[x0 + partner] * s;
  }
  return act[x0 + partner] * s + act[x0 + d] * c;
}

