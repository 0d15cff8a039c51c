// The uniform parameters of every WGSL kernel, each layout defined once:
// the X-macro list below produces the C++ struct the backend fills and the
// WGSL `struct Params` prepended to the kernel's source, so the two can't
// drift apart. Fields are 4-byte scalars (u32, i32, f32) in order, which
// WGSL lays out with no padding.
//
// Offsets and strides count elements of the bound array (f32 or u32 words),
// not bytes: the arena is bound whole and every tensor is addressed inside it.
#pragma once

#include <cstdint>
#include <string>

namespace wa::gpu {

using u32 = uint32_t;
using i32 = int32_t;
using f32 = float;

#define WA_PARAM_CPP(type, name) type name = 0;
#define WA_PARAM_WGSL(type, name) "  " #name ": " #type ",\n"
#define WA_DEFINE_PARAMS(Name, FIELDS)                                                   \
  struct Name {                                                                          \
    FIELDS(WA_PARAM_CPP)                                                                 \
    static const char* wgsl() { return "struct Params {\n" FIELDS(WA_PARAM_WGSL) "};\n"; } \
  };

// matvec.wgsl, matmul.wgsl: y[n, t] = W[n, :] . x[:, t]
// matvec only: with add_r, y = W x + r (r: one column at r_off, a residual).
#define WA_MATMUL_PARAMS(F)                                                                                 \
  F(u32, K) F(u32, N) F(u32, T) F(u32, w_scales) F(u32, x_off) F(u32, x_stride) F(u32, y_off) F(u32, y_stride) \
  F(u32, add_r) F(u32, r_off)
WA_DEFINE_PARAMS(MatmulParams, WA_MATMUL_PARAMS)

// matvec4.wgsl (decode): rows n_m, scales word s_m and output offset y_m of
// up to three matrices (MODE 1 uses W0, W1 for the same rows; MODE 2 gives
// workgroups [0, wg1) to W0, [wg1, wg2) to W1, the rest to W2); with
// add_r, y0 += r at r_off; with NORM, x = RMSNorm(h at x_off, eps) * g at
// norm_off; with x from a decode attention's n_chunks chunks of heads of
// head_dim (mvx_from_attention.wgsl), x merged from them; workgroups from
// warm_wg on (warm_groups of them) read warm_words vec4 words of the next
// SwiGLU's matrices into L2 (mv4_warm.wgsl); few-token MODE 0: T columns
// of x, x_stride apart, into T columns of y, y_stride apart.
#define WA_MATVEC_PARAMS(F)                                                                               \
  F(u32, K) F(u32, x_off) F(u32, n0) F(u32, n1) F(u32, n2) F(u32, s0) F(u32, s1) F(u32, s2) F(u32, y0) \
  F(u32, y1) F(u32, y2) F(u32, wg1) F(u32, wg2) F(u32, add_r) F(u32, r_off) F(u32, norm_off) F(f32, eps)       \
  F(u32, head_dim) F(u32, n_chunks) F(u32, warm_wg) F(u32, warm_groups) F(u32, warm_words) F(u32, T)          \
  F(u32, x_stride) F(u32, y_stride)
WA_DEFINE_PARAMS(MatvecParams, WA_MATVEC_PARAMS)

// get_rows.wgsl; with hot rows (get_rows_hot.wgsl), the hot table's rows
// n_hot and the first word of its scales hot_scales
#define WA_GET_ROWS_PARAMS(F)                                                                         \
  F(u32, K) F(u32, row0) F(u32, n_rows) F(u32, w_scales) F(u32, ids_off) F(u32, y_off) F(u32, y_stride) \
  F(u32, n_hot) F(u32, hot_scales)
WA_DEFINE_PARAMS(GetRowsParams, WA_GET_ROWS_PARAMS)

// rms_norm.wgsl
#define WA_RMS_NORM_PARAMS(F) \
  F(u32, D) F(u32, x_off) F(u32, x_stride) F(u32, y_off) F(u32, y_stride) F(u32, w_off) F(f32, eps)
WA_DEFINE_PARAMS(RmsNormParams, WA_RMS_NORM_PARAMS)

// elementwise.wgsl
#define WA_ELEMENTWISE_PARAMS(F)                                                                               \
  F(u32, D) F(u32, op) F(u32, a_off) F(u32, a_stride) F(u32, b_off) F(u32, b_stride) F(u32, y_off) F(u32, y_stride) \
  F(f32, f)
WA_DEFINE_PARAMS(ElementwiseParams, WA_ELEMENTWISE_PARAMS)

// rope.wgsl
#define WA_ROPE_PARAMS(F)                                                                                      \
  F(u32, n_head) F(u32, head_dim) F(u32, n_rot) F(u32, neox) F(u32, x_off) F(u32, x_stride) F(u32, y_off) \
  F(u32, y_stride) F(u32, cs_off)
WA_DEFINE_PARAMS(RopeParams, WA_ROPE_PARAMS)

// kv_store.wgsl
#define WA_KV_STORE_PARAMS(F)                                                                                   \
  F(u32, width) F(u32, T) F(u32, pos) F(u32, n_ctx) F(u32, transposed) F(u32, f16) F(u32, x_off) F(u32, x_stride) \
  F(u32, n_items)
WA_DEFINE_PARAMS(KvStoreParams, WA_KV_STORE_PARAMS)

// rope_kv.wgsl (decode, one token): q_off/k_off/v_off the inputs, qy_off
// RoPE(q)'s output, cs_q/cs_k their cos/sin tables in the input buffer.
#define WA_ROPE_KV_PARAMS(F)                                                                               \
  F(u32, n_head) F(u32, n_head_kv) F(u32, head_dim) F(u32, n_rot) F(u32, neox) F(u32, q_off) F(u32, qy_off) \
  F(u32, k_off) F(u32, v_off) F(u32, cs_q) F(u32, cs_k) F(u32, pos) F(u32, n_ctx_v) F(u32, f16)
WA_DEFINE_PARAMS(RopeKvParams, WA_ROPE_KV_PARAMS)

// attention.wgsl (T query tokens); attention_split.wgsl and
// attention_combine.wgsl (decode, split over chunks of 32 keys: n_chunks of
// them) too; with RoPE and the cache stores folded into attention_split
// (as_rope_kv.wgsl), rope_kv.wgsl's n_rot, neox, k_off, v_off, cs_q, cs_k;
// with l2_warm.wgsl's rows, warm_groups of them and the scratch word they
// may store to
#define WA_ATTENTION_PARAMS(F)                                                                                     \
  F(u32, n_head) F(u32, n_head_kv) F(u32, head_dim) F(u32, n_past) F(u32, q_off) F(u32, q_stride) F(u32, y_off) \
  F(u32, y_stride) F(u32, k_row) F(u32, v_row) F(u32, f16) F(f32, scale) F(u32, n_chunks) F(u32, n_rot)         \
  F(u32, neox) F(u32, k_off) F(u32, v_off) F(u32, cs_q) F(u32, cs_k) F(u32, T) F(u32, warm_groups) F(u32, warm_sink)
WA_DEFINE_PARAMS(AttentionParams, WA_ATTENTION_PARAMS)

// argmax.wgsl
#define WA_ARGMAX_PARAMS(F) F(u32, n) F(u32, x_off) F(u32, y_off)
WA_DEFINE_PARAMS(ArgmaxParams, WA_ARGMAX_PARAMS)

// sample.wgsl: k candidates survive the top-k cut (sampling_candidates);
// penalty: the repetition penalty (sample_window.wgsl; its window's words
// are in their own buffer)
#define WA_SAMPLE_PARAMS(F)                                                                                      \
  F(u32, n) F(u32, x_off) F(u32, y_off) F(u32, k) F(f32, temperature) F(f32, top_p) F(f32, min_p) F(f32, u) \
  F(f32, penalty)
WA_DEFINE_PARAMS(SampleParams, WA_SAMPLE_PARAMS)

// repack.wgsl
#define WA_REPACK_PARAMS(F) F(u32, n_blocks) F(u32, block_bytes) F(u32, w_scales)
WA_DEFINE_PARAMS(RepackParams, WA_REPACK_PARAMS)

#undef WA_DEFINE_PARAMS

// The largest parameter block; uniform slots are this size, rounded up to the
// device's uniform offset alignment.
constexpr uint32_t kMaxParamsBytes = 112;
static_assert(sizeof(AttentionParams) <= kMaxParamsBytes);
static_assert(sizeof(ElementwiseParams) <= kMaxParamsBytes);
static_assert(sizeof(MatvecParams) <= kMaxParamsBytes);
static_assert(sizeof(RopeKvParams) <= kMaxParamsBytes);

}  // namespace wa::gpu
