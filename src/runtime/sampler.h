// Token sampling: greedy, or temperature with top-k, top-p, min-p, and a
// repetition penalty, from a seeded generator whose output is the same on
// every platform (our own uniform conversion; std:: distributions differ
// between standard libraries, which would break native-vs-wasm agreement).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

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

 private:
  double next_uniform();  // [0, 1)
  SamplerParams p_;
  uint64_t state_;
  std::deque<int32_t> recent_;
  struct Candidate {
    int32_t id;
    float logit;
    float prob;
  };
  std::vector<Candidate> cand_;
};

// Index of the largest logit (lowest index on ties).
int32_t argmax(const float* logits, int n);

}  // namespace wa
