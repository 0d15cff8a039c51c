// Single-thread speed of the wasm matmul kernels on a 1B LLaMA's shapes:
// decode (m = 1) for every weight type and prompt GEMMs (m = 128) for the
// types with one, each under the active ISA and the scalar reference.
// Time is the process's CPU time (Node's process.cpuUsage), so other
// processes on a shared machine disturb it less than wall time; shapes are
// interleaved round by round; prints the best and the median GFLOP/s.
// For before/after comparisons, build this at both commits and run the two
// binaries alternately.
//
//   cmake --build --preset wasm -j1 --target wasm_kernels_bench
//   node --no-experimental-fetch build/wasm-st/bin/wasm_kernels_bench.js [ROUNDS] [TYPE...] [decode|prompt]
// TYPE q4_0x4: q4_0 weights repacked as the wasm engine does at load.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <emscripten.h>

#include "backends/cpu/kernels.h"
#include "core/dtype.h"
#include "quant/vq.h"

EM_JS(double, cpu_micros, (), { const u = process.cpuUsage(); return u.user + u.system; });

namespace {

using namespace wa;
using namespace wa::cpu;

struct Problem {
  DType type;
  int64_t m, n, k;
  std::vector<uint8_t> w;
  std::vector<float> x, y;
  std::vector<uint8_t> ws;
};

Problem make_problem(DType type, int64_t m, int64_t n, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{type, m, n, k, {}, {}, {}, {}};
  std::vector<float> row(static_cast<size_t>(k));
  const size_t rb = row_bytes(type, k);
  p.w.resize(rb * static_cast<size_t>(n));
  // The vq quantizer (quant/vq.h) is slow (about 0.2 M weights/s natively):
  // 256 distinct rows, repeated, carry the codes' distribution.
  const int64_t distinct = quant::is_vq_type(type) ? 256 : n;
  for (int64_t j = 0; j < n; ++j) {
    if (j >= distinct) {
      std::memcpy(p.w.data() + static_cast<size_t>(j) * rb, p.w.data() + static_cast<size_t>(j % distinct) * rb, rb);
      continue;
    }
    for (auto& v : row) v = dist(rng);
    // q4_0x4 is q4_0 repacked (below): quantized as q4_0.
    type_traits(type == DType::q4_0x4 ? DType::q4_0 : type)->from_f32(row.data(), p.w.data() + static_cast<size_t>(j) * rb, k);
  }
  if (type == DType::q4_0x4) repack_q4_0x4(p.w.data(), rb, n, k);
  p.x.resize(static_cast<size_t>(m * k));
  for (auto& v : p.x) v = dist(rng);
  p.y.resize(static_cast<size_t>(m * n));
  p.ws.resize(matmul_workspace_bytes(type, m, k));
  return p;
}

MatmulProblem matmul_problem(Problem& pr) {
  return {pr.type, pr.w.data(), row_bytes(pr.type, pr.k), pr.x.data(), pr.k, pr.y.data(), pr.n, pr.m, pr.n, pr.k};
}

// Repeats the problem until at least 50 ms of CPU time have passed; seconds per run.
double run_seconds(Problem& pr) {
  const MatmulProblem p = matmul_problem(pr);
  int runs = 0;
  const double t0 = cpu_micros();
  double t = t0;
  do {
    matmul_prepare(p, pr.ws.data(), 0, 1);
    matmul_compute(p, pr.ws.data(), 0, 1);
    ++runs;
    t = cpu_micros();
  } while (t - t0 < 5e4);
  return (t - t0) * 1e-6 / runs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  // ROUNDS < 0: run every problem -ROUNDS times untimed, once per ISA and
  // shape, and print nothing else: for counting executed instructions (e.g.
  // valgrind --tool=cachegrind on node --no-liftoff), which machine load
  // does not disturb.
  const int arg = argc > 1 ? std::atoi(argv[1]) : 5;
  const int rounds = std::max(1, arg);
  const int count_runs = arg < 0 ? -arg : 0;
  std::vector<DType> types;
  bool decode = true, prompt = true;  // "decode" / "prompt" among the arguments: only those shapes
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "decode") == 0) prompt = false;
    if (std::strcmp(argv[i], "prompt") == 0) decode = false;
    for (DType t : {DType::f32, DType::f16, DType::q8_0, DType::q4_0, DType::q4_0x4, DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k,
                    DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::wa_vq2, DType::wa_vq3}) {
      if (std::strcmp(argv[i], dtype_name(t)) == 0) types.push_back(t);
    }
  }
  if (types.empty()) types = {DType::q4_0, DType::q8_0};
  struct Shape {
    const char* name;
    int64_t m, n, k;
  };
  const Shape shapes[] = {{"decode 1x2048x2048", 1, 2048, 2048},
                          {"decode 1x5632x2048", 1, 5632, 2048},
                          {"decode 1x2048x5632", 1, 2048, 5632},
                          {"prompt 128x2048x2048", 128, 2048, 2048}};
  const Isa isas[] = {detect_isa(), Isa::scalar};
  struct Entry {
    DType type;
    Shape shape;
    Isa isa;
    Problem pr;
    std::vector<double> secs;
  };
  std::vector<Entry> entries;
  std::mt19937 rng(7);
  for (DType t : types) {
    for (const Shape& s : shapes) {
      for (Isa isa : isas) {
        // The scalar prompt GEMM takes seconds per run: decode shapes only.
        if (isa == Isa::scalar && s.m > 1) continue;
        if ((s.m == 1 && !decode) || (s.m > 1 && !prompt)) continue;
        entries.push_back({t, s, isa, make_problem(t, s.m, s.n, s.k, rng), {}});
      }
    }
  }
  if (count_runs > 0) {
    for (Entry& e : entries) {
      if (e.isa == Isa::scalar) continue;
      force_isa(e.isa);
      const MatmulProblem p = matmul_problem(e.pr);
      for (int i = 0; i < count_runs; ++i) {
        matmul_prepare(p, e.pr.ws.data(), 0, 1);
        matmul_compute(p, e.pr.ws.data(), 0, 1);
      }
    }
    std::printf("ran %d times each\n", count_runs);
    return 0;
  }
  for (int r = 0; r < rounds; ++r) {
    for (Entry& e : entries) {
      force_isa(e.isa);
      e.secs.push_back(run_seconds(e.pr));
    }
  }
  std::printf("| type | shape | isa | GFLOP/s best of %d | median |\n| --- | --- | --- | ---: | ---: |\n", rounds);
  for (const Entry& e : entries) {
    const double flop = 2.0 * static_cast<double>(e.shape.m * e.shape.n * e.shape.k);
    std::printf("| %s | %s | %s | %.2f | %.2f |\n", dtype_name(e.type), e.shape.name, isa_name(e.isa),
                flop / *std::min_element(e.secs.begin(), e.secs.end()) / 1e9, flop / median(e.secs) / 1e9);
  }
  return 0;
}
