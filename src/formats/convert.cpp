#include "formats/convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "formats/gguf.h"
#include "formats/llama2c.h"
#include "quant/blocks.h"

namespace wa {

int gguf_file_type(DType type) {
  switch (type) {
    case DType::f32: return 0;
    case DType::f16: return 1;
    case DType::q4_0: return 2;
    case DType::q4_1: return 3;
    case DType::q8_0: return 7;
    case DType::q5_0: return 8;
    case DType::q5_1: return 9;
    case DType::q2_k: return 10;
    case DType::q3_k: return 11;  // llama.cpp's Q3_K_S, Q4_K_S, Q5_K_S: every matrix in that type
    case DType::q4_k: return 14;
    case DType::q5_k: return 16;
    case DType::q6_k: return 18;
    case DType::bf16: return 32;
    default: return 0;
  }
}

void quantize_rows(DType type, const float* src, void* dst, int64_t rows, int64_t cols) {
  const TypeTraits* t = type_traits(type);
  const size_t rb = row_bytes(type, cols);
  const int n_threads = std::max(1, std::min<int>(static_cast<int>(std::thread::hardware_concurrency()), 16));
  if (rows < 64 || n_threads == 1) {
    for (int64_t r = 0; r < rows; ++r) t->from_f32(src + r * cols, static_cast<uint8_t*>(dst) + r * rb, cols);
    return;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < n_threads; ++i) {
    threads.emplace_back([=] {
      for (int64_t r = i; r < rows; r += n_threads) t->from_f32(src + r * cols, static_cast<uint8_t*>(dst) + r * rb, cols);
    });
  }
  for (auto& th : threads) th.join();
}

bool is_convertible_type(DType type) {
  switch (type) {
    case DType::f32: case DType::f16: case DType::q8_0: case DType::q4_0: case DType::q4_1:
    case DType::q5_0: case DType::q5_1: case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k:
    case DType::q6_k:
      return true;
    default:
      return false;
  }
}

namespace {

// The type a matrix of row length `cols` is stored as when `want` is asked:
// a k-quant whose rows are not whole super-blocks falls back to q8_0 when the
// rows are whole 32-blocks (as llama.cpp falls back to a 32-block type),
// anything else to f16.
DType matrix_type(DType want, int64_t cols) {
  if (cols % block_size(want) == 0) return want;
  if (want == DType::f32) return DType::f32;
  if (block_size(want) == QK_K && cols % QK8_0 == 0) return DType::q8_0;
  return DType::f16;
}

// Adds a matrix held as f32 [rows][cols] (GGUF ne = {cols, rows}) in `want`.
Status add_matrix(GgufWriter& w, const std::string& name, const float* data, int64_t cols, int64_t rows, DType want,
                  ConvertReport* report) {
  const DType type = matrix_type(want, cols);
  if (type != want && report) {
    report->notes.push_back(strformat("%s: row length %lld is not a multiple of the %s block size; stored as %s",
                                      name.c_str(), static_cast<long long>(cols), dtype_name(want), dtype_name(type)));
  }
  return w.add_tensor(name, type, {cols, rows}, [=](uint8_t* dst, size_t) {
    quantize_rows(type, data, dst, rows, cols);
    return Status::Ok();
  });
}

Status add_vector(GgufWriter& w, const std::string& name, const float* data, int64_t n) {
  return w.add_tensor_bytes(name, DType::f32, {n}, data);
}

// Copies tokenizer.* metadata from a vocabulary file into the writer.
Status attach_vocab(GgufWriter& w, const std::string& vocab_path) {
  if (vocab_path.empty()) return Status::Ok();
  WA_ASSIGN_OR_RETURN(auto vocab, GgufFile::open(vocab_path));
  bool any = false;
  for (const auto& kv : vocab->metadata()) {
    if (kv.key.rfind("tokenizer.", 0) == 0) {
      w.copy_kv(kv);
      any = true;
    }
  }
  if (!any) return invalid_file(vocab_path + " has no tokenizer.* metadata");
  return Status::Ok();
}

Status convert_llama2c(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                       const std::string& vocab_path, const std::string& name) {
  WA_ASSIGN_OR_RETURN(Llama2cCheckpoint ck, read_llama2c(in));
  const Llama2cConfig& c = ck.config;
  const int64_t dim = c.dim, hid = c.hidden_dim, V = c.vocab_size;
  const int64_t head = dim / c.n_heads, kv_dim = head * c.n_kv_heads;
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", name.empty() ? "llama2.c checkpoint" : name);
  w.set_string("general.source", "converted from a llama2.c checkpoint by webaccel convert");
  w.set_u32("general.file_type", static_cast<uint32_t>(gguf_file_type(type)));
  w.set_u32("llama.context_length", static_cast<uint32_t>(c.seq_len));
  w.set_u32("llama.embedding_length", static_cast<uint32_t>(dim));
  w.set_u32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(hid));
  w.set_u32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(head));
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32("llama.vocab_size", static_cast<uint32_t>(V));
  WA_TRY(attach_vocab(w, vocab_path));
  // llama2.c rotates adjacent pairs (2i, 2i+1): GGUF llama's "normal" RoPE,
  // so Q and K are stored as they are.
  auto keep = std::make_shared<Llama2cCheckpoint>(std::move(ck));
  const Llama2cCheckpoint& k = *keep;
  WA_TRY(add_matrix(w, "token_embd.weight", k.at(k.token_embedding), dim, V, type, report));
  WA_TRY(add_vector(w, "output_norm.weight", k.at(k.rms_final), dim));
  if (!c.shared_classifier) WA_TRY(add_matrix(w, "output.weight", k.at(k.wcls), dim, V, type, report));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = strformat("blk.%lld.", static_cast<long long>(l));
    WA_TRY(add_vector(w, p + "attn_norm.weight", k.at(k.rms_att + l * dim), dim));
    WA_TRY(add_matrix(w, p + "attn_q.weight", k.at(k.wq + l * dim * dim), dim, dim, type, report));
    WA_TRY(add_matrix(w, p + "attn_k.weight", k.at(k.wk + l * kv_dim * dim), dim, kv_dim, type, report));
    WA_TRY(add_matrix(w, p + "attn_v.weight", k.at(k.wv + l * kv_dim * dim), dim, kv_dim, type, report));
    WA_TRY(add_matrix(w, p + "attn_output.weight", k.at(k.wo + l * dim * dim), dim, dim, type, report));
    WA_TRY(add_vector(w, p + "ffn_norm.weight", k.at(k.rms_ffn + l * dim), dim));
    WA_TRY(add_matrix(w, p + "ffn_gate.weight", k.at(k.w1 + l * hid * dim), dim, hid, type, report));
    WA_TRY(add_matrix(w, p + "ffn_down.weight", k.at(k.w2 + l * dim * hid), hid, dim, type, report));
    WA_TRY(add_matrix(w, p + "ffn_up.weight", k.at(k.w3 + l * hid * dim), dim, hid, type, report));
  }
  return w.write(out);
}

