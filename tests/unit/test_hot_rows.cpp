// Hot rows (formats/hot_rows.h): a tied embedding's rows stored again in
// q8_0 for the lookup. The file round trip (quantize_model writes them, the
// loader binds them, measure_weights counts their bytes), that the lookup
// reads them and the output matmul does not (a model-level check that fails
// if they are ignored), malformed files, what the WebGPU backend records for
// them and which hot tables it refuses, and the choice of rows from
// calibration statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "backends/backend.h"
#include "backends/webgpu/webgpu_backend.h"
#include "formats/convert.h"
#include "formats/hot_rows.h"
#include "quant/tied_embedding.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace wa {
namespace {

// The bundled model: f16, a token embedding of 128 x 32000 tied to the output.
std::string bundled() { return std::string(WA_SOURCE_DIR) + "/models/default.gguf"; }

const std::vector<int32_t> kHot = {1, 450, 3010, 29871, 31999};

struct Files {
  std::string with_hot, without;
};

// The bundled model in q4_0, with and without the hot rows kHot (round-to-nearest both).
const Files& files() {
  static const Files f = [] {
    Files out{::testing::TempDir() + "hot_rows_q4_0_hot.gguf", ::testing::TempDir() + "hot_rows_q4_0.gguf"};
    QuantizeOptions qo;
    qo.hot_rows = kHot;
    ConvertReport report;
    Status st = quantize_model(bundled(), out.with_hot, DType::q4_0, &report, qo);
    EXPECT_TRUE(st.ok()) << st.to_string();
    st = quantize_model(bundled(), out.without, DType::q4_0, nullptr);
    EXPECT_TRUE(st.ok()) << st.to_string();
    return out;
  }();
  return f;
}

// Logits after each of `tokens` (all positions), on the CPU backend.
std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& tokens) {
  auto lm = load_model(path, {});
  EXPECT_TRUE(lm.ok()) << lm.status().to_string();
  if (!lm.ok()) return {};
  auto backend = make_cpu_backend({2, nullptr});
  SessionOptions so;
  so.n_ctx = 64;
  so.kv_type = DType::f32;
  auto session = Session::create(*lm.value().model, *backend, so);
  EXPECT_TRUE(session.ok());
  EXPECT_TRUE(session.value()->eval(tokens, /*all_logits=*/true).ok());
  const int V = lm.value().model->n_vocab();
  std::vector<float> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const float* l = session.value()->logits(static_cast<int>(i));
    out.insert(out.end(), l, l + V);
  }
  return out;
}

