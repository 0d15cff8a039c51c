#include "core/sampling.h"

#include <algorithm>
#include <cmath>

namespace wa {

std::vector<int32_t> penalty_window(int capacity) { return {capacity, 0, 0}; }

namespace {

// A window's header, clamped to what its words can hold.
struct WindowHeader {
  int32_t capacity, filled, next;
};
WindowHeader window_header(std::span<const int32_t> w) {
  if (w.size() < static_cast<size_t>(kPenaltyWindowHeader) || w[0] <= 0) return {0, 0, 0};
  const int32_t capacity = w[0];
  const int32_t filled = std::clamp(w[1], 0, capacity);
  const int32_t next = w[2] >= 0 && w[2] < capacity ? w[2] : 0;
  return {capacity, filled, next};
}

}  // namespace

void penalty_window_append(std::span<int32_t> w, int32_t id) {
  const WindowHeader h = window_header(w);
  const size_t slot = static_cast<size_t>(kPenaltyWindowHeader + h.next);
  if (h.capacity == 0 || slot >= w.size()) return;
  w[slot] = id;
  w[1] = std::min(h.filled + 1, h.capacity);
  w[2] = (h.next + 1) % h.capacity;
}

void penalty_window_append(std::vector<int32_t>& w, int32_t id) {
  const WindowHeader h = window_header(w);
  const size_t slot = static_cast<size_t>(kPenaltyWindowHeader + h.next);
  if (h.capacity > 0 && slot >= w.size()) w.resize(slot + 1);
  penalty_window_append(std::span<int32_t>(w), id);
}

void apply_repetition_penalty(float* logits, int n, std::span<const int32_t> w, float penalty) {
  const WindowHeader h = window_header(w);
  const size_t end = std::min(w.size(), static_cast<size_t>(kPenaltyWindowHeader + h.filled));
  for (size_t s = kPenaltyWindowHeader; s < end; ++s) {
    const int32_t id = w[s];
    if (id < 0 || id >= n) continue;
    logits[id] = penalize(logits[id], penalty);
  }
}

bool device_penalty_supported(float penalty, int capacity) {
  return std::isnormal(penalty) && penalty > 0.0f && capacity <= kDevicePenaltyMaxWindow;
}

int sampling_candidates(const SamplingParams& p, int n) {
  return p.top_k > 0 && p.top_k < n ? p.top_k : n;
}

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

int32_t sample_logits(const float* logits, int n, const SamplingParams& p, double u,
                      std::vector<SampleCandidate>& cand) {
  if (p.temperature <= 0.0f) return argmax(logits, n);
  cand.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) cand[static_cast<size_t>(i)] = {i, logits[i], 0.0f};
  auto by_logit = [](const SampleCandidate& a, const SampleCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t k = static_cast<size_t>(sampling_candidates(p, n));
  std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(), by_logit);
  // softmax over the kept candidates at the temperature
  const float mx = cand[0].logit;
  double sum = 0.0;
  for (size_t i = 0; i < k; ++i) {
    cand[i].prob = std::exp((cand[i].logit - mx) / p.temperature);
    sum += cand[i].prob;
  }
  for (size_t i = 0; i < k; ++i) cand[i].prob = static_cast<float>(cand[i].prob / sum);
  if (p.min_p > 0.0f) {
    const float floor = cand[0].prob * p.min_p;
    size_t keep = 1;
    while (keep < k && cand[keep].prob >= floor) ++keep;
    k = keep;
  }
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = 0;
    while (keep < k) {
      cum += cand[keep].prob;
      ++keep;
      if (cum >= p.top_p) break;
    }
    k = keep;
  }
  double total = 0.0;
  for (size_t i = 0; i < k; ++i) total += cand[i].prob;
  double r = u * total;
  for (size_t i = 0; i < k; ++i) {
    r -= cand[i].prob;
    if (r < 0.0) return cand[i].id;
  }
  return cand[k - 1].id;
}

}  // namespace wa
