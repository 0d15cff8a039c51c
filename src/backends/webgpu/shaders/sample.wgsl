// The token a uniform draw picks from n logits, written as a u32 at y_off:
// core/sampling.h's sample_logits step by step, so that a sampled decode step
// reads back one word, not the logits, and can be chained like a greedy one.
// With a repetition penalty (sample_window.wgsl; sample_window_none.wgsl
// without), its window's ids are penalised first and the chosen id is
// appended to the window; greedy choices over a penalised window come here
// too, as top-k 1 (Graph::sample). One workgroup:
// 0. the penalty (apply_window);
// 1. the top-k cut. Usually from a histogram of the logits within 16 (then
//    256, 4096) of the largest, 256 bins from the top, with workgroup
//    atomics (only the logits near the top take part, so few collide): the
//    bin where the count from the top reaches k is the cut, and everything
//    in it and above is gathered (the sort decides inside the bin). Where
//    that is more than CAP (more near-equal logits than fit), by bisection
//    over an order-preserving u32 key of the logits (each step counts the
//    keys at or above a candidate; 32 passes over the logits), and where
//    more logits tie at the cut's value than fit, a second bisection over
//    ids finds the last one kept (ties keep lower ids, as the CPU's sort);
// 2. the candidates (at most CAP: the backend samples only where k <= CAP)
//    gathered in workgroup memory and sorted by logit, then id (bitonic);
// 3. their probabilities at the temperature, then min-p, top-p and the
//    walk with u * the kept mass, in the CPU's order (one invocation: the
//    kept prefix is short, and the order of its sums is the CPU's); greedy:
//    the first candidate. Then the window's update (window_append,
//    restore_logits).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const WG: u32 = 256u;
const CAP: u32 = 1024u;  // core/sampling.h's kDeviceSamplingMaxCandidates

var<workgroup> total: array<u32, WG>;
var<workgroup> largest: array<f32, WG>;
const BINS: u32 = 256u;  // == WG (histogram_cut sums a bin per invocation)
var<workgroup> hist: array<atomic<u32>, BINS>;
var<workgroup> cut: vec2<u32>;  // the histogram's cut bin (BINS: k not reached) and the count up to it
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

// The logits base + j * WG, j < BATCH, loaded together: one workgroup
// reading all the logits is latency-bound, so every pass issues BATCH
// independent loads per invocation before using them. Past n: the last logit
// (in bounds; the passes skip those slots).
const BATCH: u32 = 8u;
fn load_batch(base: u32) -> array<f32, BATCH> {
  var v: array<f32, BATCH>;
  for (var j = 0u; j < BATCH; j++) {
    v[j] = act[params.x_off + min(base + j * WG, params.n - 1u)];
  }
  return v;
}

// The cut (step 1), one of three kinds: every logit (ALL); those in the
// histogram's bins up to `bin` (BINNED: m the largest logit, scale bins per
// logit); or those with key > t, and key == t up to id c (KEYED).
const ALL: u32 = 0u;
const BINNED: u32 = 1u;
const KEYED: u32 = 2u;
struct Cut {
  kind: u32,
  t: u32,
  c: u32,
  bin: u32,
  m: f32,
  scale: f32,
}

// The histogram bin of logit v, as a float: BINS and beyond (or NaN) are
// outside the histogram. One expression for the count and the gather.
fn bin_of(v: f32, m: f32, scale: f32) -> f32 {
  return (m - v) * scale;
}

// Is logit i, of value v, kept by the cut?
fn kept(i: u32, v: f32, cut_at: Cut) -> bool {
  if (cut_at.kind == ALL) {
    return true;
  }
  if (cut_at.kind == BINNED) {
    let b = bin_of(v, cut_at.m, cut_at.scale);
    return b < f32(BINS) && u32(b) <= cut_at.bin;
  }
  let key = key_of(v);
  return key > cut_at.t || (key == cut_at.t && i <= cut_at.c);
}

