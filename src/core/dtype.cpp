#include "core/dtype.h"

#include <cstring>

#include "quant/blocks.h"
#include "quant/reference.h"

namespace wa {
namespace {

void copy_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }
void copy_to_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

// One row per type. Types known to GGUF that this build cannot decode yet have
// null converters; loading a model that uses them reports `unsupported`.
constexpr TypeTraits kTraits[] = {
    {DType::f32, "f32", 1, 4, false, copy_f32, copy_to_f32},
    {DType::f16, "f16", 1, 2, false, quant::dequantize_row_f16, quant::quantize_row_f16},
    {DType::q4_0, "q4_0", QK4_0, sizeof(BlockQ4_0), true, quant::dequantize_row_q4_0, quant::quantize_row_q4_0},
    {DType::q4_1, "q4_1", 32, 20, true, nullptr, nullptr},
    {DType::q5_0, "q5_0", 32, 22, true, nullptr, nullptr},
    {DType::q5_1, "q5_1", 32, 24, true, nullptr, nullptr},
    {DType::q8_0, "q8_0", QK8_0, sizeof(BlockQ8_0), true, quant::dequantize_row_q8_0, quant::quantize_row_q8_0},
    {DType::q8_1, "q8_1", 32, 36, true, nullptr, nullptr},
    {DType::q2_k, "q2_K", 256, 84, true, nullptr, nullptr},
    {DType::q3_k, "q3_K", 256, 110, true, nullptr, nullptr},
    {DType::q4_k, "q4_K", 256, 144, true, nullptr, nullptr},
    {DType::q5_k, "q5_K", 256, 176, true, nullptr, nullptr},
    {DType::q6_k, "q6_K", 256, 210, true, nullptr, nullptr},
    {DType::q8_k, "q8_K", 256, 292, true, nullptr, nullptr},
    {DType::i8, "i8", 1, 1, false, nullptr, nullptr},
    {DType::i16, "i16", 1, 2, false, nullptr, nullptr},
    {DType::i32, "i32", 1, 4, false, nullptr, nullptr},
    {DType::i64, "i64", 1, 8, false, nullptr, nullptr},
    {DType::f64, "f64", 1, 8, false, nullptr, nullptr},
    {DType::bf16, "bf16", 1, 2, false, quant::dequantize_row_bf16, quant::quantize_row_bf16},
};

}  // namespace

const TypeTraits* type_traits(DType type) { return type_traits_from_id(static_cast<uint32_t>(type)); }

const TypeTraits* type_traits_from_id(uint32_t id) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == id) return &t;
  }
  return nullptr;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTraits) {
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
