#include "runtime/sampler.h"

#include <algorithm>

namespace wa {

Sampler::Sampler(const SamplerParams& params) : p_(params) { reset(); }

void Sampler::reset() {
  // SplitMix64 seeding: different seeds give unrelated streams.
  state_ = p_.seed + 0x9e3779b97f4a7c15ull;
  window_ = penalty_window(std::max(p_.repeat_last_n, 0));
}

double Sampler::next_uniform() {
  // xorshift64* step on a SplitMix64-mixed state
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
}

void Sampler::accept(int32_t id) {
  if (p_.repeat_last_n <= 0) return;
  penalty_window_append(window_, id);
}

TokenChoice Sampler::next_choice() {
  TokenChoice c{sampling(), p_.temperature > 0.0f ? next_uniform() : 0.0};
  if (penalized()) {
    c.repeat_penalty = p_.repeat_penalty;
    c.window = window_;
  }
  return c;
}

bool Sampler::choice_on_device(int n_vocab) const {
  if (penalized() && !device_penalty_supported(p_.repeat_penalty, p_.repeat_last_n)) return false;
  return p_.temperature <= 0.0f || sampling_candidates(sampling(), n_vocab) <= kDeviceSamplingMaxCandidates;
}

int32_t Sampler::sample(const float* logits, int n_vocab) {
  const float* l = logits;
  if (penalized()) {
    penalized_.assign(logits, logits + n_vocab);
    apply_repetition_penalty(penalized_.data(), n_vocab, window_, p_.repeat_penalty);
    l = penalized_.data();
  }
  const double u = p_.temperature > 0.0f ? next_uniform() : 0.0;  // greedy decoding draws nothing
  return sample_logits(l, n_vocab, sampling(), u, cand_);
}

}  // namespace wa
