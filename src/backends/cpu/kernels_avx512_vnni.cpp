// AVX-512 + AVX512-VNNI kernels: the AVX-512 table with a q4_0 / q8_0 prompt
// GEMM (m > 1) built on vpdpbusd. Selected only when CPUID reports
// avx512_vnni; the plain AVX-512 table stays the fallback without it.
//
// vpdpbusd multiplies unsigned bytes by signed bytes and adds groups of 4
// products into int32 lanes with no 16-bit intermediate, so nothing
// saturates and no widening step is needed:
//   q4_0: the unsigned nibble u (0..15) times x, plus c = -8 * sum(x) per
//         block (already in the panel) for the u - 8 offset.
//   q8_0: w + 128 (0..255) times x, plus -128 * sum(x) = 16 * c.
// So both types cost one broadcast + one vpdpbusd per 64 MACs (4 k x 16 X
// rows), against maddubs + add (q4_0) or twice that (q8_0) on AVX2.
//
// Same workspace as the AVX2 kernels (8-row panels, kernels_impl.h): a zmm
// holds the same 4 k of two adjacent panels (16 X rows), so a broadcast of 4
// weight bytes serves 16 rows. The matvec (m == 1), f32/f16 and prepare are
// the shared x86 bodies.
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

constexpr int kVnniTileRows = 8;  // W rows per register tile (8 int32 + 8 f32 zmm accumulators)

// Unpacked weights for one group and k chunk, as unsigned bytes: the q4_0
// nibble, or the q8_0 value + 128.
struct VnniWBuf {
  alignas(64) uint8_t w[kGroupRows][kChunkBlocks * 32];
  alignas(64) float d[kGroupRows][kChunkBlocks];
};

template <bool Q4>
void unpack_group__vnni(const MatmulProblem& p, int64_t j0, int rows, int64_t b0, int nbc, VnniWBuf* buf) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < kGroupRows; ++r) {
    if (r >= rows) {  // padding rows: zero scale makes their (discarded) results 0
      std::memset(buf->w[r], 0, static_cast<size_t>(nbc) * 32);
      for (int b = 0; b < nbc; ++b) buf->d[r][b] = 0.0f;
      continue;
    }
    const uint8_t* row = static_cast<const uint8_t*>(p.w) + (j0 + r) * p.w_row_stride;
    for (int b = 0; b < nbc; ++b) {
      __m256i u;
      if constexpr (Q4) {
        const BlockQ4_0* blk = reinterpret_cast<const BlockQ4_0*>(row) + b0 + b;
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->qs));
        u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), mask);
        buf->d[r][b] = h2f(blk->d);
      } else {
        const BlockQ8_0* blk = reinterpret_cast<const BlockQ8_0*>(row) + b0 + b;
        u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs)), bias);
        buf->d[r][b] = h2f(blk->d);
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(buf->w[r] + b * 32), u);
    }
  }
}

