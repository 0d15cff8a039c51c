#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace wa {

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

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

int32_t Sampler::sample(const float* logits, int n_vocab) {
  cand_.resize(static_cast<size_t>(n_vocab));
  for (int i = 0; i < n_vocab; ++i) cand_[static_cast<size_t>(i)] = {i, logits[i], 0.0f};
  if (p_.repeat_penalty != 1.0f) {
    for (int32_t id : recent_) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = cand_[static_cast<size_t>(id)].logit;
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    }
  }
  if (p_.temperature <= 0.0f) {
    size_t best = 0;
    for (size_t i = 1; i < cand_.size(); ++i) {
      if (cand_[i].logit > cand_[best].logit) best = i;
    }
    return cand_[best].id;
  }
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    n = static_cast<size_t>(p_.top_k);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  // softmax over the kept candidates at the temperature
  const float mx = cand_[0].logit;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cand_[i].prob = std::exp((cand_[i].logit - mx) / p_.temperature);
    sum += cand_[i].prob;
  }
  for (size_t i = 0; i < n; ++i) cand_[i].prob = static_cast<float>(cand_[i].prob / sum);
  if (p_.min_p > 0.0f) {
    const float floor = cand_[0].prob * p_.min_p;
    size_t keep = 1;
    while (keep < n && cand_[keep].prob >= floor) ++keep;
    n = keep;
  }
  if (p_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = 0;
    while (keep < n) {
      cum += cand_[keep].prob;
      ++keep;
      if (cum >= p_.top_p) break;
    }
    n = keep;
  }
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += cand_[i].prob;
  double r = next_uniform() * total;
  for (size_t i = 0; i < n; ++i) {
    r -= cand_[i].prob;
    if (r < 0.0) return cand_[i].id;
  }
  return cand_[n - 1].id;
}

}  // namespace wa
