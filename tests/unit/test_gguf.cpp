#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

#include "formats/gguf.h"

namespace wa {
namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "wa_" + name; }

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> make_small_file() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("flag", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hello"});
  w.set_f32_array("tokenizer.ggml.scores", {0.f, -1.f, -2.f, -3.5f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1});
  std::vector<float> a(64 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f;
  EXPECT_TRUE(w.add_tensor_bytes("a", DType::f32, {64, 3}, a.data()).ok());
  std::vector<uint8_t> q(row_bytes(DType::q8_0, 64) * 2, 7);
  EXPECT_TRUE(w.add_tensor_bytes("b.q", DType::q8_0, {64, 2}, q.data()).ok());
  // Last, so cutting into a k-quant's super-blocks is among the truncations.
  std::vector<uint8_t> k(row_bytes(DType::q4_k, 256) * 2, 3);
  EXPECT_TRUE(w.add_tensor_bytes("c.k", DType::q4_k, {256, 2}, k.data()).ok());
  const std::string path = temp_path("small.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return read_all(path);
}

TEST(Gguf, WriterReaderRoundTrip) {
  const auto bytes = make_small_file();
  auto r = GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const GgufFile& f = *r.value();
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(static_cast<float>(*f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(f.get_bool("flag"), true);
  EXPECT_EQ(f.get_string("llama.block_count"), std::nullopt);  // wrong type
  ASSERT_NE(f.get_string_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ((*f.get_string_array("tokenizer.ggml.tokens"))[3], "hello");
  EXPECT_EQ((*f.get_float_array("tokenizer.ggml.scores"))[3], -3.5f);
  EXPECT_EQ((*f.get_int_array("tokenizer.ggml.token_type"))[0], 2);
  ASSERT_EQ(f.tensors().size(), 3u);
  ASSERT_NE(f.find_tensor("c.k"), nullptr);
  EXPECT_EQ(f.find_tensor("c.k")->type, DType::q4_k);
  EXPECT_EQ(f.find_tensor("c.k")->size_bytes, 2u * 144u);  // two rows of one 144-byte super-block
  const GgufTensorInfo* a = f.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne[0], 64);
  EXPECT_EQ(a->ne[1], 3);
  EXPECT_EQ(a->size_bytes, 64u * 3 * 4);
  EXPECT_EQ(reinterpret_cast<const float*>(f.tensor_data(*a))[5], 2.5f);
  EXPECT_EQ(f.tensor_data(*a) - f.bytes(), static_cast<ptrdiff_t>(f.data_offset()));
  EXPECT_EQ(f.find_tensor("b.q")->type, DType::q8_0);
  EXPECT_EQ((f.tensor_data(*f.find_tensor("b.q")) - f.bytes()) % 32, 0);
}

TEST(Gguf, OpensRealVocabFiles) {
  for (const char* name : {"llama-spm", "llama-bpe", "gpt-2", "qwen2", "phi-3", "bert-bge"}) {
    const std::string path = std::string(WA_SHARED_DIR) + "/models/vocab/ggml-vocab-" + name + ".gguf";
    auto r = GgufFile::open(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_NE(r.value()->get_string_array("tokenizer.ggml.tokens"), nullptr) << name;
  }
}

TEST(Gguf, EveryTruncationIsAnError) {
  const auto bytes = make_small_file();
  // Bytes after the last tensor's data are alignment padding: cutting those
  // loses nothing, so only cuts before the last needed byte must fail.
  auto whole = GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(whole.ok());
  size_t needed = 0;
  for (const auto& t : whole.value()->tensors()) {
    needed = std::max<size_t>(needed, whole.value()->data_offset() + t.offset + t.size_bytes);
  }
  ASSERT_GT(needed, bytes.size() - 32);
  for (size_t n = 0; n < needed; ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    auto r = GgufFile::from_memory(cut.data(), cut.size());
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes parsed";
  }
}

TEST(Gguf, RandomCorruptionNeverCrashes) {
  const auto bytes = make_small_file();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    auto b = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    auto r = GgufFile::from_memory(b.data(), b.size());
    if (r.ok()) {  // if it parses, every tensor must lie inside the bytes
      for (const auto& t : r.value()->tensors()) {
        EXPECT_LE(r.value()->data_offset() + t.offset + t.size_bytes, b.size());
      }
    }
  }
}

TEST(Gguf, SpecificMalformations) {
  auto bytes = make_small_file();
  {
    auto b = bytes;
    b[0] = 'X';
    auto r = GgufFile::from_memory(b.data(), b.size());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("magic"), std::string::npos);
  }
  {
    auto b = bytes;
    b[4] = 9;  // version
    auto r = GgufFile::from_memory(b.data(), b.size());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::unsupported);
  }
  {
    auto b = bytes;
    b[15] = 0x7f;  // absurd metadata count
    auto r = GgufFile::from_memory(b.data(), b.size());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::invalid_file);
  }
  auto missing = GgufFile::open("/nonexistent/file.gguf");
  EXPECT_EQ(missing.status().code(), StatusCode::io_error);
}


// Header-first parsing (WebGPU streaming): every prefix either asks for more
// bytes than it had, or yields the same header as the whole file; counts and
// offsets are still checked against the file's size.
TEST(Gguf, FromHeaderAsksForMoreThenMatchesTheWholeFile) {
  const auto bytes = make_small_file();
  auto whole = GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(whole.ok());
  const GgufFile& w = *whole.value();
  size_t first_ok = 0;
  for (size_t n = 0; n <= bytes.size(); ++n) {
    uint64_t need = 0;
    auto r = GgufFile::from_header(bytes.data(), n, bytes.size(), &need);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::invalid_file);
      EXPECT_GT(need, n) << "a " << n << "-byte prefix failed without asking for more: " << r.status().to_string();
      EXPECT_LE(need, bytes.size());
      continue;
    }
    if (!first_ok) first_ok = n;
    const GgufFile& f = *r.value();
    EXPECT_FALSE(f.has_data());
    EXPECT_EQ(f.file_size(), bytes.size());
    EXPECT_EQ(f.data_offset(), w.data_offset());
    ASSERT_EQ(f.tensors().size(), w.tensors().size());
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      EXPECT_EQ(f.tensor_data(f.tensors()[i]), nullptr);
      EXPECT_EQ(f.tensor_file_offset(f.tensors()[i]),
                static_cast<uint64_t>(w.tensor_data(w.tensors()[i]) - w.bytes()));
    }
    EXPECT_EQ((*f.get_string_array("tokenizer.ggml.tokens"))[3], "hello");
  }
  // The header is enough: no prefix beyond where tensor data starts is needed.
  EXPECT_GT(first_ok, 24u);
  EXPECT_LE(first_ok, w.data_offset());
  // Following `need` from a tiny prefix reaches a parse in a few rounds
  // (need at least doubles the prefix).
  size_t n = 8;
  int rounds = 0;
  for (;; ++rounds) {
    uint64_t need = 0;
    auto r = GgufFile::from_header(bytes.data(), n, bytes.size(), &need);
    if (r.ok()) break;
    ASSERT_GT(need, n);
    n = static_cast<size_t>(need);
  }
  EXPECT_LE(rounds, 12);
  // The caller's bytes may go away: the file keeps its own copy of the header.
  std::vector<uint8_t> copy(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(w.data_offset()));
  auto r = GgufFile::from_header(copy.data(), copy.size(), bytes.size());
  ASSERT_TRUE(r.ok());
  std::fill(copy.begin(), copy.end(), 0);
  EXPECT_EQ(r.value()->get_string("general.architecture"), "llama");
}