TEST(HotRows, RoundTrip) {
  const Files& f = files();
  auto a = GgufFile::open(f.with_hot);
  auto b = GgufFile::open(f.without);
  auto src = GgufFile::open(bundled());
  ASSERT_TRUE(a.ok() && b.ok() && src.ok());
  EXPECT_EQ(a.value()->get_int(kHotRowsKey).value_or(-1), static_cast<int64_t>(kHot.size()));
  // The matrix is the same bytes with or without them.
  const GgufTensorInfo* ea = a.value()->find_tensor("token_embd.weight");
  const GgufTensorInfo* eb = b.value()->find_tensor("token_embd.weight");
  ASSERT_TRUE(ea && eb);
  ASSERT_EQ(ea->size_bytes, eb->size_bytes);
  EXPECT_EQ(std::memcmp(a.value()->tensor_data(*ea), b.value()->tensor_data(*eb), ea->size_bytes), 0);
  // The hot rows: q8_0 of the input's rows, and their ids.
  const GgufTensorInfo* rows = a.value()->find_tensor(kHotRowsTensor);
  const GgufTensorInfo* ids = a.value()->find_tensor(kHotIdsTensor);
  ASSERT_TRUE(rows && ids);
  EXPECT_EQ(rows->type, DType::q8_0);
  EXPECT_EQ(ids->type, DType::i32);
  const GgufTensorInfo* orig = src.value()->find_tensor("token_embd.weight");
  const int64_t n = orig->ne[0];
  const size_t rb = row_bytes(DType::q8_0, n);
  std::vector<float> x(static_cast<size_t>(n));
  std::vector<uint8_t> q(rb);
  for (size_t i = 0; i < kHot.size(); ++i) {
    type_traits(orig->type)->to_f32(src.value()->tensor_data(*orig) + kHot[i] * row_bytes(orig->type, n), x.data(), n);
    type_traits(DType::q8_0)->from_f32(x.data(), q.data(), n);
    EXPECT_EQ(std::memcmp(a.value()->tensor_data(*rows) + i * rb, q.data(), rb), 0) << "row " << i;
    int32_t id;
    std::memcpy(&id, a.value()->tensor_data(*ids) + 4 * i, 4);
    EXPECT_EQ(id, kHot[i]);
  }
  // Their bytes count in the weights' size, not as weights.
  const WeightSize wa = measure_weights(*a.value()), wb = measure_weights(*b.value());
  EXPECT_EQ(wa.n_weights, wb.n_weights);
  EXPECT_EQ(wa.hot_rows, static_cast<int64_t>(kHot.size()));
  EXPECT_EQ(wa.hot_type, DType::q8_0);
  EXPECT_EQ(wa.hot_bytes, rows->size_bytes + ids->size_bytes);
  EXPECT_EQ(wa.bytes, wb.bytes + wa.hot_bytes);
  // The loader binds them.
  auto lm = load_model(f.with_hot, {});
  ASSERT_TRUE(lm.ok()) << lm.status().to_string();
  bool described = false;
  for (const auto& [k, v] : lm.value().model->describe()) described = described || (k == "hot_rows" && v.rfind("5 (q8_0", 0) == 0);
  EXPECT_TRUE(described);
  // Quantizing a file that has them drops them (they belong to its matrix's encoding).
  const std::string again = ::testing::TempDir() + "hot_rows_again.gguf";
  ConvertReport report;
  ASSERT_TRUE(quantize_model(f.with_hot, again, DType::q8_0, &report).ok());
  auto c = GgufFile::open(again);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(has_hot_rows(*c.value()));
}

// The lookup reads the hot rows: a prompt of hot tokens gives other logits
// than the file without them (fails if they are ignored), closer to the f16
// original's; a prompt without hot tokens gives the same logits bit for bit
// (the output matmul keeps the q4_0 matrix).
TEST(HotRows, TheLookupReadsThemAndTheOutputDoesNot) {
  const Files& f = files();
  const std::vector<int32_t> hot_prompt = {1, 450, 3010, 29871, 450};
  const std::vector<int32_t> cold_prompt = {1, 451, 3011, 29872, 451};  // 1 (BOS) hot too: read from the copy
  const std::vector<float> a = logits_of(f.with_hot, hot_prompt), b = logits_of(f.without, hot_prompt);
  const std::vector<float> ref = logits_of(bundled(), hot_prompt);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), ref.size());
  double diff = 0.0, err_a = 0.0, err_b = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += std::fabs(a[i] - b[i]);
    err_a += (a[i] - ref[i]) * (a[i] - ref[i]);
    err_b += (b[i] - ref[i]) * (b[i] - ref[i]);
  }
  EXPECT_GT(diff, 0.0) << "the hot rows were not read";
  EXPECT_LT(err_a, err_b) << "q8_0 lookups should be closer to the original than q4_0 ones";
  // Only BOS (id 1) is hot in the cold prompt: a prompt without it at all.
  const std::vector<int32_t> cold = {2, 451, 3011, 29872, 451};
  EXPECT_EQ(logits_of(f.with_hot, cold), logits_of(f.without, cold));
  (void)cold_prompt;
}

// Rewrites the file at `path` with `edit` applied to the writer's inputs.
struct Edit {
  bool drop_key = false, drop_ids = false, drop_rows = false;
  std::optional<int64_t> key_value;
  std::vector<int32_t> ids;          // nonempty: these ids instead
  DType ids_type = DType::i32;
  int64_t rows_count = -1;           // >= 0: the hot rows tensor with this many rows (a shape mismatch)
};

