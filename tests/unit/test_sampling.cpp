// core/sampling.h, the reference every backend's sample kernel is compared
// with (tests/webgpu/backend_ops.cpp): its steps on logits whose
// probabilities are known exactly (ln 1, ln 2, ln 4: 1/7, 2/7, 4/7), the
// repetition penalty and its window, which sampler settings a device step
// can take (runtime/sampler.h), the graph's sample op on the CPU making
// the host sampler's choices, penalty included, and a session keeping the
// penalty's window on a device across chained steps (WebGPU, recorded).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "backends/webgpu/webgpu_backend.h"
#include "core/graph.h"
#include "core/sampling.h"
#include "formats/convert.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

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
  EXPECT_TRUE(on_device(0.0f, 0, 1.0f, 32000));    // greedy: an argmax
  // A penalty: the device keeps its window of the ids it chose.
  EXPECT_TRUE(on_device(0.8f, 40, 1.1f, 32000));
  EXPECT_TRUE(on_device(0.8f, 40, 0.9f, 32000));
  EXPECT_TRUE(on_device(0.0f, 0, 1.3f, 32000));  // greedy over the penalised logits
  EXPECT_FALSE(on_device(0.8f, 0, 1.1f, 32000));  // (top-k off still decides)
  // ... not over more ids than the kernel gathers, nor with a penalty its
  // exact division does not take (it samples on the host then).
  wa::SamplerParams big;
  big.repeat_penalty = 1.1f;
  big.repeat_last_n = wa::kDevicePenaltyMaxWindow;
  EXPECT_TRUE(wa::Sampler(big).choice_on_device(32000));
  big.repeat_last_n = wa::kDevicePenaltyMaxWindow + 1;
  EXPECT_FALSE(wa::Sampler(big).choice_on_device(32000));
  big.repeat_last_n = 0;  // no window: no penalty
  EXPECT_TRUE(wa::Sampler(big).choice_on_device(32000));
  for (float odd : {0.0f, -1.1f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::denorm_min()}) {
    EXPECT_FALSE(on_device(0.8f, 40, odd, 32000)) << odd;
  }
}

TEST(Sampling, PenaltyWindowKeepsTheLastIds) {
  std::vector<int32_t> w = wa::penalty_window(3);
  EXPECT_EQ(w, (std::vector<int32_t>{3, 0, 0}));
  wa::penalty_window_append(w, 7);
  wa::penalty_window_append(w, 8);
  EXPECT_EQ(w, (std::vector<int32_t>{3, 2, 2, 7, 8}));  // grows as ids come
  wa::penalty_window_append(w, 9);
  wa::penalty_window_append(w, 10);
  EXPECT_EQ(w, (std::vector<int32_t>{3, 3, 1, 10, 8, 9}));  // 7, the oldest, replaced
  // A full-size copy (a device's, the op's input) takes the same appends.
  std::vector<int32_t> full = wa::penalty_window(3);
  full.resize(wa::penalty_window_words(3), 0);
  for (int32_t id : {7, 8, 9, 10}) wa::penalty_window_append(std::span<int32_t>(full), id);
  EXPECT_EQ(full, w);
  // No capacity: nothing kept. Headers out of range are clamped, never followed out of the words.
  std::vector<int32_t> none = wa::penalty_window(0);
  wa::penalty_window_append(none, 5);
  EXPECT_EQ(none, (std::vector<int32_t>{0, 0, 0}));
  std::vector<int32_t> bad = {2, 99, -4, 1, 1};
  wa::penalty_window_append(std::span<int32_t>(bad), 6);
  EXPECT_EQ(bad, (std::vector<int32_t>{2, 2, 1, 6, 1}));
  std::vector<float> l = {1.0f, 2.0f};
  std::vector<int32_t> short_words = {5, 5, 0, 1};  // says 5 ids, holds 1
  wa::apply_repetition_penalty(l.data(), 2, short_words, 2.0f);
  EXPECT_EQ(l, (std::vector<float>{1.0f, 1.0f}));
}

