#include "runtime/bench_workload.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <vector>

namespace wa {

Status time_prompt_and_generation(Session& s, int n_prompt, int n_gen, double* seconds) {
  const int32_t n_vocab = s.n_vocab();
  std::vector<int32_t> toks(static_cast<size_t>(std::max(n_prompt, 1)));
  uint64_t x = 0x1234567;
  for (auto& t : toks) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((x >> 33) % static_cast<uint64_t>(n_vocab));
  }
  s.reset();
  const auto t0 = std::chrono::steady_clock::now();
  if (n_prompt > 0) WA_TRY(s.eval(toks));
  int32_t tok = toks[0];
  for (int i = 0; i < n_gen; ++i) {
    WA_TRY(s.eval(std::span<const int32_t>(&tok, 1)));
    tok = (tok * 7 + 13) % n_vocab;  // the token fed does not change the cost
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace wa
