// Element types. Ids are GGUF's (ggml_type) so files move between webaccel,
// llama.cpp and wllama unchanged. Each type is described once, in the trait
// table in dtype.cpp; adding a type means adding its block layout in
// quant/blocks.h, its reference converters in quant/reference.cpp and one row
// in that table (and, to run it, a row dot in the CPU kernels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wa {

enum class DType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
  // webaccel's own formats (quant/vq.h): ids far outside ggml's range ("WA"
  // in the high bytes), so no future llama.cpp type can collide with them;
  // llama.cpp refuses such a file as one with an invalid tensor type.
  wa_vq2 = 0x57410011,
  wa_vq3 = 0x57410012,
  // A layout in memory, never in a file: q4_0 weights that the CPU backend
  // repacked at load for its wasm kernels, 4 rows interleaved per block
  // (kernels_impl.h). type_traits_from_id (what file readers use) and
  // dtype_from_name do not know it.
  q4_0x4 = 0x57410101,
};

// Whether a type is a layout in memory only (no file may hold it).
constexpr bool is_memory_layout(DType t) { return t == DType::q4_0x4; }

// Dequantize `n` elements (a multiple of block_size) into f32.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
// Quantize `n` f32 elements (a multiple of block_size): the reference rounding.
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeTraits {
  DType type;
  const char* name;         // GGUF/llama.cpp spelling: "f32", "q4_0", "q4_K"; own formats "wa_..."
  int64_t block_size;       // elements per block (1 for plain types)
  size_t block_bytes;       // bytes per block
  bool quantized;
  DequantizeRowFn to_f32;   // null if this build cannot decode the type
  QuantizeRowFn from_f32;   // null if this build cannot encode the type
};

// Traits of a type id read from a file; null for ids we do not know and for
// memory layouts (type_traits knows those).
const TypeTraits* type_traits(DType type);
const TypeTraits* type_traits_from_id(uint32_t id);
std::optional<DType> dtype_from_name(std::string_view name);
const char* dtype_name(DType type);

// Bytes of a row of `n` elements; `n` must be a multiple of the block size.
size_t row_bytes(DType type, int64_t n);
int64_t block_size(DType type);

}  // namespace wa
