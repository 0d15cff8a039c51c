// core/sampling.h, the reference every backend's sample kernel is compared
// with (tests/webgpu/backend_ops.cpp): its steps on logits whose
// probabilities are known exactly (ln 1, ln 2, ln 4: 1/7, 2/7, 4/7), and
// which sampler settings a device step can take (runtime/sampler.h).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/sampling.h"
#include "runtime/sampler.h"

namespace {

int32_t pick(const std::vector<float>& logits, wa::SamplingParams p, double u) {
  std::vector<wa::SampleCandidate> scratch;
  return wa::sample_logits(logits.data(), static_cast<int>(logits.size()), p, u, scratch);
}

const std::vector<float> kSevenths = {0.0f, std::log(2.0f), std::log(4.0f)};  // p = 1/7, 2/7, 4/7

TEST(Sampling, DrawWalksTheCandidatesFromTheMostLikely) {
  const wa::SamplingParams all{1.0f, 0, 1.0f, 0.0f};
  EXPECT_EQ(pick(kSevenths, all, 0.0), 2);
  EXPECT_EQ(pick(kSevenths, all, 0.5), 2);   // < 4/7
  EXPECT_EQ(pick(kSevenths, all, 0.6), 1);   // in [4/7, 6/7)
  EXPECT_EQ(pick(kSevenths, all, 0.9), 0);   // >= 6/7
  EXPECT_EQ(pick(kSevenths, all, 0.999), 0);
}

TEST(Sampling, TopKMinPAndTopPCutTheCandidates) {
  // top-k 1: always the largest.
  EXPECT_EQ(pick(kSevenths, {1.0f, 1, 1.0f, 0.0f}, 0.999), 2);
  // min-p 0.3: 1/7 < 0.3 * 4/7, so id 0 goes; u = 0.9 of 6/7 lands on id 1.
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 1.0f, 0.3f}, 0.9), 1);
  // top-p 0.8: 4/7 < 0.8 <= 6/7 keeps two.
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 0.8f, 0.0f}, 0.9), 1);
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 0.8f, 0.0f}, 0.7), 1);  // 0.7 * 6/7 = 0.6 >= 4/7
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 0.8f, 0.0f}, 0.6), 2);  // 0.6 * 6/7 < 4/7
  // top-p 0.5: the first alone reaches it.
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 0.5f, 0.0f}, 0.99), 2);
}

TEST(Sampling, TemperatureSharpensAndGreedyIsTheArgmax) {
  // At T = 0.5 the probabilities are 1:4:16 (/21): u = 0.7 < 16/21 picks id 2.
  EXPECT_EQ(pick(kSevenths, {0.5f, 0, 1.0f, 0.0f}, 0.7), 2);
  EXPECT_EQ(pick(kSevenths, {1.0f, 0, 1.0f, 0.0f}, 0.7), 1);
  EXPECT_EQ(pick({0.5f, 3.0f, 3.0f, -1.0f}, {0.0f, 0, 1.0f, 0.0f}, 0.9), 1);  // first of the ties
}

TEST(Sampling, TiesKeepTheLowerIds) {
  // Three equal logits, top-k 2: ids 0 and 1, half each.
  const std::vector<float> ties = {1.0f, 1.0f, 1.0f};
  EXPECT_EQ(pick(ties, {1.0f, 2, 1.0f, 0.0f}, 0.25), 0);
  EXPECT_EQ(pick(ties, {1.0f, 2, 1.0f, 0.0f}, 0.75), 1);
  EXPECT_EQ(wa::sampling_candidates({1.0f, 2, 1.0f, 0.0f}, 3), 2);
  EXPECT_EQ(wa::sampling_candidates({1.0f, 0, 1.0f, 0.0f}, 3), 3);
  EXPECT_EQ(wa::sampling_candidates({1.0f, 9, 1.0f, 0.0f}, 3), 3);
}

TEST(Sampling, WhichSamplersADeviceStepCanTake) {
  auto on_device = [](float temperature, int top_k, float penalty, int n_vocab) {
    wa::SamplerParams p;
    p.temperature = temperature;
    p.top_k = top_k;
    p.repeat_penalty = penalty;
    return wa::Sampler(p).choice_on_device(n_vocab);
  };
  EXPECT_TRUE(on_device(0.8f, 40, 1.0f, 32000));
  EXPECT_TRUE(on_device(0.8f, wa::kDeviceSamplingMaxCandidates, 1.0f, 32000));
  EXPECT_FALSE(on_device(0.8f, wa::kDeviceSamplingMaxCandidates + 1, 1.0f, 32000));
  EXPECT_FALSE(on_device(0.8f, 0, 1.0f, 32000));  // top-k off: every logit a candidate
  EXPECT_TRUE(on_device(0.8f, 0, 1.0f, 512));
  EXPECT_FALSE(on_device(0.8f, 40, 1.1f, 32000));  // the penalty needs the ids the host has not seen
  EXPECT_TRUE(on_device(0.0f, 0, 1.0f, 32000));    // greedy: an argmax
}

TEST(Sampling, ChoicesDrawFromTheSamplersStream) {
  wa::SamplerParams p;
  p.seed = 7;
  wa::Sampler a(p), b(p);
  const std::vector<float> logits = {0.3f, 1.2f, -0.4f, 0.9f, 0.0f};
  for (int i = 0; i < 20; ++i) {
    const wa::TokenChoice c = b.next_choice();
    std::vector<wa::SampleCandidate> scratch;
    EXPECT_EQ(a.sample(logits.data(), 5), wa::sample_logits(logits.data(), 5, c.sampling, c.uniform, scratch)) << i;
  }
  p.temperature = 0.0f;  // greedy draws nothing
  EXPECT_EQ(wa::Sampler(p).next_choice().uniform, 0.0);
}

}  // namespace
