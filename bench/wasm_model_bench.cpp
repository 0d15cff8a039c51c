// pp/tg throughput of a whole model on the wasm build, with the CPU backend's
// per-op profile: the wasm counterpart of `WEBACCEL_PROFILE=1 webaccel bench`
// (the product module cannot read the environment: emscripten gives it a
// fixed one, so the profile switch is set here before the backend exists).
// Same tests as tools/webaccel/cmd_bench.cpp: the same random tokens, a fresh
// context per repetition, one warm-up run per test, f16 KV cache.
//
//   cmake --build --preset wasm-mt -j1 --target wasm_model_bench
//   node build/wasm-mt/bin/wasm_model_bench.js MODEL.gguf [-t 2] [-p 512] [-n 128] [-r 3] [--profile 1] [--isa scalar]
//
// Prints one line per test: the median and every sample of tokens/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "core/memory.h"
#include "formats/gguf.h"
#include "runtime/model.h"
#include "runtime/bench_workload.h"
#include "runtime/session.h"

namespace {

using namespace wa;

// The workload of `webaccel bench` (runtime/bench_workload.h); -1 on error.
double run_test(Session& s, int n_prompt, int n_gen) {
  double seconds = 0;
  return time_prompt_and_generation(s, n_prompt, n_gen, &seconds).ok() ? seconds : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: wasm_model_bench MODEL.gguf [-t T] [-p N] [-n N] [-r R] [--profile 1] [--isa NAME]\n");
    return 2;
  }
  int threads = 1, pp = 512, tg = 128, reps = 3;
  bool profile = false;
  std::string isa;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "-t") threads = std::atoi(v);
    else if (k == "-p") pp = std::atoi(v);
    else if (k == "-n") tg = std::atoi(v);
    else if (k == "-r") reps = std::atoi(v);
    else if (k == "--profile") profile = std::atoi(v) != 0;
    else if (k == "--isa") isa = v;
  }
  if (profile) setenv("WEBACCEL_PROFILE", "1", 1);
  if (isa == "scalar") cpu::force_isa(cpu::Isa::scalar);

  std::FILE* f = std::fopen(argv[1], "rb");
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (std::fread(bytes.data(), 1, bytes.size(), f) != bytes.size()) return 1;
  std::fclose(f);

  MemoryTracker tracker;
  auto file = GgufFile::from_memory(bytes.data(), bytes.size());
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().message().c_str());
    return 1;
  }
  LoadOptions lo;
  lo.tracker = &tracker;
  auto loaded = load_model(std::move(file.value()), argv[1], lo);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
    return 1;
  }
  LoadedModel m = std::move(loaded.value());
  // As the engine does for a model on the CPU (wa_model_load): q4_0 weights
  // into the wasm kernels' layout, in this buffer (bytes is ours).
  repack_weights_for_cpu(m);
  std::unique_ptr<Backend> backend = make_cpu_backend({threads, &tracker});
  {
    SessionOptions so;
    so.n_ctx = std::max(pp + tg, 16);
    so.kv_type = DType::f16;
    so.tracker = &tracker;
    auto session = Session::create(*m.model, *backend, so);
    if (!session.ok()) {
      std::fprintf(stderr, "%s\n", session.status().message().c_str());
      return 1;
    }
    Session& s = *session.value();
    struct Test {
      const char* name;
      int p, n;
    };
    for (Test t : {Test{"pp", pp, 0}, Test{"tg", 0, tg}}) {
      const int count = t.p + t.n;
      if (count == 0) continue;
      run_test(s, t.p, std::min(t.n, 8));  // warm-up
      std::vector<double> ts;
      for (int r = 0; r < reps; ++r) {
        const double sec = run_test(s, t.p, t.n);
        if (sec < 0) return 1;
        ts.push_back(count / sec);
      }
      std::vector<double> sorted = ts;
      std::sort(sorted.begin(), sorted.end());
      std::printf("%s%d t=%d isa=%s median %.2f t/s samples", t.name, count, threads, cpu::isa_name(cpu::active_isa()),
                  sorted[sorted.size() / 2]);
      for (double v : ts) std::printf(" %.2f", v);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  backend.reset();  // prints the profile
  return 0;
}
