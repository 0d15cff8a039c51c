// ISA detection and dispatch. The kernels themselves live in
// kernels_scalar.cpp (the reference) and the per-ISA files.
#include "backends/cpu/kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "backends/cpu/kernels_impl.h"
#include "quant/reference.h"

#if defined(WA_HAVE_X86_KERNELS) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define WA_X86_CPUID 1
#endif

namespace wa::cpu {
namespace {

using detail::IsaKernels;
using detail::RowDotFn;

#if defined(WA_X86_CPUID)
uint64_t read_xcr0() {
  uint32_t eax, edx;
  // xgetbv with ecx=0; encoded as bytes so no -mxsave is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2 = false;
  bool avx512 = false;
  bool avx512_vnni = false;
};

X86Features probe_x86() {
  X86Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  // The OS must save XMM+YMM state (bits 1,2) for AVX, and additionally the
  // opmask and both halves of ZMM (bits 5,6,7) for AVX-512.
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
             avx512vl = (b >> 31) & 1;
  f.avx2 = os_avx && avx2 && fma && f16c;
  f.avx512 = f.avx2 && os_avx512 && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && ((c >> 11) & 1);  // CPUID.(7,0):ECX bit 11
  return f;
}

const X86Features& x86_features() {
  static const X86Features f = probe_x86();
  return f;
}
#endif

const IsaKernels* table_for(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return &detail::kScalarKernels;
#if defined(WA_X86_CPUID)
    case Isa::avx2:
      return x86_features().avx2 ? &detail::kAvx2Kernels : nullptr;
    case Isa::avx512:
      return x86_features().avx512 ? &detail::kAvx512Kernels : nullptr;
    case Isa::avx512_vnni:
      return x86_features().avx512_vnni ? &detail::kAvx512VnniKernels : nullptr;
#endif
#if defined(WA_HAVE_WASM_SIMD128)
    // The module only instantiates where SIMD128 exists, so no probe is needed.
    case Isa::wasm_simd128:
      return &detail::kWasmSimd128Kernels;
    // Linked only into the relaxed modules (weak: null in the others).
    case Isa::wasm_relaxed:
      return &detail::kWasmRelaxedKernels;
#endif
    default:
      return nullptr;
  }
}

const IsaKernels* initial_table() {
  if (const char* env = std::getenv("WEBACCEL_ISA")) {
    for (Isa isa : kAllIsas) {
      if (std::strcmp(env, isa_name(isa)) == 0) {
        if (const IsaKernels* t = table_for(isa)) return t;
      }
    }
    // An unknown or unsupported value falls back to detection rather than
    // failing: the variable is a tuning knob, not a correctness switch.
  }
  return table_for(detect_isa());
}

std::atomic<const IsaKernels*>& active_slot() {
  static std::atomic<const IsaKernels*> slot{initial_table()};
  return slot;
}

const IsaKernels& K() { return *active_slot().load(std::memory_order_relaxed); }

bool is_int8_dot_type(DType t) { return t == DType::q4_0 || t == DType::q4_0x4 || t == DType::q8_0; }

// The table that runs a problem: q4_0x4 weights on an ISA without kernels
// for them go to the scalar reference (both phases: the workspace layout is
// per ISA).
const IsaKernels& kernels_for(DType t) {
  const IsaKernels& k = K();
  return t == DType::q4_0x4 && !k.q4_0x4 ? detail::kScalarKernels : k;
}

// ---- row-dot types (kernels_impl.h): one driver for every ISA

RowDotFn row_dot_for(DType t) {
  const IsaKernels& k = K();
  if (k.row_dot) {
    if (RowDotFn f = k.row_dot(t)) return f;
  }
  return detail::kScalarKernels.row_dot(t);
}

void row_dot_prepare(const MatmulProblem& p, void* ws, int ith, int nth) {
  const bool kq = detail::is_k_quant(p.wtype);
  const int64_t bs = kq ? QK_K : 32;
  const size_t bb = kq ? sizeof(BlockQ8_K) : sizeof(BlockQ8Sum);
  const auto quantize = kq ? quant::quantize_row_q8_k : quant::quantize_row_q8_sum;
  const size_t arb = detail::ws_act_row_bytes(p.wtype, p.k);
  auto* base = static_cast<uint8_t*>(ws);
  if (p.m == 1) {  // one row: split its blocks
    const detail::Range r = detail::split_range(p.k / bs, ith, nth, 1);
    if (r.end > r.begin) quantize(p.x + r.begin * bs, base + static_cast<size_t>(r.begin) * bb, (r.end - r.begin) * bs);
    return;
  }
  const detail::Range r = detail::split_range(p.m, ith, nth, 1);
  for (int64_t i = r.begin; i < r.end; ++i) quantize(p.x + i * p.x_row_stride, base + static_cast<size_t>(i) * arb, p.k);
}

// W rows split between threads; a thread takes kRows W rows at a time past
// every X row, so those rows stay in L1 while X streams from L2.
void row_dot_compute(const MatmulProblem& p, const void* ws, int ith, int nth) {
  constexpr int64_t kRows = 4;
  const RowDotFn dot = row_dot_for(p.wtype);
  const int64_t nb = p.k / block_size(p.wtype);
  const size_t arb = detail::ws_act_row_bytes(p.wtype, p.k);
  const auto* xq = static_cast<const uint8_t*>(ws);
  const auto* w = static_cast<const uint8_t*>(p.w);
  const detail::Range r = detail::split_range(p.n, ith, nth, kRows);
  for (int64_t j0 = r.begin; j0 < r.end; j0 += kRows) {
    const int64_t j1 = j0 + kRows < r.end ? j0 + kRows : r.end;
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = j0; j < j1; ++j) p.y[i * p.y_row_stride + j] = dot(w + j * p.w_row_stride, xq + i * arb, nb);
    }
  }
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_vnni: return "avx512_vnni";
    case Isa::wasm_simd128: return "wasm_simd128";
    case Isa::wasm_relaxed: return "wasm_relaxed";
  }
  return "unknown";
}

