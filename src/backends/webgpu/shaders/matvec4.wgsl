// The decode matvecs (one token), in three modes of one skeleton:
//   MODE 0  y0 = W0 x (+ r)                     a matvec, with a fused residual add
//   MODE 1  y0 = silu(W0 x) * (W1 x)            the feed-forward's gate, up and SwiGLU
//   MODE 2  y_m = W_m x, m < 3                  attention's Q, K and V: workgroups
//           [0, wg1) compute W0's rows, [wg1, wg2) W1's, the rest W2's
// MODE 0 also takes a few tokens at once (TOK > 1: a short prompt's
// matrices, params.T <= TOK columns of x, x_stride and y_stride apart;
// the backend's encode_few_token_matvec):
// every weight block is loaded once and dotted with each token's x, so T
// tokens cost about one decode step's reads where the tiled matmul
// (matmul.wgsl) would give a 4096-row matrix 32 workgroups of 64-token
// tiles. f32 x only, no norm, no residual.
// With NORM, x is RMSNorm(h) * g, computed here from h (at x_off) and g (nw
// at norm_off): every group reads all of h anyway, so the norm costs its
// sum of squares and a multiply per element instead of a dispatch and a
// round trip through memory.
//
// A workgroup is GROUPS groups of 32 lanes; a group computes R rows (of NM
// matrices: 2 in MODE 1), lane l taking units l, l + 32, ... of each row,
// a unit being KU consecutive 32-weight blocks, U units per step with every
// weight load issued before the first is used: a lane keeps U * KU * R * NM
// blocks' loads in flight, which is what hides memory latency when the grid
// is small (a 4096-row matrix is ~128 workgroups, one per SM). KU > 1 is for
// formats whose blocks share words (q2_K: 2 blocks per vec4 word and per
// scale field; q3_K: 4 blocks in 3 words): a lane takes the whole word, so
// each load brings 16 bytes of its own instead of 8 of its own and 8 of its
// neighbour's (the blocks' loads of one word have one address, for the
// compiler to merge); webgpu_backend.cpp's matvec_shape says where it pays.
// Per block, a row's weights are one or two 16-byte-aligned loads and the
// block of x serves all R * NM rows. x comes in one of two forms, each a
// file that defines x_prepare, x_block and block_dot_x: f32 (mvx_f32.wgsl:
// 8 vec4 loads per block, from L1 after the first group's) or int8
// (mvx_q8.wgsl: x rounded to 8 bits per value in workgroup memory first,
// then packed integer dot products). The backend picks R, U, KU, GROUPS and
// the form per mode, type and device, and prepends:
// struct Params (MatvecParams), the block format (mv4_<type>.wgsl:
// BLOCK_WORDS, SCALE_WORDS, block_word, scale_word, block_dot), the x form
// (for int8 also mv4x8_<type>.wgsl's block_dot_q8x) and mv4_binding.wgsl
// once per weight name w0, w1, w2; after it, how each row's lane sums are
// totalled, a file that defines the entry point `main` (calling matvec4())
// and row_totals: mv4_sum_wg.wgsl (workgroup memory) or mv4_sum_sg.wgsl
// (subgroup operations; `enable subgroups;` heads the module).
// Bindings: the backend declares what the instance reads, in this order:
// w0, w1 (MODE 1, 2), w2 (MODE 2), nw (NORM, or the attention chunks of
// mvx_from_attention.wgsl), act, params; accessors of an absent weight
// binding read w0 and are never called.
// With MV_WARM (the o projection, mvx_from_attention.wgsl), workgroups from
// params.warm_wg on read the next SwiGLU's weights into L2 instead
// (mv4_warm.wgsl, bindings warm_a and warm_b after nw).
// Requires K % (32 KU) == 0 and x_off, r_off % 4 == 0 (vec4 activations).
// Grid: (rows / (GROUPS R), 1), summed over the matrices in MODE 2, + the
// params.warm_groups warming workgroups.

const LANES: u32 = 32u;
const GROUPS: u32 = MV_GROUPS;
const R: u32 = MV_ROWS;
const U: u32 = MV_BLOCKS_IN_FLIGHT;
const KU: u32 = MV_UNIT;  // consecutive blocks per unit (divides K / 32)
const MODE: u32 = MV_MODE;
const NORM: bool = MV_NORM;
const NM: u32 = MV_MATRICES;  // matrices per row: 2 in MODE 1, else 1
const RN: u32 = R * NM;
const TOK: u32 = MV_TOKENS;  // tokens (columns of x) per dispatch: 1 but for few-token MODE 0
// A group's sums: R rows of TOK tokens (slot r TOK + t), NM matrices each;
// the row totals (mv4_sum_*.wgsl) add each slot over the group's lanes.
const RT: u32 = R * TOK;
const SN: u32 = RT * NM;

// m is uniform across the workgroup: no divergence.
fn weight_words(m: u32, b: u32) -> array<vec4<u32>, BLOCK_WORDS> {
  switch m {
    case 0u: { return block_words_w0(b); }
    case 1u: { return block_words_w1(b); }
    default: { return block_words_w2(b); }
  }
}
fn weight_scales(m: u32, b: u32) -> array<u32, 2> {
  switch m {
    case 0u: { return block_scales_w0(b, params.s0); }
    case 1u: { return block_scales_w1(b, params.s1); }
    default: { return block_scales_w2(b, params.s2); }
  }
}

