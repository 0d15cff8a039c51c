// Rewrites GGUF blocks of q4_1, q5_0, q5_1 and the k-quants into the
// bit-plane GPU layout (mv4_planes.wgsl): each 32-weight block's values as
// planes of whole words where the type's block format (mv4_<type>.wgsl,
// prepended with mv4_planes.wgsl) puts them (block_word), then the scales
// from word params.w_scales (scale_word). The GGUF bytes are decoded here
// exactly as src/quant/unpack.h decodes them (the reference): the same u
// values, the same f16 scales, GGUF's 6-bit scale packings undone into one
// byte each. One invocation per 32-weight block; a word shared by two blocks
// (two f16 scales, two k-quant fields) is written by the even one, a
// super-block's d/dmin word by its first chunk. REPACK_TYPE is the GGUF type
// id (the backend substitutes it). Grid: (ceil(n_blocks / 256), y) with rows
// of the grid continuing the count. Bindings and byte reads: repack_io.wgsl.
const TYPE: u32 = REPACK_TYPE;
const Q4_1: u32 = 3u;
const Q5_0: u32 = 6u;
const Q5_1: u32 = 7u;
const Q2_K: u32 = 10u;
const Q3_K: u32 = 11u;
const Q4_K: u32 = 12u;
const Q5_K: u32 = 13u;
const Q6_K: u32 = 14u;

// Where block b's GGUF bytes start: its own block, or its super-block.
fn file_offset(b: u32) -> u32 {
  if (TYPE >= Q2_K) {
    return (b >> 3u) * params.block_bytes;
  }
  return b * params.block_bytes;
}

// Value u of weight i of block b (blocks.h says which bits hold it).
fn file_u(b: u32, i: u32) -> u32 {
  let o = file_offset(b);
  let c = b & 7u;  // k-quants: the chunk of the super-block
  let h = c >> 2u;  // its 128-weight half
  let p = c & 3u;  // its plane in the half
  let nib = select(0u, 4u, i >= 16u);
  switch TYPE {
    case Q4_1: {
      return (byte_at(o + 4u + (i & 15u)) >> nib) & 15u;
    }
    case Q5_0: {
      return ((byte_at(o + 6u + (i & 15u)) >> nib) & 15u) | (((word_at(o + 2u) >> i) & 1u) << 4u);
    }
    case Q5_1: {
      return ((byte_at(o + 8u + (i & 15u)) >> nib) & 15u) | (((word_at(o + 4u) >> i) & 1u) << 4u);
    }
    case Q2_K: {
      return (byte_at(o + 16u + 32u * h + i) >> (2u * p)) & 3u;
    }
    case Q3_K: {
      return ((byte_at(o + 32u + 32u * h + i) >> (2u * p)) & 3u) | (((byte_at(o + i) >> c) & 1u) << 2u);
    }
    case Q4_K: {
      return (byte_at(o + 16u + 32u * (c >> 1u) + i) >> (4u * (c & 1u))) & 15u;
    }
    case Q5_K: {
      return ((byte_at(o + 48u + 32u * (c >> 1u) + i) >> (4u * (c & 1u))) & 15u) |
             (((byte_at(o + 16u + i) >> c) & 1u) << 4u);
    }
    default: {  // Q6_K
      return ((byte_at(o + 64u * h + 32u * (p & 1u) + i) >> (4u * (p >> 1u))) & 15u) |
             (((byte_at(o + 128u + 32u * h + i) >> (2u * p)) & 3u) << 4u);
    }
  }
}

// q3_K's six-bit scale s (0..15) of the 12-byte field at o.
fn q3k_scale(o: u32, s: u32) -> u32 {
  let lo = select(byte_at(o + s - 8u) >> 4u, byte_at(o + s) & 15u, s < 8u);
  let hi = (byte_at(o + 8u + (s & 3u)) >> (2u * (s >> 2u))) & 3u;
  return lo | (hi << 4u);
}

// q4_K/q5_K's six-bit scale (low byte) and minimum (high byte) of chunk c
// from the 12-byte field at o.
fn q45k_scale_min(o: u32, c: u32) -> u32 {
  if (c < 4u) {
    return (byte_at(o + c) & 63u) | ((byte_at(o + c + 4u) & 63u) << 8u);
  }
  let sc = (byte_at(o + c + 4u) & 15u) | ((byte_at(o + c - 4u) >> 6u) << 4u);
  let mn = (byte_at(o + c + 4u) >> 4u) | ((byte_at(o + c) >> 6u) << 4u);
  return sc | (mn << 8u);
}