// Norm and bias vectors, and anything not 2-D, keep their type.
bool is_matrix(const GgufTensorInfo& t) {
  return t.n_dims == 2 && t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
}

Status convert_gguf(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                    const std::string& vocab_path, const std::string& name) {
  WA_ASSIGN_OR_RETURN(auto file, GgufFile::open(in));
  GgufWriter w;
  for (const auto& kv : file->metadata()) {
    const bool replaced_vocab = !vocab_path.empty() && kv.key.rfind("tokenizer.", 0) == 0;
    if (kv.key != "general.file_type" && kv.key != "general.alignment" && !replaced_vocab) w.copy_kv(kv);
  }
  WA_TRY(attach_vocab(w, vocab_path));
  if (!name.empty()) w.set_string("general.name", name);
  w.set_u32("general.file_type", static_cast<uint32_t>(gguf_file_type(type)));
  std::shared_ptr<GgufFile> src(std::move(file));
  for (const auto& t : src->tensors()) {
    const TypeTraits* from = type_traits(t.type);
    if (!is_matrix(t)) {
      if (t.n_dims != 1) return unsupported(strformat("tensor '%s' of rank %d cannot be converted", t.name.c_str(), t.n_dims));
      WA_TRY(w.add_tensor_bytes(t.name, t.type, {t.ne[0]}, src->tensor_data(t)));
      continue;
    }
    if (!from->to_f32) {
      return unsupported(strformat("tensor '%s' has type %s, which this build cannot decode", t.name.c_str(), from->name));
    }
    const DType to = matrix_type(type, t.ne[0]);
    if (to != type && report) {
      report->notes.push_back(strformat("%s: row length %lld is not a multiple of the %s block size; stored as %s",
                                        t.name.c_str(), static_cast<long long>(t.ne[0]), dtype_name(type), dtype_name(to)));
    }
    const GgufTensorInfo* tp = &t;
    WA_TRY(w.add_tensor(t.name, to, {t.ne[0], t.ne[1]}, [src, tp, from, to](uint8_t* dst, size_t) {
      const int64_t cols = tp->ne[0], rows = tp->ne[1];
      const size_t in_rb = row_bytes(tp->type, cols);
      std::vector<float> buf(static_cast<size_t>(cols) * 256);
      for (int64_t r0 = 0; r0 < rows; r0 += 256) {
        const int64_t n = std::min<int64_t>(256, rows - r0);
        for (int64_t r = 0; r < n; ++r) from->to_f32(src->tensor_data(*tp) + (r0 + r) * in_rb, buf.data() + r * cols, cols);
        quantize_rows(to, buf.data(), dst + r0 * row_bytes(to, cols), n, cols);
      }
      return Status::Ok();
    }));
  }
  return w.write(out);
}

}  // namespace

Status convert_model(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                     const std::string& vocab_path, const std::string& name) {
  if (!is_convertible_type(type)) {
    return unsupported(strformat("converting to %s is not supported (%s)", dtype_name(type), kConvertibleTypes));
  }
  FILE* f = std::fopen(in.c_str(), "rb");
  if (!f) return io_error(strformat("cannot open '%s': %s", in.c_str(), std::strerror(errno)));
  char magic[4] = {};
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (got == 4 && std::memcmp(magic, "GGUF", 4) == 0) return convert_gguf(in, out, type, report, vocab_path, name).with_context(in);
  return convert_llama2c(in, out, type, report, vocab_path, name).with_context(in);
}

}  // namespace wa