// The body of the entry point (main, in the sums file): li the invocation's
// index, wgx its workgroup's, sg_size the subgroup size (0 without
// subgroups; a parameter of its own, so that the uniformity analysis sees
// it is uniform).
fn matvec4(li: u32, wgx: u32, sg_size: u32) {
  if (MV_WARM && wgx >= params.warm_wg) {
    warm_next(li, wgx - params.warm_wg);
    return;
  }
  // The matrix (MODE 2) and rows of this workgroup.
  var m0 = 0u;
  var first_wg = 0u;
  var n = params.n0;
  var y_off = params.y0;
  if (MODE == 2u) {
    if (wgx >= params.wg2) {
      m0 = 2u;
      first_wg = params.wg2;
      n = params.n2;
      y_off = params.y2;
    } else if (wgx >= params.wg1) {
      m0 = 1u;
      first_wg = params.wg1;
      n = params.n1;
      y_off = params.y1;
    }
  }
  let lane = li % LANES;
  let group = li / LANES;
  let wrow0 = (wgx - first_wg) * GROUPS * R;
  let nq = (params.K >> 5u) / KU;  // units per row
  // Rows past n read the last row (in bounds) and are never written.
  // ru: each row's first unit. A block's index is written (ru + unit) KU +
  // (its place in the unit), never as row start + block: then b % KU is a
  // constant wherever the place is (the unrolled loops), and so are the
  // formats' picks that depend on it (q3_K's word and bits of a block,
  // q2_K's half word, their scale fields), which would otherwise be
  // run-time selects per block.
  var ru: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    ru[r] = min(wrow0 + group * R + r, n - 1u) * nq;
  }
  var ss = 0.0;
  x_prepare(li);
  var s: array<f32, SN>;
  // kq: a unit's index; its blocks are kq KU .. kq KU + KU - 1 of the row.
  var kq = lane;
  for (; kq + (U - 1u) * LANES < nq; kq += U * LANES) {
    var v: array<array<vec4<u32>, BLOCK_WORDS>, U * KU * RN>;
    var d: array<array<u32, 2>, U * KU * RN>;
    for (var uj = 0u; uj < U * KU; uj++) {
      let unit = kq + (uj / KU) * LANES;
      for (var r = 0u; r < R; r++) {
        for (var mm = 0u; mm < NM; mm++) {
          let b = (ru[r] + unit) * KU + uj % KU;
          v[(uj * R + r) * NM + mm] = weight_words(m0 + mm, b);
          d[(uj * R + r) * NM + mm] = weight_scales(m0 + mm, b);
        }
      }
    }
    for (var uj = 0u; uj < U * KU; uj++) {
      let unit = kq + (uj / KU) * LANES;
      for (var t = 0u; t < TOK; t++) {
        if (TOK == 1u || t < params.T) {
          let x = x_block(unit * KU + uj % KU, t, &ss);
          for (var r = 0u; r < R; r++) {
            for (var mm = 0u; mm < NM; mm++) {
              let i = (uj * R + r) * NM + mm;
              s[(r * TOK + t) * NM + mm] += block_dot_x((ru[r] + unit) * KU + uj % KU, v[i], d[i], x);
            }
          }
        }
      }
    }
  }
  for (; kq < nq; kq += LANES) {
    for (var j = 0u; j < KU; j++) {
      for (var t = 0u; t < TOK; t++) {
        if (TOK == 1u || t < params.T) {
          let x = x_block(kq * KU + j, t, &ss);
          for (var r = 0u; r < R; r++) {
            for (var mm = 0u; mm < NM; mm++) {
              let b = (ru[r] + kq) * KU + j;
              s[(r * TOK + t) * NM + mm] += block_dot_x(b, weight_words(m0 + mm, b), weight_scales(m0 + mm, b), x);
            }
          }
        }
      }
    }
  }
  // One invocation per row gets the row's totals over its group's lanes
  // (and, with NORM, h . h over all of h).
  var y: array<f32, NM>;
  var t = 0.0;
  let i = row_totals(li, sg_size, s, ss, &y, &t);
  if (i >= GROUPS * RT) {
    return;
  }
  let row = wrow0 + (i / RT) * R + (i % RT) / TOK;
  let token = i % TOK;
  if (row >= n || (TOK > 1u && token >= params.T)) {
    return;
  }
  if (NORM) {
    let inv = 1.0 / sqrt(t / f32(params.K) + params.eps);
    for (var mm = 0u; mm < NM; mm++) {
      y[mm] *= inv;
    }
  }
  var out = y[0];
  if (MODE == 1u) {
    out = y[0] / (1.0 + exp(-y[0])) * y[NM - 1u];
  } else if (MODE == 0u && params.add_r != 0u) {
    let ri = params.r_off + row;
    out += act[ri >> 2u][ri & 3u];  // a fused residual add
  }
  let yi = y_off + token * params.y_stride + row;
  act[yi >> 2u][yi & 3u] = out;
}