TEST(Sampling, PenaltyDividesPositiveLogitsAndMultipliesOthersOncePerOccurrence) {
  EXPECT_EQ(wa::penalize(3.0f, 2.0f), 1.5f);
  EXPECT_EQ(wa::penalize(-3.0f, 2.0f), -6.0f);
  EXPECT_EQ(wa::penalize(3.0f, 0.5f), 6.0f);  // below 1: favoured
  EXPECT_EQ(wa::penalize(-3.0f, 0.5f), -1.5f);
  EXPECT_EQ(std::signbit(wa::penalize(-0.0f, 2.0f)), true);
  std::vector<float> l = {4.0f, -1.0f, 0.5f, 10.0f};
  std::vector<int32_t> w = wa::penalty_window(8);
  for (int32_t id : {0, 1, 0, -1, 4, 0, 3}) wa::penalty_window_append(w, id);  // -1 and 4: outside, skipped
  wa::apply_repetition_penalty(l.data(), 4, w, 2.0f);
  EXPECT_EQ(l, (std::vector<float>{0.5f, -2.0f, 0.5f, 5.0f}));  // id 0 three times; id 2 not in the window
  // One occurrence at a time: (x / p) / p, not x / (p * p), whose last bit differs here.
  const float x = 0x1.aa3d7p+1f, p = 1.1f;
  ASSERT_NE((x / p) / p, x / (p * p));
  std::vector<float> one = {x};
  std::vector<int32_t> twice = wa::penalty_window(2);
  wa::penalty_window_append(twice, 0);
  wa::penalty_window_append(twice, 0);
  wa::apply_repetition_penalty(one.data(), 1, twice, p);
  EXPECT_EQ(one[0], (x / p) / p);
}

