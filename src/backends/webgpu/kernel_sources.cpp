#include "backends/webgpu/kernel_sources.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <unordered_set>

#include "backends/webgpu/kernel_params.h"
#include "backends/webgpu/shaders.h"
#include "core/sampling.h"
#include "core/status.h"
#include "quant/vq.h"

namespace wa::gpu {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

namespace {
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
}  // namespace

// ---- weight types ----------------------------------------------------------

bool is_plane_quant(DType t) {
  switch (t) {
    case DType::q4_1: case DType::q5_0: case DType::q5_1: case DType::q2_k: case DType::q3_k: case DType::q4_k:
    case DType::q5_k: case DType::q6_k:
      return true;
    default:
      return false;
  }
}

bool is_vq(DType t) { return quant::is_vq_type(t); }
bool has_block_format(DType t) { return is_plane_quant(t) || is_vq(t); }
// Types whose decode matvecs take int8 x (mv4x8_<type>.wgsl, mv4x8_vq.wgsl):
// q8_0, q4_0, every bit-plane type and the vector-quantized types (their
// points decode into int8 coordinates; not measured against f32 x). (Before
// the planes were byte-sliced, packing 2-bit and 1-bit fields into bytes
// cost more than int8 x saved: on an H200 the 7B q2_K decoded 155.6 t/s
// with int8 x vs 172.7 with f32 x, q3_K 109.2 vs 128.6; q4_K 202.9 vs 180.3.)
bool has_int8_dot(DType t) { return t == DType::q4_0 || t == DType::q8_0 || has_block_format(t); }
bool matrix_type_supported(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::q8_0 || t == DType::q4_0 || has_block_format(t);
}
bool weight_type_supported(DType t) { return matrix_type_supported(t) || t == DType::i32; }
bool is_block_quant(DType t) { return t == DType::q8_0 || t == DType::q4_0; }
// Types whose weight access is one flat file, w_<type>.wgsl (after
// w_block_scales.wgsl for q8_0 and q4_0), without a block format's shared
// helpers: their access functions can be instantiated for a second binding
// of one kernel (binding_accessors), which is what hot rows take.
bool has_flat_access(DType t) { return t == DType::f32 || t == DType::f16 || is_block_quant(t); }
std::string flat_accessors(DType t) {
  return std::string(is_block_quant(t) ? shader_source("w_block_scales") : "") +
         std::string(shader_source(std::string("w_") + dtype_name(t)));
}
// Weight access functions written for the u32 binding `w` (flat_accessors),
// reading the binding `name` instead, beside the first binding's own in one
// kernel (WGSL functions cannot take a storage binding as an argument
// without an extension): the binding renamed `name`, each function they
// declare `name`_<function>, and params.w_scales params.`name`_scales.
// Members (acc.w, params.K) keep their names.
std::string binding_accessors(const std::string& src, const std::string& name) {
  std::unordered_set<std::string> fns;
  for (size_t p = src.find("fn "); p != std::string::npos; p = src.find("fn ", p + 3)) {
    if (p > 0 && ident_char(src[p - 1])) continue;
    size_t b = p + 3, e = b;
    while (e < src.size() && ident_char(src[e])) ++e;
    fns.insert(src.substr(b, e - b));
  }
  std::string out;
  out.reserve(src.size() + src.size() / 8);
  for (size_t i = 0; i < src.size();) {
    const bool starts = (std::isalpha(static_cast<unsigned char>(src[i])) || src[i] == '_') &&
                        (i == 0 || !ident_char(src[i - 1]));
    if (!starts) {
      out += src[i++];
      continue;
    }
    size_t j = i;
    while (j < src.size() && ident_char(src[j])) ++j;
    const std::string id = src.substr(i, j - i);
    if (i > 0 && src[i - 1] == '.') {
      out += id == "w_scales" ? name + "_scales" : id;
    } else if (id == "w") {
      out += name;
    } else {
      out += fns.count(id) ? name + "_" + id : id;
    }
    i = j;
  }
  return out;
}

// ---- kernel shapes ---------------------------------------------------------

uint32_t matrices_per_row(MatvecMode mode) { return mode == MatvecMode::glu ? 2 : 1; }

Matvec4Bindings matvec4_bindings(MatvecMode mode, bool side) {
  return {mode != MatvecMode::plain, mode == MatvecMode::multi, side};
}

// Rows per group, and blocks in flight per lane and row. From
// bench/webgpu/matvec_probe.mjs on an H100 and an H200, weights read from
// memory, not L2, the GPU warmed up (bench/webgpu/results/):
// - int8 x (H200, 2026-11-27): 4 rows and 2 blocks in flight read every
//   7B-shaped q4_0/q8_0 matrix at or near the best rate of the variants
//   (q4_0 4096x4096 7.3 us, 11008x4096 10.9, 4096x11008 13.3, 32000x4096
//   24.1: 1.3-3.1 TB/s, twice the f32-x kernel's); GLU of other types than
//   q4_0 keeps one block in flight (16 rows' words per lane otherwise).
// - int8 x, k-quants (H100, 2026-11-27, whole 7B decode steps with each
//   shape forced by wa_gpu_device_config.matvec_tuning,
//   bench/webgpu/device_tune.sh): q2_K and q3_K take 2 rows and 1 block in
//   flight in every mode: their blocks cost more arithmetic per byte than
//   q4_0's, and the smaller shape (fewer registers, twice the workgroups)
//   hides it better: GPU time per step q3_K 5.10 -> 3.57 ms, q2_K 3.40 ->
//   3.09 ms against 4 rows and 2 (GLU: 1) in flight; 1 row was slower for
//   both (q3_K 4.2, q2_K 3.7-3.9 ms). q4_K takes 4 rows and 1 in flight
//   (2.97 ms; 4 and 2: 3.10; 2 and 1: 3.28); q4_0 keeps 4 and 2 (2.85 ms; 2
//   and 1: 3.18). The other bit-plane types keep q4_0's (not measured).
// - units of consecutive blocks (MatvecShape::unit; H100, 2026-11-27 19:20,
//   whole 7B steps as above): q2_K's 2 blocks per vec4 word taken by one
//   lane: 3.11 -> 2.93 ms per step (4 rows: 3.73, 1 row: 3.73, 2 units in
//   flight: 3.92); q3_K's 4 blocks in 3 words: 5.18 ms against 3.60 (2
//   blocks: 3.56, within the runs' spread; 1 row of 4: 4.96); q4_K 2 blocks
//   3.13 against 2.98, q4_0 2.91 against 2.89: they keep units of 1. Keeping
//   x in workgroup memory unit-major (the lanes' reads consecutive instead
//   of 64 or 128 bytes apart) made no unit faster (q2_K 3.03, q3_K's 4
//   blocks 5.09): the units' cost is not bank conflicts.
// - f32 x (H100): 4 rows per group read 11008- and 32000-row q4_0/q8_0
//   matrices fastest (1.1/1.5 TB/s q4_0, 2.0/2.4 TB/s q8_0) and 4096-row
//   q8_0 ones as fast as any; a 4096-row q4_0 matrix is read about as fast
//   with 2 rows and 2 blocks in flight (256 workgroups instead of 128 for
//   132 SMs). GLU (two matrices per row) with 2 rows per group took 77 us
//   per 7B layer, 0.66 TB/s: it takes 4 rows.
// - after matvec4's picks on b % KU became constants (H200, 2026-11-28
//   10:45, whole 7B steps as above, GPU ms per step): q3_K takes units of
//   2 blocks (the two blocks of a pairs word; the bits word serves 4):
//   3.41 -> 3.07-3.09 (units of 4: 3.51; 4 rows x 4: 4.42; 1 row: 3.79;
//   2 in flight: 3.66); q2_K takes 4 rows: 2.66 -> 2.48-2.56 (8 rows:
//   4.05; units of 4: 3.69; 4 groups: 2.64); q4_K keeps 4 rows and 1
//   block (2.52; units of 2: 2.61; 2 rows: 2.91; 2 in flight: 2.75).
MatvecShape matvec_shape(MatvecMode mode, DType t, uint64_t rows, bool int8_x) {
  if (int8_x && t == DType::q2_k) {
    MatvecShape s{8, 4, 1, true};
    s.unit = 2;  // a lane takes both blocks of a vec4 word
    return s;
  }
  if (int8_x && t == DType::q3_k) {
    MatvecShape s{8, 2, 1, true};
    s.unit = 2;  // a lane takes both blocks of a pairs word
    return s;
  }
  if (int8_x && t == DType::q4_k) return {8, 4, 1, true};
  if (int8_x) return {8, 4, mode == MatvecMode::glu && t != DType::q4_0 ? 1u : 2u, true};
  const uint32_t r = mode != MatvecMode::glu && t == DType::q4_0 && rows < 8192 ? 2 : 4;
  return {8, r, t == DType::q4_0 && mode != MatvecMode::glu && r == 2 ? 2u : 1u, false};
}
// Few-token matvecs: f32 x (int8 x for 8 tokens would not fit workgroup
// memory), 2 rows per group of 32 lanes, so a group's 16 sums reduce in
// one subgroup's lanes, and 4 groups per workgroup, so the row totals
// without subgroups (mv4_sum_wg.wgsl: 8 KiB) fit every device's 16 KiB.
MatvecShape matvec_tokens_shape(DType t) {
  MatvecShape s{4, 2, t == DType::q4_0 || t == DType::q8_0 ? 2u : 1u, false};
  s.tokens = kMatvecTokens;
  return s;
}

// The 32-value blocks of int8 x a matvec4 workgroup of `shape` can hold
// beside its partial sums (mvx_q8.wgsl: 52 bytes per block), at most 512
// (K = 16384): more would only lower occupancy.
uint32_t int8_x_capacity(const MatvecShape& shape, MatvecMode mode, uint32_t max_workgroup_storage) {
  const uint32_t lanes = shape.groups * 32;
  const uint32_t partials = 4 * lanes * (shape.rows * matrices_per_row(mode) + 1);
  return max_workgroup_storage > partials ? std::min<uint32_t>(512, (max_workgroup_storage - partials) / 52) : 0;
}

// ---- programs --------------------------------------------------------------

KernelSource kernel_source(const std::string& key, const KernelSourceInputs& in) {
  const size_t dot = key.find('.');
  const std::string kernel = key.substr(0, dot);
  const std::string variant = dot == std::string::npos ? "" : key.substr(dot + 1);
  std::string src;
  KernelLayout layout{2, 0b10};
  const bool block_quant = variant == "q8_0" || variant == "q4_0";
  const DType vtype = dtype_from_name(variant).value_or(DType::f32);  // variants other than types: no matter
  const bool vq = is_vq(vtype);
  const bool block_format = has_block_format(vtype);  // bit-plane or vq
  // A block format: its family's helpers (bit planes, or the vq codebook's
  // decoding), then the type's. (Built only for the kernels that read weights.)
  const auto mv4_format = [&] {
    return std::string(is_plane_quant(vtype) ? shader_source("mv4_planes") : vq ? shader_source("mv4_vq") : "") +
           std::string(shader_source("mv4_" + variant));
  };
  // The weight type's access functions (block types share their scale
  // lookup; bit-plane and vq types decode through their block format).
  const auto weights = [&] {
    return block_format ? mv4_format() + std::string(shader_source("w_planes")) : flat_accessors(vtype);
  };
  if (kernel == "matvec") {
    src = std::string(MatmulParams::wgsl()) + weights() +
          std::string(shader_source(block_format ? "mv_planes" : "mv_" + variant)) + std::string(shader_source(kernel));
  } else if (kernel.rfind("matvec4", 0) == 0) {
    // matvec4[_glu|_multi][_norm]: the block format, its access functions
    // once per weight binding, then the skeleton in the mode asked for.
    // (matvec4_kernel() makes the name)
    const bool norm = kernel.find("_norm") != std::string::npos;
    const MatvecMode mode = kernel.find("_glu") != std::string::npos     ? MatvecMode::glu
                            : kernel.find("_multi") != std::string::npos ? MatvecMode::multi
                                                                         : MatvecMode::plain;
    // The shape matvec4_kernel() recorded when it made this key (every
    // matvec4 key comes from there: an internal name, not input).
    WA_ASSERT(in.matvec4);
    const MatvecShape shape = *in.matvec4;
    const bool int8_x = shape.int8_x;
    const bool from_attention = kernel.find("_attn") != std::string::npos;
    const bool warm = kernel.find("_warm") != std::string::npos;
    // An `enable` directive must precede every declaration.
    src = std::string(shape.subgroups ? "enable subgroups;\n" : "") + std::string(MatvecParams::wgsl()) + mv4_format();
    if (int8_x) {
      src += std::string(is_plane_quant(vtype) ? shader_source("mv4x8_planes") : "") +
             std::string(shader_source(vq ? std::string("mv4x8_vq") : "mv4x8_" + variant)) +
             std::string(shader_source(from_attention ? "mvx_from_attention" : "mvx_from_act")) +
             std::string(shader_source("mvx_q8"));
      replace_all(src, "MV_X_BLOCKS", std::to_string(shape.x_blocks) + "u");
    } else {
      src += std::string(shader_source("mvx_from_act")) + std::string(shader_source("mvx_f32"));
    }
    // The bindings this instance has (matvec4_bindings), declared here;
    // a weight binding the mode does not have reads w0 in its (never
    // called) accessors, and the x from act has no norm gain without one.
    const Matvec4Bindings binds = matvec4_bindings(mode, norm || from_attention);
    uint32_t slot = 0;
    for (const char* b : {"w0", "w1", "w2"}) {
      const bool bound = b[1] == '0' || (b[1] == '1' ? binds.w1 : binds.w2);
      if (bound) src += strformat("@group(0) @binding(%u) var<storage, read> %s: array<vec4<u32>>;\n", slot++, b);
      std::string access(shader_source("mv4_binding"));
      replace_all(access, "WB[", bound ? std::string(b) + "[" : "w0[");
      replace_all(access, "WB", b);
      src += access;
    }
    if (binds.nw) src += strformat("@group(0) @binding(%u) var<storage, read> nw: array<vec4<f32>>;\n", slot++);
    if (warm) {
      src += strformat("@group(0) @binding(%u) var<storage, read> warm_a: array<vec4<u32>>;\n", slot++);
      src += strformat("@group(0) @binding(%u) var<storage, read> warm_b: array<vec4<u32>>;\n", slot++);
      src += std::string(shader_source("mv4_warm"));
    } else {
      src += "fn warm_next(li: u32, w: u32) {}\n";
    }
    if (!from_attention) {
      src += norm ? "fn norm_gain(i: u32) -> vec4<f32> { return nw[i]; }\n"
                  : "fn norm_gain(i: u32) -> vec4<f32> { return vec4<f32>(1.0); }\n";
    }
    src += strformat("@group(0) @binding(%u) var<storage, read_write> act: array<vec4<f32>>;\n", slot++);
    src += strformat("@group(0) @binding(%u) var<uniform> params: Params;\n", slot);
    src += std::string(shader_source(shape.subgroups ? "mv4_sum_sg" : "mv4_sum_wg")) +
           std::string(shader_source("matvec4"));
    replace_all(src, "MV_GROUPS", std::to_string(shape.groups) + "u");
    replace_all(src, "MV_ROWS", std::to_string(shape.rows) + "u");
    replace_all(src, "MV_BLOCKS_IN_FLIGHT", std::to_string(shape.blocks_in_flight) + "u");
    replace_all(src, "MV_UNIT", std::to_string(shape.unit) + "u");
    replace_all(src, "MV_MODE", std::to_string(static_cast<uint32_t>(mode)) + "u");
    replace_all(src, "MV_NORM", norm ? "true" : "false");
    replace_all(src, "MV_WARM", warm ? "true" : "false");
    replace_all(src, "MV_MATRICES", std::to_string(matrices_per_row(mode)) + "u");
    WA_ASSERT(shape.tokens == 1 || (mode == MatvecMode::plain && !norm && !int8_x && shape.rows * shape.tokens <= 32));
    replace_all(src, "MV_TOKENS", std::to_string(shape.tokens) + "u");
    // mv4_sum_sg.wgsl's runs per group of 32 lanes that may need workgroup
    // memory: 32 / the smallest subgroup (1 where subgroups have 32 lanes or
    // more, as on NVIDIA and AMD: then nothing is stored there and Dawn
    // zero-fills a few bytes instead of 4-9 KiB per workgroup).
    const uint32_t min_run = std::clamp<uint32_t>(std::bit_floor(std::max<uint32_t>(in.subgroup_min_size, 1)), 1, 32);
    replace_all(src, "MV_SG_RUNS", std::to_string(32 / min_run) + "u");
    const uint32_t n_storage = binds.storage() + (warm ? 2 : 0);
    layout = {n_storage, 1u << (n_storage - 1)};
  } else if (kernel == "matmul" || kernel == "matmul_h") {
    // matmul_h: the f16 tiles (shader-f16; matmul_kernel()).
    const bool half = kernel == "matmul_h";
    src = std::string(half ? "enable f16;\n" : "") + std::string(MatmulParams::wgsl()) + weights() +
          std::string(shader_source(block_quant ? "mm_" + variant : block_format ? "mm_planes" : "mm_generic")) +
          std::string(shader_source("matmul"));
    const MatmulTile tile = in.matmul_tile;
    replace_all(src, "MM_BN", std::to_string(tile.rows) + "u");
    replace_all(src, "MM_BT", std::to_string(tile.tokens) + "u");
    replace_all(src, "MM_HALF", half ? "true" : "false");
    replace_all(src, "MM_T", half ? "f16" : "f32");
  } else if (kernel == "get_rows" || kernel.rfind(kGetRowsHot, 0) == 0) {
    // get_rows_hot_<type>: with hot rows of that type (get_rows_kernel()),
    // read through their own instance of the type's access functions.
    const bool hot = kernel != "get_rows";
    const DType hot_type = hot ? dtype_from_name(kernel.substr(kGetRowsHot.size())).value_or(DType::f32) : DType::f32;
    src = std::string(GetRowsParams::wgsl()) + weights() +
          (hot ? binding_accessors(flat_accessors(hot_type), "hot") + std::string(shader_source("get_rows_hot"))
               : std::string(shader_source("get_rows_hot_none"))) +
          std::string(shader_source("get_rows"));
    layout = hot ? KernelLayout{5, 0b00010} : KernelLayout{3, 0b010};
    replace_all(src, "GET_ROWS_UNIFORM", std::to_string(layout.n_storage));
  } else if (kernel == "rms_norm") {
    src = std::string(RmsNormParams::wgsl()) + std::string(shader_source(kernel));
    layout = {2, 0b01};
  } else if (kernel == "elementwise") {
    src = std::string(ElementwiseParams::wgsl()) + std::string(shader_source(kernel));
    const bool w = variant == "w";
    replace_all(src, "B_BINDING", w ? "@group(0) @binding(1) var<storage, read> bw: array<f32>;" : "");
    replace_all(src, "B_UNIFORM", w ? "2" : "1");
    replace_all(src, "B_SOURCE", w ? "bw" : "act");
    layout = w ? KernelLayout{2, 0b01} : KernelLayout{1, 0b1};
  } else if (kernel == "rope") {
    src = std::string(RopeParams::wgsl()) + std::string(shader_source(kernel));
    layout = {2, 0b01};
  } else if (kernel == "rope_kv") {
    src = std::string(RopeKvParams::wgsl()) + std::string(shader_source("rope_rotate")) + std::string(shader_source(kernel));
    layout = {4, 0b1101};
  } else if (kernel == "attention_split" || kernel == "attention_split_rope") {
    // (_rope: attention_split with rope_kv folded in, as_rope_kv.wgsl)
    const bool rope = kernel == "attention_split_rope";
    WA_ASSERT(in.attention_split);
    const AttentionSplitShape shape = *in.attention_split;
    src = std::string(AttentionParams::wgsl()) + std::string(rope ? shader_source("rope_rotate") : "") +
          std::string(shader_source(rope ? "as_rope_kv" : "as_cached")) +
          std::string(shader_source(shape.warm ? "l2_warm" : "l2_warm_none")) +
          std::string(shader_source("attention_split"));
    // Specialized to the model (attention_split_kernel()): the head size
    // and the caches' type as constants, so the loops over a head's dims
    // and a chunk's keys have fixed trip counts and no per-element branch
    // on the type, and the compiler can issue all their loads at once.
    replace_all(src, "params.head_dim", std::to_string(shape.head_dim) + "u");
    replace_all(src, "params.f16 != 0u", shape.f16 ? "true" : "false");
    replace_all(src, "params.f16 == 0u", shape.f16 ? "false" : "true");
    layout = rope ? KernelLayout{5, 0b01111} : KernelLayout{4, 0b1001};
    if (shape.warm) {
      // the next matvec's weights at binding 5, the uniform after them
      replace_all(src, "@binding(5) var<uniform>", "@binding(6) var<uniform>");
      layout = KernelLayout{6, 0b01111};
    }
  } else if (kernel == "attention_combine") {
    src = std::string(AttentionParams::wgsl()) + std::string(shader_source(kernel));
    layout = {2, 0b01};
  } else if (kernel == "kv_store") {
    src = std::string(KvStoreParams::wgsl()) + std::string(shader_source(kernel));
    layout = {2, 0b11};
  } else if (kernel == "attention") {
    // variant: the head's 32-dim chunks (attention_kernel())
    src = std::string(AttentionParams::wgsl()) + std::string(shader_source(kernel)) +
          std::string(shader_source("kv_cache_at"));
    replace_all(src, "ATT_CHUNKS", variant + "u");
    layout = {3, 0b001};
  } else if (kernel == "argmax") {
    src = std::string(ArgmaxParams::wgsl()) + std::string(shader_source(kernel));
    layout = {1, 0b1};
  } else if (kernel == "sample") {
    // sample.window: with the repetition penalty over a window buffer,
    // bound after the arena (sample_window.wgsl)
    const bool window = variant == "window";
    src = std::string(SampleParams::wgsl()) + std::string(shader_source(window ? "sample_window" : "sample_window_none")) +
          std::string(shader_source(kernel));
    if (window) {
      replace_all(src, "@binding(1) var<uniform>", "@binding(2) var<uniform>");
      replace_all(src, "PENALTY_WINDOW_HEADER", std::to_string(kPenaltyWindowHeader) + "u");
    }
    layout = window ? KernelLayout{2, 0b11} : KernelLayout{1, 0b1};
  } else if (kernel == "repack") {
    src = std::string(RepackParams::wgsl()) + std::string(shader_source("repack_io")) +
          std::string(shader_source(kernel));
    layout = {2, 0b10};
  } else if (kernel == "repack_q" && is_plane_quant(vtype)) {
    // The type's block format says where each plane and scale word goes.
    src = std::string(RepackParams::wgsl()) + mv4_format() + std::string(shader_source("repack_io")) +
          std::string(shader_source(kernel));
    replace_all(src, "REPACK_TYPE", std::to_string(static_cast<uint32_t>(vtype)) + "u");
    layout = {2, 0b10};
  } else if (kernel == "repack_vq" && vq) {
    // The type's layout only (no decoding: the codebook is not bound here).
    src = std::string(RepackParams::wgsl()) + std::string(shader_source("mv4_" + variant)) +
          std::string(shader_source("repack_io")) + std::string(shader_source(kernel));
    layout = {2, 0b10};
  }
  WA_ASSERT(!src.empty());
  if (vq && kernel != "repack_vq") {
    // Kernels that decode a vq type read its codebook: one more storage
    // binding, the last, before the uniform.
    const std::string uniform = strformat("@group(0) @binding(%u) var<uniform> params", layout.n_storage);
    WA_ASSERT(src.find(uniform) != std::string::npos);
    replace_all(src, uniform,
                strformat("@group(0) @binding(%u) var<storage, read> vq_codebook: array<u32>;\n"
                          "@group(0) @binding(%u) var<uniform> params",
                          layout.n_storage, layout.n_storage + 1));
    ++layout.n_storage;
    return {std::move(src), layout, vtype};
  }
  return {std::move(src), layout};
}

}  // namespace wa::gpu
