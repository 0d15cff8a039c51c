// Drawing a token from logits: the repetition penalty over a window of
// recent ids, the distribution (temperature, top-k, min-p, top-p) and the
// draw, given a uniform number. One definition for every place that samples:
// the host sampler (runtime/sampler.h, which owns the random stream and the
// window of the ids it accepted) and the graph's sample op, whose CPU kernel
// is these functions and whose WebGPU kernel (sample.wgsl with
// sample_window.wgsl) follows them step by step, so a decode step on the GPU
// can choose its token without reading the logits back, penalised or not.
#pragma once

#include <cstdint>
#include <span>
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
// With a repetition penalty, the window it looks at is the host sampler's
// (penalty_window words) when a step starts from ids the host gave; a step
// chained on a device (Session::eval_choose_chained) continues from the
// device's copy, to which every step appended its own choice, so the host
// need not see an id before the next step penalises it.
struct TokenChoice {
  SamplingParams sampling{0.0f, 0, 1.0f, 0.0f};
  double uniform = 0.0;
  float repeat_penalty = 1.0f;      // 1: none (then `window` is empty)
  std::span<const int32_t> window;  // penalty_window words, valid for the call that takes the choice
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

// ---- repetition penalty ----------------------------------------------------

// One occurrence of a token in the window: its logit divided by the penalty
// when positive, multiplied by it otherwise (so a penalty above 1 always
// makes the token less likely). A token that occurs c times in the window
// gets this c times, one after another.
inline float penalize(float logit, float penalty) { return logit > 0.0f ? logit / penalty : logit * penalty; }

// The window of the last `capacity` ids a sampler accepted, which the
// penalty applies to, as i32 words in one layout for the host sampler, the
// sample op's CPU kernel and the device (sample_window.wgsl):
//   [capacity, filled, next, slot 0, slot 1, ...]
// `filled` slots hold ids (at most capacity), `next` is the slot the next id
// goes to. Slots fill in order (next == filled until the window is full),
// then the next id replaces the oldest. So slots [0, filled) are exactly the
// window's ids, and a window that is not full needs only its filled slots:
// a host window grows as ids come, a device copy holds all capacity slots.
// (The order of the slots does not matter to the penalty: the occurrences of
// one id get the same operation, and different ids touch different logits.)
constexpr int kPenaltyWindowHeader = 3;
// The words of an empty window of `capacity` ids (the header alone).
std::vector<int32_t> penalty_window(int capacity);
// Words for a window of `capacity` ids with every slot present (a device copy, the CPU op's input).
inline size_t penalty_window_words(int capacity) { return static_cast<size_t>(kPenaltyWindowHeader + capacity); }
// Appends id to the window in `words`, replacing the oldest id once it is
// full; `words` must hold the slot it writes (a full-size window always
// does). Header values out of range (not written by these functions) are
// clamped, never trusted.
void penalty_window_append(std::span<int32_t> words, int32_t id);
// The same, growing a host window's words by the slot it writes.
void penalty_window_append(std::vector<int32_t>& words, int32_t id);
// The penalty applied to logits[0, n) once per occurrence of each id in the
// window (ids outside [0, n) are skipped).
void apply_repetition_penalty(float* logits, int n, std::span<const int32_t> words, float penalty);

// The largest window the device kernel penalises: its slots are gathered
// in the workgroup memory of sample.wgsl's candidates. Larger windows sample
// on the host.
constexpr int kDevicePenaltyMaxWindow = kDeviceSamplingMaxCandidates;
// Whether the device kernel applies `penalty` over a window of `capacity`
// ids exactly as the CPU does: a positive normal penalty (its division, done
// in integers to be correctly rounded, assumes one) and a window it holds.
bool device_penalty_supported(float penalty, int capacity);

}  // namespace wa
