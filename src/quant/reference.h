// Reference (scalar, portable) quantize / dequantize for every block format.
// These define the numbers: SIMD and GPU kernels are tested against them.
//
// Quantizers are plain round-to-nearest with a per-block (and, for the
// k-quants, per-sub-block) scale and minimum taken from the block's range;
// the error each one guarantees is stated beside it in reference.cpp and
// tested in tests/unit/test_quant_formats.cpp.
#pragma once

#include <cstdint>

namespace wa::quant {

void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);

// Activations. q8_K: blocks of 256, symmetric (largest magnitude -> 127, f32
// scale, round to nearest even) with per-16 sums; the k-quants' dot products
// run against it. q8_sum (BlockQ8Sum, not a file type): the same per 32
// values with the block's sum, for q4_1 / q5_0 / q5_1.
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_sum(const float* src, void* dst, int64_t n);

// Reference dot products of one weight row (nb blocks) with one activation
// row quantized as above; the SIMD kernels give the same numbers (bit for bit
// for the k-quants, whose per-super-block sums are exact integers).
float dot_q4_1_q8_sum(const void* w, const void* x, int64_t nb);
float dot_q5_0_q8_sum(const void* w, const void* x, int64_t nb);
float dot_q5_1_q8_sum(const void* w, const void* x, int64_t nb);
float dot_q2_k_q8_k(const void* w, const void* x, int64_t nb);
float dot_q3_k_q8_k(const void* w, const void* x, int64_t nb);
float dot_q4_k_q8_k(const void* w, const void* x, int64_t nb);
float dot_q5_k_q8_k(const void* w, const void* x, int64_t nb);
float dot_q6_k_q8_k(const void* w, const void* x, int64_t nb);

}  // namespace wa::quant
