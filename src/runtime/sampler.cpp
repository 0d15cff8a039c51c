#include "runtime/sampler.h"

#include <cstddef>

namespace wa {

Sampler::Sampler(const SamplerParams& params) : p_(params) { reset(); }

void Sampler::reset() {
  // SplitMix64 seeding: different seeds give unrelated streams.
  state_ = p_.seed + 0x9e3779b97f4a7c15ull;
  recent_.clear();
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
  recent_.push_back(id);
  while (static_cast<int>(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
}

TokenChoice Sampler::next_choice() {
  return {sampling(), p_.temperature > 0.0f ? next_uniform() : 0.0};
}

bool Sampler::choice_on_device(int n_vocab) const {
  if (p_.repeat_penalty != 1.0f && p_.repeat_last_n > 0) return false;
  return p_.temperature <= 0.0f || sampling_candidates(sampling(), n_vocab) <= kDeviceSamplingMaxCandidates;
}

int32_t Sampler::sample(const float* logits, int n_vocab) {
  const float* l = logits;
  if (p_.repeat_penalty != 1.0f) {
    penalized_.assign(logits, logits + n_vocab);
    for (int32_t id : recent_) {
      if (id < 0 || id >= n_vocab) continue;
      float& v = penalized_[static_cast<size_t>(id)];
      v = v > 0 ? v / p_.repeat_penalty : v * p_.repeat_penalty;
    }
    l = penalized_.data();
  }
  const double u = p_.temperature > 0.0f ? next_uniform() : 0.0;  // greedy decoding draws nothing
  return sample_logits(l, n_vocab, sampling(), u, cand_);
}

}  // namespace wa
