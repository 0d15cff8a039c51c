// matvec4.wgsl's row totals through workgroup memory (devices without
// subgroups): every lane stores its sums, then one invocation per row adds
// its group's 32 lanes. Also the kernel's entry point (sg_size unused).
var<workgroup> partial: array<f32, MV_GROUPS * 32u * MV_ROWS * MV_TOKENS * MV_MATRICES>;
var<workgroup> partial_ss: array<f32, MV_GROUPS * 32u>;

@compute @workgroup_size(MV_GROUPS * 32u)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  matvec4(li, wg.x, 0u);
}

// s: this lane's sums of its group's RT slots (R rows of TOK tokens, NM
// matrices each); ss its h . h (NORM). Returns the slot of the workgroup
// whose totals land in *y and *t (h . h over all of h), or GROUPS * RT or
// more for invocations without one.
fn row_totals(li: u32, sg_size: u32, s: array<f32, SN>, ss: f32, y: ptr<function, array<f32, NM>>,
              t: ptr<function, f32>) -> u32 {
  let lane = li % LANES;
  let group = li / LANES;
  // Lane-major, so the summing invocations (one per row) read consecutive
  // words: no shared-memory bank conflicts.
  for (var i = 0u; i < SN; i++) {
    partial[(lane * GROUPS * RT) * NM + group * SN + i] = s[i];
  }
  if (NORM) {
    partial_ss[lane * GROUPS + group] = ss;
  }
  workgroupBarrier();
  if (li >= GROUPS * RT) {
    return li;
  }
  for (var i = 0u; i < LANES; i++) {
    for (var mm = 0u; mm < NM; mm++) {
      (*y)[mm] += partial[(i * GROUPS * RT + li) * NM + mm];
    }
  }
  if (NORM) {
    // The group's lanes covered all of h between them.
    for (var i = 0u; i < LANES; i++) {
      *t += partial_ss[i * GROUPS + li / RT];
    }
  }
  return li;
}