Isa detect_isa() {
#if defined(WA_X86_CPUID)
  if (x86_features().avx512_vnni) return Isa::avx512_vnni;
  if (x86_features().avx512) return Isa::avx512;
  if (x86_features().avx2) return Isa::avx2;
#endif
#if defined(WA_HAVE_WASM_SIMD128)
  if (&detail::kWasmRelaxedKernels) return Isa::wasm_relaxed;
  return Isa::wasm_simd128;
#endif
  return Isa::scalar;
}

Isa active_isa() { return K().isa; }

bool isa_supported(Isa isa) { return table_for(isa) != nullptr; }

bool force_isa(Isa isa) {
  const IsaKernels* t = table_for(isa);
  if (!t) return false;
  active_slot().store(t, std::memory_order_relaxed);
  return true;
}

bool matmul_supports(DType wtype) {
  return wtype == DType::f32 || wtype == DType::f16 || is_int8_dot_type(wtype) || detail::is_row_dot_type(wtype);
}

size_t matmul_workspace_bytes(DType wtype, int64_t m, int64_t k) {
  if (detail::is_row_dot_type(wtype)) return static_cast<size_t>(m) * detail::ws_act_row_bytes(wtype, k);
  if (!is_int8_dot_type(wtype)) return 0;
  // Large enough for either layout, so the ISA may change between problems.
  const size_t row = static_cast<size_t>(m) * detail::ws_row_bytes(k);
  const size_t panel = detail::ws_panel_bytes(m, k);
  const size_t pair_panel = detail::ws_pair_panel_bytes(m, k);
  const size_t nibble_row = static_cast<size_t>(m) * detail::ws_nibble_row_bytes(k);
  const size_t quad_panel = detail::ws_quad_panel_bytes(m, k);
  const size_t byte_row = static_cast<size_t>(m) * detail::ws_byte_row_bytes(k);
  size_t most = 0;
  for (size_t s : {row, panel, pair_panel, nibble_row, quad_panel, byte_row}) most = s > most ? s : most;
  return most;
}

void matmul_prepare(const MatmulProblem& p, void* workspace, int ith, int nth) {
  if (detail::is_row_dot_type(p.wtype)) return row_dot_prepare(p, workspace, ith, nth);
  kernels_for(p.wtype).matmul_prepare(p, workspace, ith, nth);
}