std::string rewrite(const std::string& path, const std::string& name, const Edit& e) {
  auto src = GgufFile::open(path);
  EXPECT_TRUE(src.ok());
  const GgufFile& f = *src.value();
  GgufWriter w;
  for (const GgufKV& kv : f.metadata()) {
    if (kv.key == "general.alignment") continue;
    if (kv.key == kHotRowsKey) {
      if (e.drop_key) continue;
      if (e.key_value) {
        w.set_u64(kHotRowsKey, static_cast<uint64_t>(*e.key_value));
        continue;
      }
    }
    w.copy_kv(kv);
  }
  static std::vector<std::vector<uint8_t>> keep;  // bytes the writer reads at write time
  for (const GgufTensorInfo& t : f.tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    const uint8_t* data = f.tensor_data(t);
    if (t.name == kHotIdsTensor) {
      if (e.drop_ids) continue;
      if (!e.ids.empty() || e.ids_type != DType::i32) {
        std::vector<int32_t> ids = e.ids.empty() ? kHot : e.ids;
        keep.emplace_back(ids.size() * 4);
        if (e.ids_type == DType::f32) {
          for (size_t i = 0; i < ids.size(); ++i) {
            const float v = static_cast<float>(ids[i]);
            std::memcpy(keep.back().data() + 4 * i, &v, 4);
          }
        } else {
          std::memcpy(keep.back().data(), ids.data(), ids.size() * 4);
        }
        ne = {static_cast<int64_t>(ids.size())};
        data = keep.back().data();
      }
      EXPECT_TRUE(w.add_tensor_bytes(t.name, e.ids_type, ne, data).ok());
      continue;
    }
    if (t.name == kHotRowsTensor) {
      if (e.drop_rows) continue;
      if (e.rows_count >= 0) ne[1] = e.rows_count;
    }
    EXPECT_TRUE(w.add_tensor_bytes(t.name, t.type, ne, data).ok());
  }
  const std::string out = ::testing::TempDir() + "hot_rows_bad_" + name + ".gguf";
  EXPECT_TRUE(w.write(out).ok());
  return out;
}

TEST(HotRows, MalformedFilesAreClearErrors) {
  const std::string good = files().with_hot;
  ASSERT_TRUE(load_model(rewrite(good, "unchanged", {}), {}).ok());  // the rewriting itself keeps the file good
  struct Case {
    const char* name;
    Edit edit;
    const char* says;
  };
  std::vector<Case> cases;
  cases.push_back({"id-out-of-range", {.ids = {1, 450, 3010, 29871, 32000}}, "outside the vocabulary"});
  cases.push_back({"negative-id", {.ids = {-1, 450, 3010, 29871, 31999}}, "outside the vocabulary"});
  cases.push_back({"duplicate-id", {.ids = {1, 450, 450, 29871, 31999}}, "duplicate"});
  cases.push_back({"unsorted-ids", {.ids = {1, 3010, 450, 29871, 31999}}, "strictly increasing"});
  cases.push_back({"ids-count-mismatch", {.ids = {1, 450, 3010, 29871}}, "expected 5"});
  cases.push_back({"ids-not-i32", {.ids_type = DType::f32}, "expected i32"});
  cases.push_back({"rows-shape-mismatch", {.rows_count = 4}, "expected [128, 5]"});
  cases.push_back({"no-key", {.drop_key = true}, "together"});
  cases.push_back({"no-ids", {.drop_ids = true}, "together"});
  cases.push_back({"no-rows", {.drop_rows = true}, "together"});
  cases.push_back({"key-zero", {.key_value = 0}, "must be an integer in [1, 32000]"});
  cases.push_back({"key-above-vocab", {.key_value = 40000}, "must be an integer in [1, 32000]"});
  for (const Case& c : cases) {
    auto lm = load_model(rewrite(good, c.name, c.edit), {});
    ASSERT_FALSE(lm.ok()) << c.name;
    EXPECT_EQ(lm.status().code(), StatusCode::invalid_file) << c.name << ": " << lm.status().to_string();
    EXPECT_NE(lm.status().message().find(c.says), std::string::npos) << c.name << ": " << lm.status().to_string();
  }
}

