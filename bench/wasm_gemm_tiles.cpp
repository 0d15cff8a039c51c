// Register-tile choice for the wasm SIMD128 prompt GEMMs, by measurement:
// every candidate tile (kernels_impl.h) on the shapes of a prompt through a
// 1B LLaMA's projections (m = 128 prompt tokens) and, for f16 (the KV cache), of
// prefill attention (m = 64 query rows),
// one thread, candidates interleaved round by round so that machine load
// hits them alike; prints the best and the median GFLOP/s per tile and shape
// (the best is the steadier figure when other processes share the core). Time is the
// process's CPU time (Node's process.cpuUsage), not wall time: on a shared
// machine the wall clock also counts the time other processes held the core.
//
//   make wasm-tiles   (builds with the wasm preset, runs under Node)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <emscripten.h>

#include "backends/cpu/kernels.h"
#include "backends/cpu/kernels_impl.h"
#include "core/dtype.h"

// Microseconds of CPU time (user + system) this process has used.
EM_JS(double, cpu_micros, (), { const u = process.cpuUsage(); return u.user + u.system; });

namespace {

using namespace wa;
using namespace wa::cpu;

struct Shape {
  const char* name;
  int64_t m, n, k;
};

struct Problem {
  DType type;
  Shape shape;
  std::vector<uint8_t> w;
  std::vector<float> x, y;
  std::vector<uint8_t> ws;
};

Problem make_problem(DType type, Shape s, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{type, s, {}, {}, {}, {}};
  std::vector<float> row(static_cast<size_t>(s.k));
  p.w.resize(row_bytes(type, s.k) * static_cast<size_t>(s.n));
  for (int64_t j = 0; j < s.n; ++j) {
    for (auto& v : row) v = dist(rng);
    void* dst = p.w.data() + static_cast<size_t>(j) * row_bytes(type, s.k);
    if (type == DType::f32) {
      std::memcpy(dst, row.data(), row.size() * sizeof(float));
    } else {
      type_traits(type)->from_f32(row.data(), dst, s.k);
    }
  }
  p.x.resize(static_cast<size_t>(s.m * s.k));
  for (auto& v : p.x) v = dist(rng);
  p.y.resize(static_cast<size_t>(s.m * s.n));
  p.ws.resize(matmul_workspace_bytes(type, s.m, s.k));
  return p;
}

double run_seconds(Problem& pr) {
  const Shape& s = pr.shape;
  MatmulProblem p{pr.type, pr.w.data(), row_bytes(pr.type, s.k), pr.x.data(), s.k, pr.y.data(), s.n, s.m, s.n, s.k};
  const double t0 = cpu_micros();
  matmul_prepare(p, pr.ws.data(), 0, 1);
  matmul_compute(p, pr.ws.data(), 0, 1);
  return (cpu_micros() - t0) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  // The relaxed-SIMD tiles in the relaxed build (wasm_gemm_tiles_relaxed), else SIMD128's.
  const Isa isa = detect_isa();
  if (isa != Isa::wasm_simd128 && isa != Isa::wasm_relaxed) {
    std::fprintf(stderr, "wasm_gemm_tiles: no SIMD128 kernels in this build\n");
    return 1;
  }
  const detail::WasmTileApi api = detail::wasm_tile_api(isa);
  force_isa(isa);
  std::printf("kernels: %s\n\n", isa_name(isa));
  detail::WasmTile int8_default, float_default;
  api.get(&int8_default, &float_default);
  std::mt19937 rng(7);
  // 128 prompt rows rather than 512: the same tiles and loop nest, a quarter
  // of the time per round, so more rounds fit.
  const Shape proj[] = {{"qkvo 128x2048x2048", 128, 2048, 2048}, {"ffn-down 128x2048x5632", 128, 2048, 5632}};
  const Shape attn[] = {{"attn-qk 64x512x64", 64, 512, 64}, {"attn-pv 64x64x512", 64, 64, 512}};
  std::printf("| type | shape | tile (w x x) | GFLOP/s best of %d | median |\n| --- | --- | --- | ---: | ---: |\n", rounds);
  for (DType type : {DType::q4_0, DType::q8_0, DType::f16, DType::f32}) {
    const bool int8 = type == DType::q4_0 || type == DType::q8_0;
    std::vector<Shape> shapes(std::begin(proj), std::end(proj));
    if (type == DType::f16) shapes.insert(shapes.end(), std::begin(attn), std::end(attn));
    const int count = int8 ? api.int8_count() : api.float_count();
    for (const Shape& s : shapes) {
      Problem pr = make_problem(type, s, rng);
      std::vector<std::vector<double>> secs(static_cast<size_t>(count));
      for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < count; ++i) {
          const detail::WasmTile t = int8 ? api.int8_tile(i) : api.float_tile(i);
          api.set(int8 ? t : int8_default, int8 ? float_default : t);
          secs[static_cast<size_t>(i)].push_back(run_seconds(pr));
        }
      }
      for (int i = 0; i < count; ++i) {
        const detail::WasmTile t = int8 ? api.int8_tile(i) : api.float_tile(i);
        const double flop = 2.0 * static_cast<double>(s.m * s.n * s.k);
        const auto& v = secs[static_cast<size_t>(i)];
        std::printf("| %s | %s | %dx%d%s | %.2f | %.2f |\n", dtype_name(type), s.name, t.w, t.x, i == 0 ? " (default)" : "",
                    flop / best(v) / 1e9, flop / median(v) / 1e9);
      }
      std::fflush(stdout);
    }
  }
  api.set(int8_default, float_default);
  return 0;
}
