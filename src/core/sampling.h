// Drawing a token from logits: the distribution (temperature, top-k, min-p,
// top-p) and the draw, given a uniform number. One definition for every
// place that samples: the host sampler (runtime/sampler.h, which adds the
// repetition penalty and owns the random stream) and the graph's sample op,
// whose CPU kernel is this function and whose WebGPU kernel (sample.wgsl)
// follows it step by step, so a decode step on the GPU can choose its token
// without reading the logits back.
#pragma once

#include <cstdint>
#include <vector>

namespace wa {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0: greedy (the largest logit)
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
};

// How a step's token is chosen by a backend (Session::eval_choose, the
// graph's sample op): the largest logit (greedy, the default), or the token
// that `uniform`, a draw in [0, 1) the host made (Sampler::next_choice),
// picks from the distribution, so that steps can be chained on a device
// without the host seeing the logits.
struct TokenChoice {
  SamplingParams sampling{0.0f, 0, 1.0f, 0.0f};
  double uniform = 0.0;
};

struct SampleCandidate {
  int32_t id;
  float logit;
  float prob;
};

// The token that u in [0, 1) picks. The logits are ordered by value (ties:
// lower id first) and cut to the top k; probabilities are the softmax of
// logit / temperature over those; min-p keeps the candidates whose
// probability is at least min_p times the largest; top-p keeps the shortest
// prefix whose probabilities (as normalised over the top k) reach top_p;
// u times the kept mass then walks the prefix. With temperature <= 0 it is
// the first index of the largest logit. scratch is reused between calls.
int32_t sample_logits(const float* logits, int n, const SamplingParams& p, double u,
                      std::vector<SampleCandidate>& scratch);

// The first index of the largest logit: greedy decoding's choice (and
// sample_logits' with temperature <= 0).
int32_t argmax(const float* logits, int n);

// How many candidates survive the top-k cut of n logits (k, or n when
// top-k is off or k >= n).
int sampling_candidates(const SamplingParams& p, int n);

// The most candidates the device kernel (sample.wgsl) holds: sampling with
// more (top-k off or above this, on a larger vocabulary) reads the logits
// back and samples on the host.
constexpr int kDeviceSamplingMaxCandidates = 1024;

}  // namespace wa