// The WebGPU backend takes them (the numbers: tests/webgpu/backend_ops.cpp and
// js/test/webgpu_model.test.mjs, which run the stream this records): the
// file's upload, with the hot table's device bytes reported apart
// (webgpu.hot_rows), the model's graphs accepted; and the hot tables its
// lookup cannot read refused with the reason (the engine then runs the model
// on the CPU).
TEST(HotRows, WebGpuTakesThem) {
  auto lm = load_model(files().with_hot, {});
  ASSERT_TRUE(lm.ok()) << lm.status().to_string();
  const GgufFile& file = *lm.value().file;  // graph leaves name its tensors
  auto gpu = gpu::make_webgpu_backend(gpu::DeviceConfig{}, nullptr);
  ASSERT_TRUE(gpu);
  MemoryTracker tracker;
  Status st = gpu->upload_weights(file, &tracker);
  ASSERT_TRUE(st.ok()) << st.to_string();
  // Each buffer holds its tensor's bytes (q8_0: 32 values then half a scale
  // word per block, the file's 34), rounded up to 16.
  const GgufTensorInfo* rows = file.find_tensor(kHotRowsTensor);
  const GgufTensorInfo* ids = file.find_tensor(kHotIdsTensor);
  auto round16 = [](size_t b) { return (std::max<size_t>(b, 16) + 15) / 16 * 16; };
  size_t hot_bytes = 0, weight_bytes = 0;
  for (const MemoryTracker::Entry& e : tracker.entries()) {
    if (e.component == "webgpu.hot_rows") hot_bytes += e.current;
    if (e.component == "webgpu.weights") weight_bytes += e.current;
  }
  EXPECT_EQ(hot_bytes, round16(rows->size_bytes) + round16(ids->size_bytes));
  size_t others = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    if (!is_hot_rows_tensor(t.name)) others += t.size_bytes;
  }
  EXPECT_GE(weight_bytes, others);  // (f32 tensors' buffers round up too)
  // The model's graphs (a prompt and a decode step) have a kernel for every node.
  const Model& model = *lm.value().model;
  auto kv = KvCache::create(model.kv_layout(), 8, DType::f16, nullptr, gpu.get());
  ASSERT_TRUE(kv.ok()) << kv.status().to_string();
  for (int n_tokens : {1, 3}) {
    const int32_t tokens[3] = {1, 450, 451}, positions[3] = {0, 1, 2};
    ForwardSpec spec;
    spec.n_tokens = n_tokens;
    spec.token_ids = tokens;
    spec.positions = positions;
    Graph g;
    auto out = model.build_forward(g, spec, kv.value());
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    bool hot_lookup = false;
    for (const Node& n : g.nodes()) hot_lookup = hot_lookup || (n.op == Op::get_rows && n.src[2] && n.src[3]);
    EXPECT_TRUE(hot_lookup);
    st = gpu->check(g);
    EXPECT_TRUE(st.ok()) << st.to_string();
    st = gpu->precompile(g);
    EXPECT_TRUE(st.ok()) << st.to_string();
  }
  gpu->release_weights(file, &tracker);
  EXPECT_EQ(tracker.current_total(), 0u);

  // Refused: what get_rows_hot.wgsl does not read (hot_rows_reason).
  struct Refusal {
    const char* name;
    gpu::DeviceConfig config;
    DType hot_type;
    int64_t K, hot_rows;
    const char* says;
  };
  gpu::DeviceConfig few_buffers, small_binding;
  few_buffers.max_storage_buffers = 4;
  small_binding.max_storage_binding = small_binding.max_buffer_size = 1 << 20;
  const Refusal refusals[] = {
      {"a block format", gpu::DeviceConfig{}, DType::q4_k, 256, 3, "hot rows of type q4_K"},
      {"4 storage buffers", few_buffers, DType::q8_0, 32, 3, "storage buffers"},
      {"split hot rows", small_binding, DType::q8_0, 4096, 300, "exceed one device buffer"},
  };
  for (const Refusal& r : refusals) {
    auto backend = gpu::make_webgpu_backend(r.config, nullptr);
    Graph g;
    std::vector<uint8_t> table(row_bytes(DType::q4_0, r.K) * 400), hot(row_bytes(r.hot_type, r.K) * r.hot_rows);
    std::vector<int32_t> hot_ids(static_cast<size_t>(r.hot_rows));
    for (size_t i = 0; i < hot_ids.size(); ++i) hot_ids[i] = static_cast<int32_t>(i);
    int32_t tokens[1] = {0};
    Node* t = g.leaf("t", DType::q4_0, {r.K, 400}, table.data());
    Node* h = g.leaf("hot", r.hot_type, {r.K, r.hot_rows}, hot.data());
    Node* hi = g.leaf("hot_ids", DType::i32, {r.hot_rows}, hot_ids.data());
    for (Node* n : {t, h, hi}) {  // (hot_ids: one row of hot_rows ids)
      n->weight_id = n->data;
      ASSERT_TRUE(backend->upload_tensor(n->data, {n->data}, n->type, n->ne[0], n->ne[1], nullptr).ok()) << r.name;
    }
    g.get_rows(t, g.leaf("ids", DType::i32, {1}, tokens), h, hi);
    st = backend->check(g);
    EXPECT_EQ(st.code(), StatusCode::unsupported) << r.name << ": " << st.to_string();
    EXPECT_NE(st.message().find(r.says), std::string::npos) << r.name << ": " << st.to_string();
  }
}