// A k-quant chunk's 16-bit field (mv4_planes.wgsl, kq_field).
fn kq_file_field(b: u32) -> u32 {
  let o = file_offset(b);
  let c = b & 7u;
  switch TYPE {
    case Q2_K: {
      return half_at(o + 2u * c);
    }
    case Q3_K: {
      return q3k_scale(o + 96u, 2u * c) | (q3k_scale(o + 96u, 2u * c + 1u) << 8u);
    }
    case Q6_K: {
      return half_at(o + 192u + 2u * c);
    }
    default: {  // Q4_K, Q5_K
      return q45k_scale_min(o + 4u, c);
    }
  }
}

// A k-quant super-block's d (low half) and dmin (high half).
fn kq_file_d(b: u32) -> u32 {
  let o = file_offset(b);
  switch TYPE {
    case Q2_K: {
      return word_at(o + 80u);
    }
    case Q3_K: {
      return half_at(o + 108u);
    }
    case Q6_K: {
      return half_at(o + 208u);
    }
    default: {  // Q4_K, Q5_K
      return word_at(o);
    }
  }
}

// Plane words from the values (mv4_planes.wgsl): nibbles word t, pairs word
// t, bits word, each of u >> shift.
fn nibbles_word(u: array<u32, 32>, t: u32) -> u32 {
  var q = 0u;
  for (var c = 0u; c < 4u; c++) {
    q |= ((u[4u * t + c] & 15u) | ((u[16u + 4u * t + c] & 15u) << 4u)) << (8u * c);
  }
  return q;
}
fn pairs_word(u: array<u32, 32>, t: u32, shift: u32) -> u32 {
  var q = 0u;
  for (var i = 0u; i < 16u; i++) {  // i = 4 s + j: bits 8 j + 2 s
    q |= ((u[16u * t + i] >> shift) & 3u) << (8u * (i & 3u) + 2u * (i >> 2u));
  }
  return q;
}
fn bits_word(u: array<u32, 32>, shift: u32) -> u32 {
  var q = 0u;
  for (var i = 0u; i < 32u; i++) {  // i = 4 k + j: bit 8 j + k
    q |= ((u[i] >> shift) & 1u) << (8u * (i & 3u) + (i >> 2u));
  }
  return q;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * 256u;
  if (b >= params.n_blocks) {
    return;
  }
  var u: array<u32, 32>;
  for (var i = 0u; i < 32u; i++) {
    u[i] = file_u(b, i);
  }
  let v0 = 4u * block_word(b, 0u);
  let v1 = 4u * block_word(b, 1u);
  let pair = 2u * (b & 1u);  // a pairs plane's place in a shared vec4 word
  switch TYPE {
    case Q4_1, Q4_K: {
      for (var t = 0u; t < 4u; t++) {
        w[v0 + t] = nibbles_word(u, t);
      }
    }
    case Q5_0, Q5_1, Q5_K: {
      for (var t = 0u; t < 4u; t++) {
        w[v0 + t] = nibbles_word(u, t);
      }
      w[v1 + (b & 3u)] = bits_word(u, 4u);
    }
    case Q6_K: {
      for (var t = 0u; t < 4u; t++) {
        w[v0 + t] = nibbles_word(u, t);
      }
      w[v1 + pair] = pairs_word(u, 0u, 4u);
      w[v1 + pair + 1u] = pairs_word(u, 1u, 4u);
    }
    case Q3_K: {
      w[v0 + pair] = pairs_word(u, 0u, 0u);
      w[v0 + pair + 1u] = pairs_word(u, 1u, 0u);
      w[v1 + (b & 3u)] = bits_word(u, 2u);
    }
    default: {  // Q2_K
      w[v0 + pair] = pairs_word(u, 0u, 0u);
      w[v0 + pair + 1u] = pairs_word(u, 1u, 0u);
    }
  }
  let o = file_offset(b);
  switch TYPE {
    case Q4_1, Q5_1: {
      w[params.w_scales + scale_word(b, 0u)] = word_at(o);  // d, m
    }
    case Q5_0: {
      if ((b & 1u) == 0u) {
        var pair_d = half_at(o);
        if (b + 1u < params.n_blocks) {
          pair_d |= half_at(o + params.block_bytes) << 16u;
        }
        w[params.w_scales + scale_word(b, 0u)] = pair_d;
      }
    }
    default: {  // k-quants
      if ((b & 1u) == 0u) {
        w[params.w_scales + scale_word(b, 0u)] = kq_file_field(b) | (kq_file_field(b + 1u) << 16u);
      }
      if ((b & 7u) == 0u) {
        w[params.w_scales + scale_word(b, 1u)] = kq_file_d(b);
      }
    }
  }
}
