// The token a uniform draw picks from n logits, written as a u32 at y_off:
// core/sampling.h's sample_logits step by step, so that a sampled decode step
// reads back one word, not the logits, and can be chained like a greedy one.
// One workgroup:
// 1. the k-th largest logit, by bisection over an order-preserving u32 key
//    of the logits (each step counts the keys at or above a candidate);
//    where more logits tie at that value than fit, a second bisection over
//    ids finds the last one kept (ties keep lower ids, as the CPU's sort);
// 2. the candidates (at most CAP: the backend samples only where k <= CAP)
//    gathered in workgroup memory and sorted by logit, then id (bitonic);
// 3. their probabilities at the temperature, then min-p, top-p and the
//    walk with u * the kept mass, in the CPU's order (one invocation: the
//    kept prefix is short, and the order of its sums is the CPU's).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const WG: u32 = 256u;
const CAP: u32 = 1024u;  // core/sampling.h's kDeviceSamplingMaxCandidates

var<workgroup> total: array<u32, WG>;
var<workgroup> cand_key: array<u32, CAP>;
var<workgroup> cand_id: array<u32, CAP>;
var<workgroup> cand_p: array<f32, CAP>;
var<workgroup> n_cand: atomic<u32>;
var<workgroup> n_gathered: u32;

// Larger logits have larger keys; -0 is +0 (equal, as the CPU compares them).
fn key_of(v: f32) -> u32 {
  let b = bitcast<u32>(select(v, 0.0, v == 0.0));
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}
fn key_at(i: u32) -> u32 {
  return key_of(act[params.x_off + i]);
}

// Is logit i kept by the top-k cut at key t, where ties at t are kept up to
// id c?
fn kept(i: u32, t: u32, c: u32) -> bool {
  let k = key_at(i);
  return k > t || (k == t && i <= c);
}

// How many logits have key >= t and, among those equal to t, id <= c
// (0xffffffff: all); the same value in every invocation.
fn count_kept(li: u32, t: u32, c: u32) -> u32 {
  var m = 0u;
  for (var i = li; i < params.n; i += WG) {
    m += select(0u, 1u, kept(i, t, c));
  }
  total[li] = m;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off >>= 1u) {
    if (li < off) {
      total[li] += total[li + off];
    }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&total[0]);
  return r;
}

// a goes before b: larger key, then lower id.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let n = params.n;
  let k = params.k;
  // 1. The cut: the largest t with k logits at or above it, and the last id
  //    kept among those at t.
  //    (Up to CAP logits are all gathered and the sort makes the cut.)
  var t = 0u;
  var c = 0xffffffffu;
  if (k < n && n > CAP) {
    var lo = 0u;
    var hi = 0xffffffffu;
    for (var step = 0u; step < 32u; step++) {
      if (lo < hi) {
        let mid = lo + ((hi - lo) >> 1u) + ((hi - lo) & 1u);
        if (count_kept(li, mid, 0xffffffffu) >= k) {
          lo = mid;
        } else {
          hi = mid - 1u;
        }
      }
    }
    t = lo;
    if (count_kept(li, t, 0xffffffffu) > CAP) {
      // Too many ties at t to gather: the smallest c keeping k.
      var ilo = 0u;
      var ihi = n - 1u;
      for (var step = 0u; step < 32u; step++) {
        if (ilo < ihi) {
          let mid = ilo + ((ihi - ilo) >> 1u);
          if (count_kept(li, t, mid) >= k) {
            ihi = mid;
          } else {
            ilo = mid + 1u;
          }
        }
      }
      c = ilo;
    }
  }
  // 2. Gather and sort.
  if (li == 0u) {
    atomicStore(&n_cand, 0u);
  }
  workgroupBarrier();
  for (var i = li; i < n; i += WG) {
    if (kept(i, t, c)) {
      let s = atomicAdd(&n_cand, 1u);
      if (s < CAP) {
        cand_key[s] = key_at(i);
        cand_id[s] = i;
      }
    }
  }
  workgroupBarrier();
  if (li == 0u) {
    n_gathered = min(atomicLoad(&n_cand), CAP);
  }
  let m = workgroupUniformLoad(&n_gathered);
  var size = 1u;
  while (size < m) {
    size <<= 1u;
  }
  for (var i = m + li; i < size; i += WG) {
    cand_key[i] = 0u;
    cand_id[i] = 0xffffffffu;
  }
  workgroupBarrier();
  for (var span = 2u; span <= size; span <<= 1u) {
    for (var stride = span >> 1u; stride > 0u; stride >>= 1u) {
      for (var i = li; i < size; i += WG) {
        let j = i ^ stride;
        if (j > i) {
          // Runs of `span` alternate direction, so that each merge step sees
          // a bitonic sequence; the whole ends in `before` order.
          let first = (i & span) == 0u;
          let ki = cand_key[i];
          let ii = cand_id[i];
          let kj = cand_key[j];
          let ij = cand_id[j];
          if (before(kj, ij, ki, ii) == first) {
            cand_key[i] = kj;
            cand_id[i] = ij;
            cand_key[j] = ki;
            cand_id[j] = ii;
          }
        }
      }
      workgroupBarrier();
    }
  }
  // 3. Probabilities (exp in parallel), then the CPU's walk.
  let kk = min(m, k);
  let mx = act[params.x_off + cand_id[0]];
  for (var i = li; i < kk; i += WG) {
    cand_p[i] = exp((act[params.x_off + cand_id[i]] - mx) / params.temperature);
  }
  workgroupBarrier();
  if (li == 0u) {
    var sum = 0.0;
    for (var i = 0u; i < kk; i++) {
      sum += cand_p[i];
    }
    var keep = kk;
    let p0 = cand_p[0] / sum;
    if (params.min_p > 0.0) {
      let floor = p0 * params.min_p;
      keep = 1u;
      while (keep < kk && cand_p[keep] / sum >= floor) {
        keep++;
      }
    }
    if (params.top_p < 1.0) {
      var cum = 0.0;
      var kept_n = 0u;
      while (kept_n < keep) {
        cum += cand_p[kept_n] / sum;
        kept_n++;
        if (cum >= params.top_p) {
          break;
        }
      }
      keep = kept_n;
    }
    var mass_kept = 0.0;
    for (var i = 0u; i < keep; i++) {
      mass_kept += cand_p[i] / sum;
    }
    var r = params.u * mass_kept;
    var pick = cand_id[keep - 1u];
    for (var i = 0u; i < keep; i++) {
      r -= cand_p[i] / sum;
      if (r < 0.0) {
        pick = cand_id[i];
        break;
      }
    }
    act[params.y_off] = bitcast<f32>(pick);
  }
}