void matmul_compute(const MatmulProblem& p, const void* workspace, int ith, int nth) {
  if (detail::is_row_dot_type(p.wtype)) return row_dot_compute(p, workspace, ith, nth);
  kernels_for(p.wtype).matmul_compute(p, workspace, ith, nth);
}

bool matmul_has_simd(DType wtype) {
  if (!matmul_supports(wtype)) return false;
  if (wtype == DType::q4_0x4) return K().q4_0x4;
  if (!detail::is_row_dot_type(wtype)) return K().isa != Isa::scalar;
  const IsaKernels& k = K();
  return k.isa != Isa::scalar && k.row_dot && k.row_dot(wtype);
}

bool matmul_prefers_q4_0x4() { return K().q4_0x4; }

bool repack_q4_0x4(void* w, size_t row_stride, int64_t n, int64_t k) {
  constexpr int R = detail::kQ4x4Rows;
  const int64_t nb = k / QK4_0, groups = n / R;
  auto* base = static_cast<uint8_t*>(w);
  for (int64_t j = 0; j < groups * R; ++j) {
    const auto* row = reinterpret_cast<const BlockQ4_0*>(base + static_cast<size_t>(j) * row_stride);
    for (int64_t b = 0; b < nb; ++b) {
      if ((row[b].d & 0x7c00) == 0x7c00) return false;  // exponent all ones: infinite or NaN
    }
  }
  const size_t rb = static_cast<size_t>(nb) * sizeof(BlockQ4_0);
  std::vector<uint8_t> rows(R * rb);  // one group's rows, copied out before their bytes are rewritten
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* group = base + static_cast<size_t>(g) * R * row_stride;
    for (int r = 0; r < R; ++r) std::memcpy(rows.data() + r * rb, group + r * row_stride, rb);
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* rec = group + static_cast<size_t>(b) * detail::kQ4x4RecordBytes;
      for (int r = 0; r < R; ++r) {
        const auto* blk = reinterpret_cast<const BlockQ4_0*>(rows.data() + r * rb) + b;
        std::memcpy(rec + 16 * r, blk->qs, sizeof blk->qs);
        std::memcpy(rec + 64 + 2 * r, &blk->d, sizeof blk->d);
      }
    }
  }
  return true;
}

void dequantize_row_q4_0x4(const void* w, size_t row_stride, int64_t n, int64_t j, float* y, int64_t k) {
  for (int64_t b = 0; b < k / QK4_0; ++b) {
    const detail::Q4Block q = detail::q4_block(DType::q4_0x4, w, row_stride, n, j, b);
    BlockQ4_0 blk;
    blk.d = q.d;
    std::memcpy(blk.qs, q.qs, sizeof blk.qs);
    quant::dequantize_row_q4_0(&blk, y + b * QK4_0, QK4_0);
  }
}

float dot_f32(const float* a, const float* b, int64_t n) { return K().dot_f32(a, b, n); }
double sum_squares_f32(const float* x, int64_t n) { return K().sum_squares_f32(x, n); }
void scale_mul_f32(float* y, const float* x, float s, const float* w, int64_t n) { K().scale_mul_f32(y, x, s, w, n); }
void add_f32(float* y, const float* a, const float* b, int64_t n) { K().add_f32(y, a, b, n); }
void mul_f32(float* y, const float* a, const float* b, int64_t n) { K().mul_f32(y, a, b, n); }
void swiglu_f32(float* y, const float* g, const float* u, int64_t n) { K().swiglu_f32(y, g, u, n); }
double exp_shifted_f32(float* s, int64_t n, float shift) { return K().exp_shifted_f32(s, n, shift); }
float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) { return K().dot_f16_f32(a, b, n); }
void axpy_f32(float* y, float a, const float* x, int64_t n) { K().axpy_f32(y, a, x, n); }
void axpy_f16_f32(float* y, float a, const uint16_t* x, int64_t n) { K().axpy_f16_f32(y, a, x, n); }
void scale_f32(float* y, float a, int64_t n) { K().scale_f32(y, a, n); }

}  // namespace wa::cpu
