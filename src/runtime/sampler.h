// Token sampling: greedy, or temperature with top-k, top-p, min-p, and a
// repetition penalty, from a seeded generator whose output is the same on
// every platform (our own uniform conversion; std:: distributions differ
// between standard libraries, which would break native-vs-wasm agreement).
#pragma once

#include <cstdint>
#include <vector>

#include "core/sampling.h"

namespace wa {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  // Picks the next token from logits (n_vocab floats); does not record it.
  int32_t sample(const float* logits, int n_vocab);
  // Records a token (prompt or generated) for the repetition penalty.
  void accept(int32_t id);
  void reset();

  // For a backend that chooses tokens itself (Session::eval_choose): the
  // distribution, the number of the random stream that sample() would have
  // drawn for this token (none when greedy), so a step on the device makes
  // the same draw from the same stream as the host would, and the
  // repetition penalty with this sampler's window (valid until the next
  // accept() or reset()).
  TokenChoice next_choice();
  // Whether a backend step can make this sampler's choices: not with more
  // candidates than the device kernel holds, nor with a penalty or window
  // it cannot apply as the host does (core/sampling.h).
  bool choice_on_device(int n_vocab) const;

 private:
  SamplingParams sampling() const { return {p_.temperature, p_.top_k, p_.top_p, p_.min_p}; }
  // A penalty other than 1 over a window of at least one id.
  bool penalized() const { return p_.repeat_penalty != 1.0f && p_.repeat_last_n > 0; }
  double next_uniform();  // [0, 1)
  SamplerParams p_;
  uint64_t state_;
  std::vector<int32_t> window_;  // the last repeat_last_n ids accepted (penalty_window words)
  std::vector<float> penalized_;
  std::vector<SampleCandidate> cand_;
};

}  // namespace wa
