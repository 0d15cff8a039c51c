// The repetition penalty for sample.wgsl: core/sampling.h's
// apply_repetition_penalty and penalty_window_append on the device, over a
// window buffer in their layout ([capacity, filled, next, slot 0, ...]), so
// that a chained decode step penalises the ids the steps before it chose
// without the host seeing them.
//
// Before the cut, the window's ids are penalised in the logits themselves,
// once per occurrence: of the slots holding one id, the invocation with its
// first slot applies the penalty as many times as the id occurs (the CPU's
// sequence of operations on that logit; no two invocations touch one
// logit), and keeps the value it read. After the pick, invocation 0 puts
// the chosen id into the window, and each of those invocations writes its
// logit back as it was: the op leaves its input as it found it, as the CPU
// kernel (which penalises a copy) does. The slots are first gathered in
// cand_id, workgroup memory the cut does not use yet, where every
// invocation scans them for the occurrences of its id.
@group(0) @binding(1) var<storage, read_write> window: array<u32>;

const WINDOW_HEADER: u32 = PENALTY_WINDOW_HEADER;  // core/sampling.h's kPenaltyWindowHeader (the backend puts it in)
// The window holds at most CAP ids (kDevicePenaltyMaxWindow): its slots fit cand_id.
const SLOTS_PER_LANE: u32 = CAP / WG;
const NO_ID: u32 = 0xffffffffu;
var<workgroup> window_filled: u32;
var<private> own_id: array<u32, SLOTS_PER_LANE>;     // ids this invocation penalised (NO_ID: none)
var<private> own_logit: array<f32, SLOTS_PER_LANE>;  // their logits before

// The window's capacity (its first word), within the buffer and CAP: a
// header that the CPU's functions did not write never takes a read or a
// write outside the window.
fn window_capacity() -> u32 {
  return min(min(window[0], max(arrayLength(&window), WINDOW_HEADER) - WINDOW_HEADER), CAP);
}

// v / p rounded to the nearest f32, ties to even: IEEE-754 division as the
// CPU does it, for v > 0 (normal, subnormal or infinite) and p a positive
// normal number (device_penalty_supported). WGSL's `/` may be 2.5 ulp off,
// and a penalised logit one ulp off could swap two near-equal candidates,
// so the quotient of the significands is taken by integer long division.
fn div_rn(v: f32, p: f32) -> f32 {
  let vb = bitcast<u32>(v);
  if (vb >= 0x7f800000u) {
    return v;  // +inf
  }
  let pb = bitcast<u32>(p);
  var ve = i32(vb >> 23u);
  var vm = vb & 0x7fffffu;
  if (ve == 0) {
    // subnormal: the leading one moved to bit 23
    let shift = countLeadingZeros(vm) - 8u;
    vm <<= shift;
    ve = 1 - i32(shift);
  } else {
    vm |= 0x800000u;
  }
  let pm = (pb & 0x7fffffu) | 0x800000u;
  // v / p = vm / pm * 2^e, with vm / pm in [1, 2)
  var e = ve - i32(pb >> 23u);
  if (vm < pm) {
    vm <<= 1u;
    e -= 1;
  }
  // q = floor(vm / pm * 2^25): the 24 bits of a normal result's significand
  // and two more; what remains is the sticky bit.
  var q = 0u;
  var r = vm;
  for (var i = 0u; i < 26u; i++) {
    q <<= 1u;
    if (r >= pm) {
      r -= pm;
      q |= 1u;
    }
    r <<= 1u;
  }
  let biased = e + 127;
  if (biased >= 255) {
    // overflow: +inf (made from vb, whose sign bit is 0: WGSL rejects an
    // infinite constant expression)
    return bitcast<f32>(0x7f800000u | (vb >> 31u));
  }
  // Bits of q below the result's last: 2 for a normal result; for a
  // subnormal one (a multiple of 2^-149), 3 - biased.
  var drop = 2u;
  if (biased <= 0) {
    if (3 - biased > 26) {
      return 0.0;  // below half the smallest subnormal
    }
    drop = u32(3 - biased);
  }
  let truncated = q >> drop;
  let rest = q & ((1u << drop) - 1u);
  let halfway = 1u << (drop - 1u);
  var m = truncated;
  if (rest > halfway || (rest == halfway && (r != 0u || (truncated & 1u) == 1u))) {
    m += 1u;
  }
  if (biased <= 0) {
    return bitcast<f32>(m);  // (rounded up to 2^23: the smallest normal's bits)
  }
  // m in [2^23, 2^24]: 2^24 carries into the exponent (to +inf from the largest)
  return bitcast<f32>((u32(biased) << 23u) + m - 0x800000u);
}

// core/sampling.h's penalize: divided when positive (by its bits, as the CPU
// compares: a GPU may flush a subnormal to zero in a float comparison),
// multiplied otherwise (-0, negatives, NaN). WGSL's product is correctly
// rounded, but a GPU may flush a subnormal factor or product to zero, as
// SwiftShader does (logits are never that small); the quotient is exact
// for every positive v and normal p (checked against the CPU's on 2^23
// random pairs of every class on SwiftShader, 2026-11-28).
fn penalize(v: f32, p: f32) -> f32 {
  let b = bitcast<u32>(v);
  if (b != 0u && b <= 0x7f800000u) {
    return div_rn(v, p);
  }
  return v * p;
}

// Before the cut (every invocation): the window's ids penalised in the logits.
fn apply_window(li: u32) {
  if (li == 0u) {
    window_filled = min(window[1], window_capacity());
  }
  let filled = workgroupUniformLoad(&window_filled);
  for (var s = li; s < filled; s += WG) {
    cand_id[s] = window[WINDOW_HEADER + s];
  }
  workgroupBarrier();
  for (var j = 0u; j < SLOTS_PER_LANE; j++) {
    own_id[j] = NO_ID;
    let s = li + j * WG;
    if (s < filled && cand_id[s] < params.n) {
      let id = cand_id[s];
      var first = true;
      var times = 0u;
      for (var t = 0u; t < filled; t++) {
        if (cand_id[t] == id) {
          first = first && t >= s;
          times++;
        }
      }
      if (first) {
        let at = params.x_off + id;
        let unpenalized = act[at];
        var v = unpenalized;
        for (var i = 0u; i < times; i++) {
          v = penalize(v, params.penalty);
        }
        act[at] = v;
        own_id[j] = id;
        own_logit[j] = unpenalized;
      }
    }
  }
  storageBarrier();
  workgroupBarrier();
}

// After the pick (invocation 0): the chosen id into the window.
fn window_append(pick: u32) {
  let capacity = window_capacity();
  if (capacity > 0u) {
    var next = window[2];
    if (next >= capacity) {
      next = 0u;
    }
    window[WINDOW_HEADER + next] = pick;
    window[1] = min(min(window[1], capacity) + 1u, capacity);
    window[2] = (next + 1u) % capacity;
  }
}

// At the end (every invocation): the logits it penalised, as they were.
fn restore_logits(li: u32) {
  storageBarrier();
  workgroupBarrier();  // every read of the penalised logits is done
  for (var j = 0u; j < SLOTS_PER_LANE; j++) {
    if (own_id[j] != NO_ID) {
      act[params.x_off + own_id[j]] = own_logit[j];
    }
  }
}