TEST(Gguf, FromHeaderValidatesAgainstTheFileSize) {
  const auto bytes = make_small_file();
  auto whole = GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(whole.ok());
  const size_t header = whole.value()->data_offset();
  uint64_t need = 0;
  // A file too short for its tensors is malformed, however much header is given.
  auto r = GgufFile::from_header(bytes.data(), header, header + 16, &need);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::invalid_file);
  EXPECT_EQ(need, 0u);
  EXPECT_NE(r.status().message().find("past the end of the file"), std::string::npos) << r.status().to_string();
  // A header that ends past the end of the file, likewise.
  r = GgufFile::from_header(bytes.data(), 40, 40, &need);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(need, 0u);
  // Absurd counts are judged against the file's size, not the prefix's.
  auto b = bytes;
  b[15] = 0x7f;  // tensor count (u64 at offset 8), high byte
  r = GgufFile::from_header(b.data(), 64, b.size(), &need);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(need, 0u);
  EXPECT_NE(r.status().message().find("tensor count"), std::string::npos) << r.status().to_string();
  // A string longer than the file.
  b = bytes;
  b[24 + 8 - 1] = 0x7f;  // the first key's length (u64 at offset 24), high byte
  r = GgufFile::from_header(b.data(), 64, b.size(), &need);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(need, 0u);
  // More bytes than the file has is the caller's mistake.
  r = GgufFile::from_header(bytes.data(), bytes.size(), bytes.size() - 1, &need);
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
  // Random corruption of a header never crashes and never asks past the file.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    auto c = bytes;
    c[rng() % header] = static_cast<uint8_t>(rng());
    const size_t n = 24 + rng() % (header - 24);
    auto q = GgufFile::from_header(c.data(), n, c.size(), &need);
    if (!q.ok()) {
      EXPECT_LE(need, c.size());
    }
    if (q.ok()) {
      for (const auto& t : q.value()->tensors()) EXPECT_LE(q.value()->tensor_file_offset(t) + t.size_bytes, c.size());
    }
  }
}

}  // namespace
}  // namespace wa