// 32 bytes of panel A in the low half, 32 of panel B in the high half.
// maskz forms (all lanes) here and below: the unmasked intrinsics trip GCC 12
// -Wmaybe-uninitialized in its own header.
__m512i load_2x256(const uint8_t* a, const uint8_t* b) {
  return _mm512_maskz_inserti64x4(0xff, _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

// acc[r] lane l += chunk of W row (r0 + r) . X row l of panels A (l < 8) and
// B (l >= 8). pa and pb may be the same panel (odd panel count).
template <bool Q4>
void int8_gemm_tile_8x16__vnni(const VnniWBuf& buf, int r0, const uint8_t* pa, const uint8_t* pb, int nbc,
                               __m512 acc[kVnniTileRows]) {
  constexpr size_t kRowBytes = sizeof(buf.w[0]);
  const uint8_t* wp = buf.w[r0];
  for (int b = 0; b < nbc; ++b, wp += 32) {
    const uint8_t* xa = pa + static_cast<size_t>(b) * kPanelBlockBytes;
    const uint8_t* xb = pb + static_cast<size_t>(b) * kPanelBlockBytes;
    __m512i s[kVnniTileRows];
    for (int r = 0; r < kVnniTileRows; ++r) s[r] = _mm512_setzero_si512();
    for (int g = 0; g < 8; ++g) {
      const __m512i x = load_2x256(xa + g * 32, xb + g * 32);
      for (int r = 0; r < kVnniTileRows; ++r)
        s[r] = _mm512_dpbusd_epi32(s[r], _mm512_set1_epi32(load_i32(wp + r * kRowBytes + g * 4)), x);
    }
    const __m512i c = load_2x256(xa + 288, xb + 288);
    const __m512i corr = Q4 ? c : _mm512_maskz_slli_epi32(0xffff, c, 4);
    const __m512 dx = _mm512_castsi512_ps(load_2x256(xa + 256, xb + 256));
    for (int r = 0; r < kVnniTileRows; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dx, _mm512_set1_ps(buf.d[r0 + r][b])),
                               _mm512_maskz_cvtepi32_ps(0xffff, _mm512_add_epi32(s[r], corr)), acc[r]);
  }
}

// Same loop structure and thread split as int8_gemm (kernels_x86_body.h).
template <bool Q4>
void int8_gemm__vnni(const MatmulProblem& p, const void* ws, int ith, int nth) {
  const int64_t nb = p.k / 32;
  const int64_t panels = (p.m + kPanelRows - 1) / kPanelRows;
  const auto* base = static_cast<const uint8_t*>(ws);
  const Range rr = split_range(p.n, ith, nth, kGroupRows);
  static thread_local VnniWBuf buf;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int nbc = static_cast<int>(nb - b0 < kChunkBlocks ? nb - b0 : kChunkBlocks);
    for (int64_t j0 = rr.begin; j0 < rr.end; j0 += kGroupRows) {
      const int rows = static_cast<int>(rr.end - j0 < kGroupRows ? rr.end - j0 : kGroupRows);
      unpack_group__vnni<Q4>(p, j0, rows, b0, nbc, &buf);
      for (int64_t pi = 0; pi < panels; pi += 2) {
        const bool pair = pi + 1 < panels;
        const uint8_t* pa = base + panel_block_offset(pi, b0, panels, nb);
        const uint8_t* pb = pair ? base + panel_block_offset(pi + 1, b0, panels, nb) : pa;
        // X rows covered by this panel pair (16 lanes; a lone last panel
        // duplicates into the high half, which is discarded).
        const int64_t left = p.m - pi * kPanelRows;
        const int lanes = static_cast<int>(left < (pair ? 16 : 8) ? left : (pair ? 16 : 8));
        for (int t = 0; t < rows; t += kVnniTileRows) {
          __m512 acc[kVnniTileRows];
          for (int r = 0; r < kVnniTileRows; ++r) acc[r] = _mm512_setzero_ps();
          int8_gemm_tile_8x16__vnni<Q4>(buf, t, pa, pb, nbc, acc);
          const int tr = rows - t < kVnniTileRows ? rows - t : kVnniTileRows;
          for (int r = 0; r < tr; ++r) {
            alignas(64) float out[16];
            _mm512_store_ps(out, acc[r]);
            float* y = p.y + pi * kPanelRows * p.y_row_stride + j0 + t + r;
            // Chunks after the first add to Y: same order for every element,
            // whatever the thread split.
            if (b0 == 0) {
              for (int l = 0; l < lanes; ++l) y[l * p.y_row_stride] = out[l];
            } else {
              for (int l = 0; l < lanes; ++l) y[l * p.y_row_stride] += out[l];
            }
          }
        }
      }
    }
  }
}

void matmul_compute__vnni(const MatmulProblem& p, const void* ws, int ith, int nth) {
  if (p.m > 1 && p.wtype == DType::q4_0) return int8_gemm__vnni<true>(p, ws, ith, nth);
  if (p.m > 1 && p.wtype == DType::q8_0) return int8_gemm__vnni<false>(p, ws, ith, nth);
  x86_matmul_compute(p, ws, ith, nth);
}

}  // namespace

const IsaKernels kAvx512VnniKernels = {
    Isa::avx512_vnni, x86_matmul_prepare, matmul_compute__vnni, dot_f32_512, dot_f16_f32_512,
    axpy_f32_512,     axpy_f16_f32_512,   scale_f32_512,
    x86_sum_squares_f32_256, x86_scale_mul_f32_256, x86_add_f32_256, x86_mul_f32_256, x86_swiglu_f32_256,
    exp_shifted_f32_scalar,  // (libm's expf: the softmax is a small share of native time)
    x86_row_dot,
};

}  // namespace wa::cpu::detail

#endif