// How many logits have key >= t and, among those equal to t, id <= c
// (0xffffffff: all); the same value in every invocation.
fn count_kept(li: u32, t: u32, c: u32) -> u32 {
  let keyed = Cut(KEYED, t, c, 0u, 0.0, 0.0);
  var m = 0u;
  for (var base = li; base < params.n; base += WG * BATCH) {
    let v = load_batch(base);
    for (var j = 0u; j < BATCH; j++) {
      let i = base + j * WG;
      m += select(0u, 1u, i < params.n && kept(i, v[j], keyed));
    }
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

// The largest logit; the same value in every invocation.
fn max_logit(li: u32) -> f32 {
  var m = -3.4e38;
  for (var base = li; base < params.n; base += WG * BATCH) {
    let v = load_batch(base);
    for (var j = 0u; j < BATCH; j++) {
      m = max(m, v[j]);  // (slots past n repeat the last logit)
    }
  }
  largest[li] = m;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off >>= 1u) {
    if (li < off) {
      largest[li] = max(largest[li], largest[li + off]);
    }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&largest[0]);
  return r;
}

// The histogram of the logits within BINS / scale of m; returns the bin
// where the count from the top reaches k (BINS: it does not) and the count
// up to and including it. The same values in every invocation.
fn histogram_cut(li: u32, m: f32, scale: f32, k: u32) -> vec2<u32> {
  for (var b = li; b < BINS; b += WG) {
    atomicStore(&hist[b], 0u);
  }
  workgroupBarrier();
  for (var base = li; base < params.n; base += WG * BATCH) {
    let v = load_batch(base);
    for (var j = 0u; j < BATCH; j++) {
      let b = bin_of(v[j], m, scale);
      if (base + j * WG < params.n && b < f32(BINS)) {
        atomicAdd(&hist[u32(b)], 1u);
      }
    }
  }
  workgroupBarrier();
  // The counts from the top, summed in parallel (one bin per invocation:
  // WG == BINS), and the bin where they reach k.
  total[li] = atomicLoad(&hist[li]);
  if (li == 0u) {
    cut = vec2<u32>(BINS, 0u);
  }
  workgroupBarrier();
  for (var off = 1u; off < BINS; off <<= 1u) {
    let below = select(0u, total[max(li, off) - off], li >= off);
    workgroupBarrier();
    total[li] += below;
    workgroupBarrier();
  }
  if (total[li] >= k && (li == 0u || total[max(li, 1u) - 1u] < k)) {
    cut = vec2<u32>(li, total[li]);
  }
  let r = workgroupUniformLoad(&cut);
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
  // 0. The repetition penalty.
  apply_window(li);
  // 1. The cut. (Up to CAP logits are all gathered and the sort makes it.)
  var cut_at = Cut(ALL, 0u, 0xffffffffu, 0u, 0.0, 0.0);
  if (k < n && n > CAP) {
    let m = max_logit(li);
    var range = 16.0;
    for (var attempt = 0u; attempt < 3u; attempt++) {
      if (cut_at.kind == ALL) {
        let scale = f32(BINS) / range;
        let h = histogram_cut(li, m, scale, k);
        if (h.x < BINS) {
          cut_at = Cut(select(KEYED, BINNED, h.y <= CAP), 0u, 0xffffffffu, h.x, m, scale);
        }
        range *= 16.0;
      }
    }
    if (cut_at.kind != BINNED) {
      // The largest t with k logits at or above it, and the last id kept
      // among those at t.
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
      var c = 0xffffffffu;
      if (count_kept(li, lo, 0xffffffffu) > CAP) {
        // Too many ties at lo to gather: the smallest c keeping k.
        var ilo = 0u;
        var ihi = n - 1u;
        for (var step = 0u; step < 32u; step++) {
          if (ilo < ihi) {
            let mid = ilo + ((ihi - ilo) >> 1u);
            if (count_kept(li, lo, mid) >= k) {
              ihi = mid;
            } else {
              ilo = mid + 1u;
            }
          }
        }
        c = ilo;
      }
      cut_at = Cut(KEYED, lo, c, 0u, 0.0, 0.0);
    }
  }
  // 2. Gather and sort.
  if (li == 0u) {
    atomicStore(&n_cand, 0u);
  }
  workgroupBarrier();
  for (var base = li; base < n; base += WG * BATCH) {
    let v = load_batch(base);
    for (var j = 0u; j < BATCH; j++) {
      let i = base + j * WG;
      if (i < n && kept(i, v[j], cut_at)) {
        let slot = atomicAdd(&n_cand, 1u);
        if (slot < CAP) {
          cand_key[slot] = key_of(v[j]);
          cand_id[slot] = i;
        }
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
  let greedy = params.temperature <= 0.0;
  let kk = select(min(m, k), 0u, greedy);
  let mx = act[params.x_off + cand_id[0]];
  for (var i = li; i < kk; i += WG) {
    cand_p[i] = exp((act[params.x_off + cand_id[i]] - mx) / params.temperature);
  }
  workgroupBarrier();
  if (li == 0u && greedy) {
    act[params.y_off] = bitcast<f32>(cand_id[0]);
    window_append(cand_id[0]);
  }
  if (li == 0u && !greedy) {
    // Normalised over the top k, as the CPU does before min-p and top-p.
    var sum = 0.0;
    for (var i = 0u; i < kk; i++) {
      sum += cand_p[i];
    }
    for (var i = 0u; i < kk; i++) {
      cand_p[i] /= sum;
    }
    var keep = kk;
    if (params.min_p > 0.0) {
      let floor = cand_p[0] * params.min_p;
      keep = 1u;
      while (keep < kk && cand_p[keep] >= floor) {
        keep++;
      }
    }
    if (params.top_p < 1.0) {
      var cum = 0.0;
      var kept_n = 0u;
      while (kept_n < keep) {
        cum += cand_p[kept_n];
        kept_n++;
        if (cum >= params.top_p) {
          break;
        }
      }
      keep = kept_n;
    }
    var mass_kept = 0.0;
    for (var i = 0u; i < keep; i++) {
      mass_kept += cand_p[i];
    }
    var r = params.u * mass_kept;
    var pick = cand_id[keep - 1u];
    for (var i = 0u; i < keep; i++) {
      r -= cand_p[i];
      if (r < 0.0) {
        pick = cand_id[i];
        break;
      }
    }
    act[params.y_off] = bitcast<f32>(pick);
    window_append(pick);
  }
  restore_logits(li);
}
