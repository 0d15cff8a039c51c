#include "core/dtype.h"

#include <cstring>

#include "quant/blocks.h"
#include "quant/reference.h"
#include "quant/vq.h"

namespace wa {
namespace {

void copy_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }
void copy_to_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

// One row per type. Types known to GGUF that this build cannot decode have
// null converters (q8_1 and the integer types); loading a model that uses
// them reports `unsupported`. q8_K is GGUF's activation type: it decodes and
// encodes, but no model weights use it.
constexpr TypeTraits kTraits[] = {
    {DType::f32, "f32", 1, 4, false, copy_f32, copy_to_f32},
    {DType::f16, "f16", 1, 2, false, quant::dequantize_row_f16, quant::quantize_row_f16},
    {DType::q4_0, "q4_0", QK4_0, sizeof(BlockQ4_0), true, quant::dequantize_row_q4_0, quant::quantize_row_q4_0},
    {DType::q4_1, "q4_1", QK4_1, sizeof(BlockQ4_1), true, quant::dequantize_row_q4_1, quant::quantize_row_q4_1},
    {DType::q5_0, "q5_0", QK5_0, sizeof(BlockQ5_0), true, quant::dequantize_row_q5_0, quant::quantize_row_q5_0},
    {DType::q5_1, "q5_1", QK5_1, sizeof(BlockQ5_1), true, quant::dequantize_row_q5_1, quant::quantize_row_q5_1},
    {DType::q8_0, "q8_0", QK8_0, sizeof(BlockQ8_0), true, quant::dequantize_row_q8_0, quant::quantize_row_q8_0},
    {DType::q8_1, "q8_1", 32, 36, true, nullptr, nullptr},
    {DType::q2_k, "q2_K", QK_K, sizeof(BlockQ2_K), true, quant::dequantize_row_q2_k, quant::quantize_row_q2_k},
    {DType::q3_k, "q3_K", QK_K, sizeof(BlockQ3_K), true, quant::dequantize_row_q3_k, quant::quantize_row_q3_k},
    {DType::q4_k, "q4_K", QK_K, sizeof(BlockQ4_K), true, quant::dequantize_row_q4_k, quant::quantize_row_q4_k},
    {DType::q5_k, "q5_K", QK_K, sizeof(BlockQ5_K), true, quant::dequantize_row_q5_k, quant::quantize_row_q5_k},
    {DType::q6_k, "q6_K", QK_K, sizeof(BlockQ6_K), true, quant::dequantize_row_q6_k, quant::quantize_row_q6_k},
    {DType::q8_k, "q8_K", QK_K, sizeof(BlockQ8_K), true, quant::dequantize_row_q8_k, quant::quantize_row_q8_k},
    {DType::i8, "i8", 1, 1, false, nullptr, nullptr},
    {DType::i16, "i16", 1, 2, false, nullptr, nullptr},
    {DType::i32, "i32", 1, 4, false, nullptr, nullptr},
    {DType::i64, "i64", 1, 8, false, nullptr, nullptr},
    {DType::f64, "f64", 1, 8, false, nullptr, nullptr},
    {DType::bf16, "bf16", 1, 2, false, quant::dequantize_row_bf16, quant::quantize_row_bf16},
    {DType::wa_vq2, "wa_vq2", QK_K, sizeof(BlockWaVq2), true, quant::dequantize_row_wa_vq2, quant::quantize_row_wa_vq2},
    {DType::wa_vq3, "wa_vq3", QK_K, sizeof(BlockWaVq3), true, quant::dequantize_row_wa_vq3, quant::quantize_row_wa_vq3},
    // q4_0's bytes with 4 rows interleaved: a row is not contiguous, so there
    // are no row converters (get_rows reads it through the CPU backend).
    {DType::q4_0x4, "q4_0x4", QK4_0, sizeof(BlockQ4_0), true, nullptr, nullptr},
};

const TypeTraits* find_traits(uint32_t id) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == id) return &t;
  }
  return nullptr;
}

}  // namespace

const TypeTraits* type_traits(DType type) { return find_traits(static_cast<uint32_t>(type)); }

const TypeTraits* type_traits_from_id(uint32_t id) {
  const TypeTraits* t = find_traits(id);
  return t && !is_memory_layout(t->type) ? t : nullptr;  // a file naming a memory layout is malformed
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTraits) {
    if (is_memory_layout(t.type)) continue;
    if (name == t.name) return t.type;
    // accept lower-case spellings of k-quants ("q4_k")
    if (name.size() == std::strlen(t.name)) {
      bool same = true;
      for (size_t i = 0; i < name.size() && same; ++i) {
        char a = name[i], b = t.name[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
        same = a == b;
      }
      if (same) return t.type;
    }
  }
  return std::nullopt;
}

const char* dtype_name(DType type) {
  const TypeTraits* t = type_traits(type);
  return t ? t->name : "unknown";
}

size_t row_bytes(DType type, int64_t n) {
  const TypeTraits* t = type_traits(type);
  if (!t) return 0;
  return static_cast<size_t>(n / t->block_size) * t->block_bytes;
}

int64_t block_size(DType type) {
  const TypeTraits* t = type_traits(type);
  return t ? t->block_size : 1;
}

}  // namespace wa
