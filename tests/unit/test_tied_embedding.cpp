// The tied embedding's per-row metric (quant/tied_embedding.h) on
// constructed statistics: which rows get their own H, that it changes their
// rounding to lower their own error, that quantize_rows uses it for those
// rows only; and the calibration run that collects the statistics, on the
// bundled model (tied) and a synthetic one (untied).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "formats/convert.h"
#include "formats/convert_adaptive.h"
#include "quant/calibration.h"
#include "quant/gptq.h"
#include "quant/tied_embedding.h"

namespace wa {
namespace {

using quant::TiedEmbeddingStats;
using quant::TiedRowMetric;

constexpr int64_t kN = 256, kVocab = 6, kCtx = 8, kChunks = 2;

// Statistics of a 6-row embedding over two chunks of 8 positions whose hidden
// states have strongly correlated columns (so the shared H compensates a lot):
//   row 0: the input at most positions (a lookup-role row);
//   row 1: the input once, in chunk 0 only;
//   row 2: predicted with p 0.5 at one position of each chunk (an output-role row);
//   row 3: predicted with p 0.01 once (mass below the threshold), never an input;
//   row 4: neither;  row 5: the input at each chunk's first position (BOS).
std::shared_ptr<TiedEmbeddingStats> make_stats(double lookup_sensitivity) {
  auto s = std::make_shared<TiedEmbeddingStats>();
  s->name = "token_embd.weight";
  s->n = kN;
  s->n_vocab = kVocab;
  s->n_ctx = kCtx;
  const int64_t positions = kCtx * kChunks;
  std::mt19937 rng(3);
  std::normal_distribution<double> g(0.0, 1.0);
  for (int64_t t = 0; t < positions; ++t) {
    double prev = g(rng);
    for (int64_t i = 0; i < kN; ++i) {
      prev = 0.95 * prev + std::sqrt(1.0 - 0.95 * 0.95) * g(rng);
      s->hidden.push_back(static_cast<float>(prev * (1.0 + (i % 7))));
    }
  }
  s->tokens = {5, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
  s->predicted.resize(kVocab);
  s->chunk_mass.assign(static_cast<size_t>(kChunks * kVocab), 0.0);
  auto predict = [&](int32_t v, int32_t t, float p) {
    s->predicted[static_cast<size_t>(v)].push_back({t, p});
    s->chunk_mass[static_cast<size_t>(t / kCtx * kVocab + v)] += p;
  };
  predict(2, 3, 0.5f);
  predict(2, 11, 0.5f);
  predict(3, 4, 0.01f);
  s->lookup_sensitivity = lookup_sensitivity;
  return s;
}

std::vector<float> rows_of(int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows * kN));
  for (auto& v : w) v = g(rng);
  return w;
}

// d^T H d of a row's rounding error.
double row_error(DType type, const float* x, const void* q, const std::vector<double>& h) {
  std::vector<float> back(static_cast<size_t>(kN));
  type_traits(type)->to_f32(q, back.data(), kN);
  quant::InputMoments m;
  m.n = kN;
  m.tokens = 1;
  m.h = h;
  return quant::output_error(x, back.data(), 1, kN, kN, m);
}

TEST(TiedEmbedding, OwnRowsAreTheOnesTheTextTouches) {
  auto stats = make_stats(1.0);
  auto all = TiedRowMetric::create(stats);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  const TiedRowMetric& m = *all.value();
  // m_v = max(predicted mass, input count) > 0.05.
  EXPECT_TRUE(m.has_own(0));
  EXPECT_TRUE(m.has_own(1));
  EXPECT_TRUE(m.has_own(2));
  EXPECT_FALSE(m.has_own(3));
  EXPECT_FALSE(m.has_own(4));
  EXPECT_TRUE(m.has_own(5));
  EXPECT_FALSE(m.has_own(-1));
  EXPECT_FALSE(m.has_own(kVocab));
  EXPECT_EQ(m.own_rows(), 4);
  EXPECT_TRUE(m.row_moments(3).empty());
  // H_v's diagonal: kappa * Hbar + the output role + lambda * m_v.
  const std::vector<double> h5 = m.row_moments(5), h1 = m.row_moments(1);
  ASSERT_EQ(h5.size(), static_cast<size_t>(kN * kN));
  EXPECT_NEAR(h5[0] - h1[0], 1.0, 1e-9);  // row 5 is looked up twice, row 1 once, neither predicted
  // Leaving chunk 0 out (the planner's probe): row 1 was an input only there.
  auto rest = TiedRowMetric::create(stats, kCtx);
  ASSERT_TRUE(rest.ok()) << rest.status().to_string();
  EXPECT_FALSE(rest.value()->has_own(1));
  EXPECT_TRUE(rest.value()->has_own(0));
  EXPECT_TRUE(rest.value()->has_own(2));
  EXPECT_EQ(rest.value()->own_rows(), 3);
}

TEST(TiedEmbedding, OwnMetricChangesTheRoundingAndLowersItsError) {
  // A lookup sensitivity that dominates row 0's H: its error should be
  // small in every coordinate, which the shared H's compensation (moving
  // errors along correlated columns) does not give.
  auto stats = make_stats(1000.0);
  auto metric = TiedRowMetric::create(stats);
  ASSERT_TRUE(metric.ok());
  const TiedRowMetric& m = *metric.value();
  const std::vector<float> w = rows_of(1, 9);
  const std::vector<double> h0 = m.row_moments(0);
  for (DType type : {DType::q2_k, DType::q3_k, DType::q4_k, DType::wa_vq3}) {
    std::vector<uint8_t> own(row_bytes(type, kN)), shared(own.size());
    ASSERT_TRUE(m.quantize_row(type, 0, w.data(), own.data())) << dtype_name(type);
    ASSERT_TRUE(quant::quantize_row_gptq(type, w.data(), shared.data(), kN, *m.shared_factor(), nullptr));
    EXPECT_NE(0, std::memcmp(own.data(), shared.data(), own.size())) << dtype_name(type);
    EXPECT_LT(row_error(type, w.data(), own.data(), h0), 0.9 * row_error(type, w.data(), shared.data(), h0))
        << dtype_name(type);
  }
  // Rows without their own H, and types without the quantizer, are left to the caller.
  std::vector<uint8_t> q(row_bytes(DType::q8_0, kN));
  EXPECT_FALSE(m.quantize_row(DType::q3_k, 4, w.data(), q.data()));
  EXPECT_FALSE(m.quantize_row(DType::q8_0, 0, w.data(), q.data()));
}

TEST(TiedEmbedding, QuantizeRowsUsesTheOwnMetricForItsRowsOnly) {
  auto metric = TiedRowMetric::create(make_stats(1000.0));
  ASSERT_TRUE(metric.ok());
  const TiedRowMetric& m = *metric.value();
  const DType type = DType::q3_k;
  const size_t rb = row_bytes(type, kN);
  const std::vector<float> w = rows_of(kVocab, 11);
  std::vector<uint8_t> shared(rb * kVocab), per_row(shared.size()), tail(rb * 3);
  quantize_rows(type, w.data(), shared.data(), kVocab, kN, nullptr, m.shared_factor().get());
  quantize_rows(type, w.data(), per_row.data(), kVocab, kN, nullptr, m.shared_factor().get(), &m);
  for (int64_t r = 0; r < kVocab; ++r) {
    const bool same = std::memcmp(shared.data() + r * rb, per_row.data() + r * rb, rb) == 0;
    EXPECT_EQ(same, !m.has_own(r)) << "row " << r;
  }
  // Rows 3..5 of the matrix as a block of their own (first_row 3), as quantize_model passes them.
  quantize_rows(type, w.data() + 3 * kN, tail.data(), 3, kN, nullptr, m.shared_factor().get(), &m, 3);
  EXPECT_EQ(0, std::memcmp(tail.data(), per_row.data() + 3 * rb, tail.size()));
  // Not compensated (no factor): the metric is not used either.
  std::vector<uint8_t> rtn(shared.size()), rtn_metric(shared.size());
  quantize_rows(type, w.data(), rtn.data(), kVocab, kN);
  quantize_rows(type, w.data(), rtn_metric.data(), kVocab, kN, nullptr, nullptr, &m);
  EXPECT_EQ(0, std::memcmp(rtn.data(), rtn_metric.data(), rtn.size()));
}

TEST(TiedEmbedding, RejectsInconsistentStatistics) {
  EXPECT_FALSE(TiedRowMetric::create(nullptr).ok());
  auto s = make_stats(1.0);
  EXPECT_FALSE(TiedRowMetric::create(s, kCtx * kChunks).ok());  // no positions left
  EXPECT_FALSE(TiedRowMetric::create(s, 3).ok());                // not a chunk boundary
  EXPECT_FALSE(TiedRowMetric::create(s, -kCtx).ok());
  s->tokens.pop_back();
  EXPECT_FALSE(TiedRowMetric::create(s).ok());
  s = make_stats(1.0);
  s->hidden.resize(s->hidden.size() - 1);
  EXPECT_FALSE(TiedRowMetric::create(s).ok());
}

TEST(TiedEmbedding, WhichTypesCompensateALookupTable) {
  // Without a per-row metric as measured before (gptq.h); with one, q2_K
  // too; wa_vq2, q4_0 and q4_1 still not.
  for (bool per_row : {false, true}) {
    EXPECT_FALSE(quant::compensate_lookup_table(DType::q4_0, per_row));
    EXPECT_FALSE(quant::compensate_lookup_table(DType::q4_1, per_row));
    EXPECT_FALSE(quant::compensate_lookup_table(DType::q8_0, per_row));
    EXPECT_TRUE(quant::compensate_lookup_table(DType::q3_k, per_row));
    EXPECT_TRUE(quant::compensate_lookup_table(DType::wa_vq3, per_row));
    EXPECT_TRUE(quant::compensate_lookup_table(DType::q5_0, per_row));
    EXPECT_EQ(quant::compensate_lookup_table(DType::q2_k, per_row), per_row);
    EXPECT_FALSE(quant::compensate_lookup_table(DType::wa_vq2, per_row));
  }
}

std::string calibration_text() {
  const std::string path = ::testing::TempDir() + "tied_calib.txt";
  std::ofstream out(path);
  for (int i = 0; i < 40; ++i) {
    out << "Once upon a time there was a little fox. The fox liked to run in the green forest with her friend. ";
  }
  return path;
}

TEST(TiedEmbedding, CalibrationCollectsTheStatisticsOfATiedEmbeddingOnly) {
  quant::CalibrationOptions co;
  co.n_ctx = 64;
  co.max_tokens = 256;
  co.probe_tokens = 64;
  co.n_threads = 2;
  co.keep_predictions = false;
  co.input_moments = true;
  // The bundled model: its token embedding is also its output matrix.
  const std::string tied_model = std::string(WA_SOURCE_DIR) + "/models/default.gguf";
  auto calib = quant::Calibration::run(tied_model, calibration_text(), co);
  ASSERT_TRUE(calib.ok()) << calib.status().to_string();
  const auto& s = calib.value()->tied_embedding();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "token_embd.weight");
  EXPECT_EQ(s->positions(), calib.value()->n_tokens());
  EXPECT_EQ(s->n_ctx, 64);
  EXPECT_EQ(static_cast<int64_t>(s->predicted.size()), s->n_vocab);
  EXPECT_TRUE(s->lookup_sensitivity > 0.0 && std::isfinite(s->lookup_sensitivity)) << s->lookup_sensitivity;
  double mass = 0.0;
  for (double v : s->chunk_mass) mass += v;
  EXPECT_NEAR(mass, static_cast<double>(s->positions()), 1e-3 * static_cast<double>(s->positions()));
  // Hbar from the recorded hidden states is the output matmul's input moments.
  const auto& moments = calib.value()->moments().at("token_embd.weight");
  auto metric = TiedRowMetric::create(s);
  ASSERT_TRUE(metric.ok());
  auto direct = quant::gptq_factor(*moments);
  ASSERT_TRUE(direct.ok());
  EXPECT_NEAR(metric.value()->shared_factor()->damp, direct.value()->damp, 1e-6 * direct.value()->damp);
  // --method gptq options: the metric for the tied embedding.
  auto file = GgufFile::open(tied_model);
  ASSERT_TRUE(file.ok());
  QuantizeOptions qo;
  ASSERT_TRUE(calibrated_options(*calib.value(), QuantizeMethod::gptq, *file.value(), &qo).ok());
  ASSERT_EQ(qo.row_metrics.size(), 1u);
  EXPECT_EQ(qo.gptq.at("token_embd.weight"), qo.row_metrics.at("token_embd.weight")->shared_factor());
  EXPECT_TRUE(row_metric_for(qo, "token_embd.weight", DType::q5_0));
  EXPECT_FALSE(row_metric_for(qo, "token_embd.weight", DType::q4_0));
  EXPECT_FALSE(row_metric_for(qo, "blk.0.attn_q.weight", DType::q5_0));

  // A synthetic model with an untied embedding (only looked up): none.
  const std::string untied = ::testing::TempDir() + "tied_untied.gguf";
  SynthSpec spec;
  spec.preset = "tiny";
  spec.type = DType::f16;
  ASSERT_TRUE(write_synthetic_model(spec, untied, nullptr).ok());
  auto u = quant::Calibration::run(untied, calibration_text(), co);
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_FALSE(u.value()->tied_embedding());
  auto ufile = GgufFile::open(untied);
  ASSERT_TRUE(ufile.ok());
  QuantizeOptions uqo;
  ASSERT_TRUE(calibrated_options(*u.value(), QuantizeMethod::gptq, *ufile.value(), &uqo).ok());
  EXPECT_TRUE(uqo.row_metrics.empty());
}

}  // namespace
}  // namespace wa
