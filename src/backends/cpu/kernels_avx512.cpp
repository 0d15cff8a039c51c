// AVX-512 (F, BW, VL, DQ) kernels, selected only when CPUID and XCR0 say the
// CPU and OS support them. The matmul bodies are the AVX2 ones of
// kernels_x86_body.h compiled with AVX-512 enabled (EVEX encoding, 32 vector
// registers); the vector primitives below use 512-bit registers.
// The AVX512-VNNI table (kernels_avx512_vnni.cpp) reuses these primitives.
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstring>

#include "backends/cpu/kernels_impl.h"
#include "quant/blocks.h"
#include "quant/unpack.h"
#include "quant/vq.h"

namespace wa::cpu::detail {
namespace {
#include "backends/cpu/kernels_x86_body.h"
#include "backends/cpu/kernels_x86_rowdot.h"

// Not _mm512_reduce_add_ps: GCC 12's version trips -Wuninitialized in its own
// header, and this runs once per call.
float hsum512(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  return hsum256(_mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8)));
}

__m512 load16_f16(const uint16_t* p) {
  // maskz form: the unmasked one trips GCC 12 -Wmaybe-uninitialized in its header.
  return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

}  // namespace

float dot_f32_512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  if (i < n) {  // masked tail: lanes past n load as zero
    const __mmask16 m0 = static_cast<__mmask16>(n - i >= 16 ? 0xffff : (1u << (n - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, a + i), _mm512_maskz_loadu_ps(m0, b + i), s0);
    i += 16;
    if (i < n) {
      const __mmask16 m1 = static_cast<__mmask16>((1u << (n - i)) - 1);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, a + i), _mm512_maskz_loadu_ps(m1, b + i), s1);
    }
  }
  return hsum512(_mm512_add_ps(s0, s1));
}

float dot_f16_f32_512(const uint16_t* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load16_f16(a + i), _mm512_loadu_ps(b + i), s0);
  float s = hsum512(s0);
  for (; i < n; ++i) s += h2f(a[i]) * b[i];
  return s;
}

void axpy_f32_512(float* y, float a, const float* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_f32_512(float* y, float a, const uint16_t* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, load16_f16(x + i), _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * h2f(x[i]);
}

void scale_f32_512(float* y, float a, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(av, _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

const IsaKernels kAvx512Kernels = {
    Isa::avx512,      x86_matmul_prepare,  x86_matmul_compute, dot_f32_512, dot_f16_f32_512,
    axpy_f32_512,     axpy_f16_f32_512,    scale_f32_512,
    x86_sum_squares_f32_256, x86_scale_mul_f32_256, x86_add_f32_256, x86_mul_f32_256, x86_swiglu_f32_256,
    exp_shifted_f32_scalar,  // (libm's expf: the softmax is a small share of native time)
    x86_row_dot,
};

}  // namespace wa::cpu::detail

#endif
