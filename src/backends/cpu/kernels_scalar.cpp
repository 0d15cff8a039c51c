// Generic kernels: portable C++, no intrinsics. They define the numbers the
// SIMD versions are tested against, so they are written plainly.
//
// q4_0 / q8_0 weights: X rows are quantized to 8-bit blocks (symmetric, the
// largest magnitude maps to 127, scale kept in f32) and each block product is
// an exact integer sum scaled by d_w * d_x, accumulated in block order with
// one fma per block -- the same per-element arithmetic as the SIMD panel
// kernels, which keeps them comparable.
#include <cmath>
#include <cstring>

#include "backends/cpu/kernels_impl.h"
#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/reference.h"
#include "quant/vq.h"

namespace wa::cpu::detail {
namespace {

void quantize_x_row(const float* x, int64_t k, int8_t* qs, int16_t* c, float* d) {
  for (int64_t b = 0; b < k / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = db;
    for (int j = 0; j < 32; ++j) qs[b * 32 + j] = static_cast<int8_t>(std::lrint(xb[j] * id));
    for (int i = 0; i < 16; ++i) c[b * 16 + i] = static_cast<int16_t>(-8 * (qs[b * 32 + 2 * i] + qs[b * 32 + 2 * i + 1]));
  }
}

struct RowView {
  const int8_t* qs;
  const int16_t* c;
  const float* d;
};

RowView row_view(const void* ws, int64_t row, int64_t k) {
  const auto* base = static_cast<const uint8_t*>(ws) + row * ws_row_bytes(k);
  const int64_t nb = k / 32;
  return {reinterpret_cast<const int8_t*>(base), reinterpret_cast<const int16_t*>(base + nb * 32),
          reinterpret_cast<const float*>(base + nb * 64)};
}

void prepare(const MatmulProblem& p, void* ws, int ith, int nth) { prepare_rows(p, ws, ith, nth, quantize_x_row); }

float dot_row(const MatmulProblem& p, const void* ws, int64_t i, int64_t j) {
  const auto* wrow = static_cast<const uint8_t*>(p.w) + j * p.w_row_stride;
  const float* x = p.x + i * p.x_row_stride;
  float acc = 0.0f;
  switch (p.wtype) {
    case DType::f32: {
      const auto* w = reinterpret_cast<const float*>(wrow);
      for (int64_t t = 0; t < p.k; ++t) acc += w[t] * x[t];
      break;
    }
    case DType::f16: {
      const auto* w = reinterpret_cast<const f16_bits*>(wrow);
      for (int64_t t = 0; t < p.k; ++t) acc += fp16_to_fp32(w[t]) * x[t];
      break;
    }
    case DType::q8_0: {
      const auto* w = reinterpret_cast<const BlockQ8_0*>(wrow);
      const RowView xv = row_view(ws, i, p.k);
      for (int64_t b = 0; b < p.k / 32; ++b) {
        int32_t isum = 0;
        for (int t = 0; t < 32; ++t) isum += w[b].qs[t] * xv.qs[b * 32 + t];
        acc = std::fma(xv.d[b] * fp16_to_fp32(w[b].d), static_cast<float>(isum), acc);
      }
      break;
    }
    case DType::q4_0:
    case DType::q4_0x4: {  // the same blocks, found where each layout keeps them
      const RowView xv = row_view(ws, i, p.k);
      for (int64_t b = 0; b < p.k / 32; ++b) {
        const Q4Block w = q4_block(p.wtype, p.w, p.w_row_stride, p.n, j, b);
        int32_t isum = 0;
        for (int t = 0; t < 16; ++t) {
          isum += ((w.qs[t] & 0x0f) - 8) * xv.qs[b * 32 + t];
          isum += ((w.qs[t] >> 4) - 8) * xv.qs[b * 32 + t + 16];
        }
        acc = std::fma(xv.d[b] * fp16_to_fp32(w.d), static_cast<float>(isum), acc);
      }
      break;
    }
    default:
      break;
  }
  return acc;
}

void compute(const MatmulProblem& p, const void* ws, int ith, int nth) {
  if (!matmul_supports(p.wtype)) return;
  const Range r = split_range(p.n, ith, nth, 1);
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = r.begin; j < r.end; ++j) p.y[i * p.y_row_stride + j] = dot_row(p, ws, i, j);
  }
}

float dot_f32_scalar(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

float dot_f16_f32_scalar(const uint16_t* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += fp16_to_fp32(a[i]) * b[i];
  return acc;
}

void axpy_f32_scalar(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_f32_scalar(float* y, float a, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

void scale_f32_scalar(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace

double sum_squares_f32_scalar(const float* x, int64_t n) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  return ss;
}

void scale_mul_f32_scalar(float* y, const float* x, float s, const float* w, int64_t n) {
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
  }
}

void add_f32_scalar(float* y, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_f32_scalar(float* y, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void swiglu_f32_scalar(float* y, const float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = g[i] / (1.0f + std::exp(-g[i]));
    y[i] = u ? s * u[i] : s;
  }
}

double exp_shifted_f32_scalar(float* s, int64_t n, float shift) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    s[i] = std::exp(s[i] - shift);
    sum += s[i];
  }
  return sum;
}

// Row-dot types: the reference dot products of quant/reference.cpp.
static RowDotFn row_dot_scalar(DType t) {
  switch (t) {
    case DType::q4_1: return quant::dot_q4_1_q8_sum;
    case DType::q5_0: return quant::dot_q5_0_q8_sum;
    case DType::q5_1: return quant::dot_q5_1_q8_sum;
    case DType::q2_k: return quant::dot_q2_k_q8_k;
    case DType::q3_k: return quant::dot_q3_k_q8_k;
    case DType::q4_k: return quant::dot_q4_k_q8_k;
    case DType::q5_k: return quant::dot_q5_k_q8_k;
    case DType::q6_k: return quant::dot_q6_k_q8_k;
    case DType::wa_vq2: return quant::dot_wa_vq2_q8_k;
    case DType::wa_vq3: return quant::dot_wa_vq3_q8_k;
    default: return nullptr;
  }
}

const IsaKernels kScalarKernels = {
    Isa::scalar,       prepare,          compute, dot_f32_scalar, dot_f16_f32_scalar,
    axpy_f32_scalar,   axpy_f16_f32_scalar, scale_f32_scalar,
    sum_squares_f32_scalar, scale_mul_f32_scalar, add_f32_scalar, mul_f32_scalar, swiglu_f32_scalar,
    exp_shifted_f32_scalar,
    row_dot_scalar,
};

}  // namespace wa::cpu::detail