TEST(HotRows, QuantizeRefusesBadIds) {
  for (const std::vector<int32_t>& ids : std::vector<std::vector<int32_t>>{{5, 5}, {7, 3}, {-1}, {32000}}) {
    QuantizeOptions qo;
    qo.hot_rows = ids;
    Status st = quantize_model(bundled(), ::testing::TempDir() + "hot_rows_refused.gguf", DType::q4_0, nullptr, qo);
    EXPECT_EQ(st.code(), StatusCode::invalid_argument) << st.to_string();
  }
}

// quant::choose_hot_rows: by input count, then predicted mass, then id;
// returned sorted; only positions from first_position on count.
TEST(HotRows, ChoiceByInputCountThenMass) {
  quant::TiedEmbeddingStats s;
  s.n = 4;
  s.n_vocab = 8;
  s.n_ctx = 4;
  s.tokens = {6, 6, 2, 5, /* chunk 1 */ 3, 3, 3, 1};
  s.hidden.assign(s.tokens.size() * 4, 0.0f);
  s.predicted.resize(8);
  s.chunk_mass.assign(2 * 8, 0.0);
  s.chunk_mass[0 * 8 + 7] = 0.9;  // row 7: predicted, never an input
  s.chunk_mass[1 * 8 + 0] = 0.5;  // row 0: predicted in chunk 1
  s.chunk_mass[1 * 8 + 4] = 0.2;
  // Inputs: 3 three times, 6 twice, 1, 2 and 5 once (tied: id order); 7 only predicted.
  EXPECT_EQ(quant::choose_hot_rows(s, 3), (std::vector<int32_t>{1, 3, 6}));
  EXPECT_EQ(quant::choose_hot_rows(s, 5), (std::vector<int32_t>{1, 2, 3, 5, 6}));
  EXPECT_EQ(quant::choose_hot_rows(s, 6), (std::vector<int32_t>{1, 2, 3, 5, 6, 7}));  // then by mass
  EXPECT_EQ(quant::choose_hot_rows(s, 2, /*first_position=*/4), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(quant::choose_hot_rows(s, 3, 4), (std::vector<int32_t>{0, 1, 3}));
  EXPECT_EQ(quant::choose_hot_rows(s, 100).size(), 8u);
}

}  // namespace
}  // namespace wa