// The sample op on the CPU backend (the reference of every device kernel)
// with the sampler's window picks what the sampler picks, step after step,
// the op appending its choice to its window as the sampler's accept does.
TEST(Sampling, SampleOpWithAWindowIsTheSamplersChoice) {
  auto cpu = wa::make_cpu_backend({1, nullptr});
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  constexpr int kVocab = 50;
  for (const auto& [temperature, penalty, last_n] : {std::tuple{0.9f, 1.3f, 16}, std::tuple{0.0f, 1.5f, 8},
                                                     std::tuple{1.2f, 0.8f, 5}, std::tuple{0.7f, 2.0f, 3}}) {
    wa::SamplerParams sp;
    sp.temperature = temperature;
    sp.top_k = 20;
    sp.repeat_penalty = penalty;
    sp.repeat_last_n = last_n;
    sp.seed = 5;
    wa::Sampler host(sp), device(sp);
    std::vector<int32_t> window;  // the op's: full size, only ever seeded once
    std::vector<int32_t> host_ids, op_ids;
    for (int step = 0; step < 40; ++step) {
      std::vector<float> logits(kVocab);
      for (float& v : logits) v = dist(rng);
      if (step % 3 == 0 && !host_ids.empty()) logits[static_cast<size_t>(host_ids.back())] += 6.0f;  // repeats tempt
      const int32_t h = host.sample(logits.data(), kVocab);
      host.accept(h);
      host_ids.push_back(h);
      const wa::TokenChoice c = device.next_choice();
      ASSERT_EQ(c.repeat_penalty, penalty);
      if (step == 0) {
        window.assign(c.window.begin(), c.window.end());
        window.resize(wa::penalty_window_words(last_n), 0);
      }
      wa::Graph g;
      wa::Node* x = g.leaf("logits", wa::DType::f32, {kVocab}, logits.data());
      wa::Node* w = g.leaf("window", wa::DType::i32, {static_cast<int64_t>(window.size())}, window.data());
      wa::Node* id = g.sample(x, c.sampling, static_cast<float>(c.uniform), w, c.repeat_penalty);
      g.mark_output(id);
      ASSERT_TRUE(cpu->compute(g).ok());
      op_ids.push_back(*id->as<int32_t>());
      device.accept(op_ids.back());
    }
    EXPECT_EQ(op_ids, host_ids) << "temperature " << temperature << " penalty " << penalty;
    EXPECT_GT(std::set<int32_t>(host_ids.begin(), host_ids.end()).size(), 5u);
  }
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

// A session on a device backend (WebGPU, recording streams that nothing
// runs here) seeds the device's window from the sampler's at a step that
// starts from host ids (a copy from the staged inputs, buffer 2, of the
// sampler's words), and a chained step continues the device's own (no
// copy); a chained step whose window the step before did not leave there
// is refused.
TEST(Sampling, SessionKeepsThePenaltyWindowOnTheDevice) {
  const std::string path = ::testing::TempDir() + "sampling_stories260K_f32.gguf";
  ASSERT_TRUE(wa::convert_model(std::string(WA_SHARED_DIR) + "/models/stories260K/stories260K.bin", path, wa::DType::f32,
                                nullptr)
                  .ok());
  auto lm = wa::load_model(path, {});
  ASSERT_TRUE(lm.ok()) << lm.status().to_string();
  auto gpu = wa::gpu::make_webgpu_backend(wa::gpu::DeviceConfig{}, nullptr);
  ASSERT_TRUE(gpu->upload_weights(*lm.value().file, nullptr).ok());
  wa::SessionOptions so;
  so.n_ctx = 16;
  auto session = wa::Session::create(*lm.value().model, *gpu, so);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  wa::Session& s = *session.value();
  // The lines of the recorded stream copying staged inputs into another buffer.
  auto seeds = [&] {
    const std::string stream = wa::gpu::describe_stream(gpu->take_stream());
    gpu->stream_done();
    std::vector<std::string> out;
    for (size_t at = stream.find("copy_buffer 2 "); at != std::string::npos; at = stream.find("copy_buffer 2 ", at + 1)) {
      out.push_back(stream.substr(at, stream.find('\n', at) - at));
    }
    return out;
  };
  seeds();  // (the weights' upload)
  wa::SamplerParams sp;
  sp.temperature = 0.9f;
  sp.repeat_penalty = 1.3f;
  sp.repeat_last_n = 8;
  wa::Sampler sampler(sp);
  sampler.accept(1);
  const int32_t prompt[1] = {1};
  ASSERT_TRUE(s.eval_choose(prompt, sampler.next_choice()).ok());
  const std::vector<std::string> seeded = seeds();
  ASSERT_EQ(seeded.size(), 1u);
  EXPECT_EQ(seeded[0].substr(seeded[0].rfind(' ')), " 16");  // the header and the one id accepted
  int32_t slot[3];
  ASSERT_TRUE(s.eval_choose_chained(&slot[0], sampler.next_choice()).ok());
  ASSERT_TRUE(s.eval_choose_chained(&slot[1], sampler.next_choice()).ok());
  EXPECT_TRUE(seeds().empty());
  // Another window size cannot continue the device's window.
  wa::SamplerParams other = sp;
  other.repeat_last_n = 4;
  wa::Sampler shorter(other);
  wa::Status st = s.eval_choose_chained(&slot[2], shorter.next_choice());
  EXPECT_EQ(st.code(), wa::StatusCode::invalid_argument) << st.to_string();
  // Nor can a step chained to one without a penalty.
  other.repeat_penalty = 1.0f;
  wa::Sampler plain(other);
  ASSERT_TRUE(s.eval_choose(prompt, plain.next_choice()).ok());
  EXPECT_TRUE(seeds().empty());
  st = s.eval_choose_chained(&slot[2], sampler.next_choice());
  EXPECT_EQ(st.code(), wa::StatusCode::invalid_argument) << st.to_string();
  EXPECT_NE(st.message().find("same window"), std::string::npos) << st.to_string();
  gpu->take_stream();
  gpu->stream_done();
}

}  // namespace
