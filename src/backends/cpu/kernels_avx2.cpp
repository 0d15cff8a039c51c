// AVX2 + FMA + F16C kernels (Haswell / Zen and later). The bodies are in
// kernels_x86_body.h, shared with the AVX-512 file.
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
}  // namespace

const IsaKernels kAvx2Kernels = {
    Isa::avx2,           x86_matmul_prepare,      x86_matmul_compute, x86_dot_f32_256, x86_dot_f16_f32_256,
    x86_axpy_f32_256,    x86_axpy_f16_f32_256,    x86_scale_f32_256,
    x86_sum_squares_f32_256, x86_scale_mul_f32_256, x86_add_f32_256, x86_mul_f32_256, x86_swiglu_f32_256,
    exp_shifted_f32_scalar,  // (libm's expf: the softmax is a small share of native time)
    x86_row_dot,
};

}  // namespace wa::cpu::detail

#endif
