// matvec4.wgsl's row totals with subgroup operations (`enable subgroups;`
// heads the module). Lanes l and l ^ o exchange their sums
// (subgroupShuffleXor) for o = run / 2 .. 1, so every lane of an aligned run
// of run = min(subgroup size, 32) lanes then holds the run's totals. Where
// subgroups have 32 lanes or more (NVIDIA 32, AMD 32/64), a group is one
// run: its lane r has row r's totals, with no workgroup memory and no
// barrier. Smaller subgroups (SwiftShader's 4; 8 or 16 on some GPUs) leave
// 32 / run totals per row, added through workgroup memory.
// This takes a subgroup to be consecutive local invocation indices starting
// at a multiple of its size, as every implementation lays out a 1-D
// workgroup (WGSL does not promise it): then a run is 32-lane aligned
// inside one group. The subgroup size comes from the builtin, never from
// the adapter's range: a compiler may pick any size in it per pipeline.
// MV_SG_RUNS: runs per group at the smallest subgroup size the adapter
// reports (32 / that size; 1 from 32 lanes up, 32 where it is unknown).
var<workgroup> partial: array<f32, MV_GROUPS * MV_SG_RUNS * MV_ROWS * MV_TOKENS * MV_MATRICES>;
var<workgroup> partial_ss: array<f32, MV_GROUPS * MV_SG_RUNS>;

@compute @workgroup_size(MV_GROUPS * 32u)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>,
        @builtin(subgroup_size) sg_size: u32) {
  matvec4(li, wg.x, sg_size);
}

// As mv4_sum_wg.wgsl's: s this lane's sums, ss its h . h; returns the sum
// slot of the workgroup whose totals land in *y and *t, or >= GROUPS * RT.
fn row_totals(li: u32, sg_size: u32, s: array<f32, SN>, ss: f32, y: ptr<function, array<f32, NM>>,
              t: ptr<function, f32>) -> u32 {
  let run = min(sg_size, LANES);
  var v = s;
  var q = ss;
  for (var o = run >> 1u; o > 0u; o >>= 1u) {
    for (var i = 0u; i < SN; i++) {
      v[i] += subgroupShuffleXor(v[i], o);
    }
    if (NORM) {
      q += subgroupShuffleXor(q, o);
    }
  }
  let lane = li % LANES;
  if (run == LANES) {
    for (var r = 0u; r < RT; r++) {
      if (lane == r) {
        for (var mm = 0u; mm < NM; mm++) {
          (*y)[mm] = v[r * NM + mm];
        }
      }
    }
    *t = q;
    return select(GROUPS * RT, (li / LANES) * RT + lane, lane < RT);
  }
  // Run k of the workgroup (group k / runs) stores its totals from its first lane.
  let runs = LANES / run;
  if (li % run == 0u) {
    let k = li / run;
    for (var i = 0u; i < SN; i++) {
      partial[k * SN + i] = v[i];
    }
    if (NORM) {
      partial_ss[k] = q;
    }
  }
  workgroupBarrier();
  if (li >= GROUPS * RT) {
    return li;
  }
  let first = (li / RT) * runs;  // the slot's group's first run
  for (var k = first; k < first + runs; k++) {
    for (var mm = 0u; mm < NM; mm++) {
      (*y)[mm] += partial[k * SN + (li % RT) * NM + mm];
    }
    if (NORM) {
      *t += partial_ss[k];
    }
  }
  return li;
}
