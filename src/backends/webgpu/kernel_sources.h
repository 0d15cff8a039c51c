// What each WebGPU pipeline runs: the WGSL program a pipeline key names,
// assembled from the embedded shader files (shaders.h) with the key's
// constants put in, and its binding layout. Beside it, what both this and
// the backend's recording code (webgpu_backend.cpp) consult: which weight
// types the kernels read and how, the decode matvecs' shapes and bindings,
// the split attention's and the prompt matmul's shapes. Pipeline keys are
// internal names the backend makes (matvec4_kernel(), attention_split_kernel(),
// get_rows_kernel(), ...), never input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/dtype.h"

namespace wa::gpu {

// ---- weight types -----------------------------------------------------------

// Types in the bit-plane layout (mv4_planes.wgsl, written by repack_q.wgsl).
bool is_plane_quant(DType t);
// webaccel's vector-quantized types (mv4_vq.wgsl, written by repack_vq.wgsl):
// their kernels read the codebook from a device buffer besides the weights.
bool is_vq(DType t);
// Types whose GPU layout is a block format (mv4_<type>.wgsl: the bit-plane
// and the vector-quantized types), read through w_planes.wgsl, mv_planes.wgsl
// and mm_planes.wgsl, written from the file's blocks by a repack kernel.
bool has_block_format(DType t);
// Types whose decode matvecs take int8 x (mv4x8_<type>.wgsl, mv4x8_vq.wgsl).
bool has_int8_dot(DType t);
// Types the kernels read as matrices and lookup tables.
bool matrix_type_supported(DType t);
// Types a tensor may have on the device: the matrix types and i32 (a
// lookup's hot ids, uploaded as they are; no kernel multiplies them).
bool weight_type_supported(DType t);
bool is_block_quant(DType t);
// Types whose weight access is one flat file, w_<type>.wgsl (after
// w_block_scales.wgsl for q8_0 and q4_0): see binding_accessors.
bool has_flat_access(DType t);
std::string flat_accessors(DType t);
// flat_accessors' functions reading the binding `name` instead of `w`
// (a second weight binding of one kernel: hot rows).
std::string binding_accessors(const std::string& src, const std::string& name);

// Every occurrence of `from` in s replaced by `to`.
void replace_all(std::string& s, const std::string& from, const std::string& to);

// ---- kernel shapes --------------------------------------------------------------

// matvec4.wgsl's shape: groups of 32 lanes per workgroup, rows per group,
// 32-weight blocks in flight per lane and row (see the shader), and whether
// x is rounded to int8 in workgroup memory (mvx_q8.wgsl) or read as f32,
// and whether rows are totalled with subgroup operations (mv4_sum_sg.wgsl)
// or through workgroup memory (mv4_sum_wg.wgsl).
struct MatvecShape {
  uint32_t groups;
  uint32_t rows;
  uint32_t blocks_in_flight;
  bool int8_x;
  bool subgroups = false;
  // int8 x: the workgroup's capacity in 32-value blocks of x (MV_X_BLOCKS;
  // matvec_shape_for: K's blocks rounded up to a multiple of 32).
  uint32_t x_blocks = 0;
  // Consecutive blocks a lane takes as one unit (matvec4.wgsl's KU): 1, or
  // for formats whose blocks share words, the blocks of a word (1 where K's
  // blocks are not whole units; matvec_shape_for).
  uint32_t unit = 1;
  // Tokens per dispatch (MV_TOKENS): 1 for decode; up to kMatvecTokens for
  // a short prompt's plain matrices (f32 x; rows * tokens <= 32, the sum
  // slots of a group's lanes).
  uint32_t tokens = 1;
  uint32_t rows_per_workgroup() const { return groups * rows; }
};
enum class MatvecMode : uint32_t { plain = 0, glu = 1, multi = 2 };
uint32_t matrices_per_row(MatvecMode mode);  // 2 in MODE 1 (GLU), else 1
// The storage bindings of a matvec4.wgsl instance, in binding order: w0,
// then w1 (GLU, multi), w2 (multi), nw (a fused norm's weights, or a folded
// attention's chunks: `side`), act; the uniform follows. Only what the mode
// reads is bound: Dawn's CPU cost per dispatch grows with the bindings of
// its bind group, even an unchanged one (bench/webgpu/encode_probe.mjs, H100
// host, 2026-11-27: 4.8 us per dispatch with 3 bindings, 9.6 with 6), and a
// decode step is ~160 dispatches.
struct Matvec4Bindings {
  bool w1, w2, nw;
  uint32_t storage() const { return 2 + w1 + w2 + nw; }
};
Matvec4Bindings matvec4_bindings(MatvecMode mode, bool side);
// The decode matvecs' shape per mode, type and x form (measurements:
// kernel_sources.cpp, above its definition).
MatvecShape matvec_shape(MatvecMode mode, DType t, uint64_t rows, bool int8_x);
// The 32-value blocks of int8 x a matvec4 workgroup of `shape` can hold
// beside its partial sums (mvx_q8.wgsl: 52 bytes per block), at most 512
// (K = 16384): more would only lower occupancy.
uint32_t int8_x_capacity(const MatvecShape& shape, MatvecMode mode, uint32_t max_workgroup_storage);
// A prompt of at most kFewTokenPrompt tokens runs its plain matrices as
// matvec4 MODE 0 with up to kMatvecTokens columns of x per dispatch
// (matvec_tokens_shape), not as the tiled matmul: each dispatch reads the
// weights once, like a decode step, and a 4096-row matrix gets hundreds of
// workgroups where the matmul gives it 32 tiles of 128 rows x 64 tokens
// whatever T is. H200, 7B q4_0 (BENCHMARKS.md 2026-11-28): a whole 8-token
// prompt 35 ms this way, the matmul's 8- and 64-token prompts 119 and 146
// ms, so two dispatches of 8 tokens stay well under one matmul tile.
inline constexpr uint32_t kMatvecTokens = 8;
inline constexpr uint32_t kFewTokenPrompt = 2 * kMatvecTokens;
MatvecShape matvec_tokens_shape(DType t);

// attention_split.wgsl specialized to a model (attention_split_kernel()):
// the head size and the caches' type as constants, with RoPE and the cache
// stores folded in or not, and whether its extra rows warm L2 for the next
// matvec (l2_warm.wgsl).
struct AttentionSplitShape {
  uint32_t head_dim;
  bool f16;
  bool warm;
};

// matmul.wgsl's output tile (weight rows x tokens; the backend's matmul_tile()).
struct MatmulTile {
  uint32_t rows, tokens;
};

// get_rows with hot rows of a type: get_rows_hot_<type>.<table type>.
inline constexpr std::string_view kGetRowsHot = "get_rows_hot_";

// ---- programs -------------------------------------------------------------------

// A kernel's storage bindings, in binding order (bit i set: binding i is
// read-write), then its uniform.
struct KernelLayout {
  uint32_t n_storage;
  uint32_t rw_mask;
};
struct KernelSource {
  std::string src;
  KernelLayout layout;
  // A vq type whose codebook the kernel reads (its last storage binding,
  // which dispatch() binds); f32: none.
  DType codebook = DType::f32;
};
// What a key's program needs besides the key: the shape its maker recorded
// (matvec4 and attention_split keys) and the device's properties.
struct KernelSourceInputs {
  const MatvecShape* matvec4 = nullptr;
  const AttentionSplitShape* attention_split = nullptr;
  uint32_t subgroup_min_size = 0;  // GPUAdapterInfo.subgroupMinSize; 0: unknown
  MatmulTile matmul_tile{64, 64};
};
// The WGSL of pipeline `key` (kernel[.variant]) and its layout.
KernelSource kernel_source(const std::string& key, const KernelSourceInputs& in);

}  // namespace wa::gpu
