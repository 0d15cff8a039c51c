#include "formats/convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "formats/gguf.h"
#include "formats/hot_rows.h"
#include "formats/llama2c.h"
#include "quant/blocks.h"
#include "quant/weighted.h"

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
    // llama.cpp's LLAMA_FTYPE_GUESSED: no llama.cpp file type names webaccel's own formats.
    case DType::wa_vq2: case DType::wa_vq3: return 1024;
    default: return 0;
  }
}

const char* quantize_method(DType type, const float* col_weights, const quant::GptqFactor* gptq) {
  if (gptq && quant::has_gptq_quantizer(type)) return "error-compensating";
  if (col_weights && quant::weighting_helps(type)) return "importance-weighted";
  return "round-to-nearest";
}

const quant::GptqFactor* compensation_for(const QuantizeOptions& options, const std::string& name, DType type) {
  auto it = options.gptq.find(name);
  if (it == options.gptq.end() || !it->second || !quant::has_gptq_quantizer(type)) return nullptr;
  if (options.lookup_tables.count(name) && !quant::compensate_lookup_table(type, options.row_metrics.count(name) > 0)) {
    return nullptr;
  }
  return it->second.get();
}

const quant::TiedRowMetric* row_metric_for(const QuantizeOptions& options, const std::string& name, DType type) {
  auto it = options.row_metrics.find(name);
  return it != options.row_metrics.end() && compensation_for(options, name, type) ? it->second.get() : nullptr;
}

void quantize_rows(DType type, const float* src, void* dst, int64_t rows, int64_t cols, const float* col_weights,
                   const quant::GptqFactor* gptq, const quant::TiedRowMetric* per_row, int64_t first_row) {
  const TypeTraits* t = type_traits(type);
  const size_t rb = row_bytes(type, cols);
  const bool compensated = gptq && gptq->n == cols && quant::has_gptq_quantizer(type);
  const bool weighted = col_weights && quant::weighting_helps(type);
  auto row = [=](int64_t r) {
    uint8_t* d = static_cast<uint8_t*>(dst) + r * rb;
    if (compensated && per_row && per_row->quantize_row(type, first_row + r, src + r * cols, d)) return;
    if (compensated) quant::quantize_row_gptq(type, src + r * cols, d, cols, *gptq, col_weights);
    else if (weighted) quant::quantize_row_weighted(type, src + r * cols, d, cols, col_weights);
    else t->from_f32(src + r * cols, d, cols);
  };
  const int n_threads = std::max(1, std::min<int>(static_cast<int>(std::thread::hardware_concurrency()), 16));
  if (rows < 64 || n_threads == 1) {
    for (int64_t r = 0; r < rows; ++r) row(r);
    return;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < n_threads; ++i) {
    threads.emplace_back([=] {
      for (int64_t r = i; r < rows; r += n_threads) row(r);
    });
  }
  for (auto& th : threads) th.join();
}

namespace {

// Whether the file at `path` starts with GGUF's magic (the input is detected by content).
Result<bool> has_gguf_magic(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return io_error(strformat("cannot open '%s': %s", path.c_str(), std::strerror(errno)));
  char magic[4] = {};
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  return got == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

bool is_convertible_type(DType type) {
  switch (type) {
    case DType::f32: case DType::f16: case DType::q8_0: case DType::q4_0: case DType::q4_1:
    case DType::q5_0: case DType::q5_1: case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k:
    case DType::q6_k: case DType::wa_vq2: case DType::wa_vq3:
      return true;
    default:
      return false;
  }
}

namespace {

// Matrices stored in another type than asked, summarized as one note per
// fallback type (a model's matrices often all share the row length that
// does not fit).
class Fallbacks {
 public:
  void add(const std::string& name, int64_t cols, DType want, DType got) {
    if (got == want) return;
    for (auto& g : groups_) {
      if (g.got == got) {
        g.names.push_back(name);
        if (std::find(g.lengths.begin(), g.lengths.end(), cols) == g.lengths.end()) g.lengths.push_back(cols);
        return;
      }
    }
    groups_.push_back({want, got, {name}, {cols}});
  }
  void report(ConvertReport* report) const {
    if (!report) return;
    for (const auto& g : groups_) {
      std::string lengths;
      for (int64_t c : g.lengths) lengths += (lengths.empty() ? "" : ", ") + std::to_string(c);
      std::string names = g.names[0];
      if (g.names.size() > 1) names += strformat(" and %zu more", g.names.size() - 1);
      report->notes.push_back(strformat("%zu matrices (%s): rows of %s elements are not whole %s blocks (%lld); "
                                        "stored as %s", g.names.size(), names.c_str(), lengths.c_str(),
                                        dtype_name(g.want), static_cast<long long>(block_size(g.want)), dtype_name(g.got)));
    }
  }

 private:
  struct Group {
    DType want, got;
    std::vector<std::string> names;
    std::vector<int64_t> lengths;
  };
  std::vector<Group> groups_;
};

// Sets general.file_type to the type holding most of the matrices' weights
// (ties: `want`), and general.quantization_version (llama.cpp's block layout
// version, 2 since 2023) when any matrix is quantized.
void set_file_type(GgufWriter& w, DType want, const std::vector<std::pair<DType, int64_t>>& matrices) {
  std::vector<std::pair<DType, int64_t>> by_type;
  for (const auto& [t, n] : matrices) {
    auto it = std::find_if(by_type.begin(), by_type.end(), [t = t](const auto& p) { return p.first == t; });
    if (it == by_type.end()) by_type.push_back({t, n});
    else it->second += n;
  }
  DType most = want;
  int64_t most_n = -1;
  bool quantized = false;
  for (const auto& [t, n] : by_type) {
    if (n > most_n || (n == most_n && t == want)) most = t, most_n = n;
    quantized = quantized || type_traits(t)->quantized;
  }
  w.set_u32("general.file_type", static_cast<uint32_t>(gguf_file_type(most)));
  if (quantized) w.set_u32("general.quantization_version", 2);
}

// Adds a matrix held as f32 [rows][cols] (GGUF ne = {cols, rows}) in `want`.
Status add_matrix(GgufWriter& w, const std::string& name, const float* data, int64_t cols, int64_t rows, DType want,
                  Fallbacks* fallbacks, std::vector<std::pair<DType, int64_t>>* stored) {
  const DType type = matrix_storage_type(want, cols);
  fallbacks->add(name, cols, want, type);
  stored->push_back({type, cols * rows});
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
  std::vector<std::pair<DType, int64_t>> stored;
  Fallbacks fallbacks;
  WA_TRY(add_matrix(w, "token_embd.weight", k.at(k.token_embedding), dim, V, type, &fallbacks, &stored));
  WA_TRY(add_vector(w, "output_norm.weight", k.at(k.rms_final), dim));
  if (!c.shared_classifier) WA_TRY(add_matrix(w, "output.weight", k.at(k.wcls), dim, V, type, &fallbacks, &stored));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = strformat("blk.%lld.", static_cast<long long>(l));
    WA_TRY(add_vector(w, p + "attn_norm.weight", k.at(k.rms_att + l * dim), dim));
    WA_TRY(add_matrix(w, p + "attn_q.weight", k.at(k.wq + l * dim * dim), dim, dim, type, &fallbacks, &stored));
    WA_TRY(add_matrix(w, p + "attn_k.weight", k.at(k.wk + l * kv_dim * dim), dim, kv_dim, type, &fallbacks, &stored));
    WA_TRY(add_matrix(w, p + "attn_v.weight", k.at(k.wv + l * kv_dim * dim), dim, kv_dim, type, &fallbacks, &stored));
    WA_TRY(add_matrix(w, p + "attn_output.weight", k.at(k.wo + l * dim * dim), dim, dim, type, &fallbacks, &stored));
    WA_TRY(add_vector(w, p + "ffn_norm.weight", k.at(k.rms_ffn + l * dim), dim));
    WA_TRY(add_matrix(w, p + "ffn_gate.weight", k.at(k.w1 + l * hid * dim), dim, hid, type, &fallbacks, &stored));
    WA_TRY(add_matrix(w, p + "ffn_down.weight", k.at(k.w2 + l * dim * hid), hid, dim, type, &fallbacks, &stored));
    WA_TRY(add_matrix(w, p + "ffn_up.weight", k.at(k.w3 + l * hid * dim), dim, hid, type, &fallbacks, &stored));
  }
  fallbacks.report(report);
  set_file_type(w, type, stored);
  return w.write(out);
}

// The hot rows of options (formats/hot_rows.h): the rows' input values
// encoded by round-to-nearest in options.hot_rows_type, their ids, the key.
Status add_hot_rows(GgufWriter& w, const std::shared_ptr<GgufFile>& src, const QuantizeOptions& options,
                    ConvertReport* report, bool size_only) {
  const GgufTensorInfo* embd = src->find_tensor("token_embd.weight");
  if (!embd || embd->n_dims != 2) return invalid_argument("hot rows: the input has no 2-D token_embd.weight");
  const int64_t cols = embd->ne[0], vocab = embd->ne[1];
  const std::vector<int32_t>& ids = options.hot_rows;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab || (i > 0 && ids[i] <= ids[i - 1])) {
      return invalid_argument(strformat("hot rows: the ids must be strictly increasing in [0, %lld) (at %zu: %d)",
                                        static_cast<long long>(vocab), i, ids[i]));
    }
  }
  const DType type = options.hot_rows_type;
  if (!is_convertible_type(type) || matrix_storage_type(type, cols) != type) {
    return invalid_argument(strformat("hot rows: rows of %lld cannot be stored as %s", static_cast<long long>(cols),
                                      dtype_name(type)));
  }
  const TypeTraits* from = type_traits(embd->type);
  if (!from || !from->to_f32) return unsupported(strformat("hot rows: token_embd.weight's type %s cannot be decoded", dtype_name(embd->type)));
  const int64_t n = static_cast<int64_t>(ids.size());
  w.set_u32(kHotRowsKey, static_cast<uint32_t>(n));
  auto kept = std::make_shared<std::vector<int32_t>>(ids);
  WA_TRY(w.add_tensor(kHotRowsTensor, type, {cols, n}, [src, embd, from, type, kept, cols](uint8_t* dst, size_t) {
    const size_t in_rb = row_bytes(embd->type, cols), out_rb = row_bytes(type, cols);
    std::vector<float> row(static_cast<size_t>(cols));
    for (size_t i = 0; i < kept->size(); ++i) {
      from->to_f32(src->tensor_data(*embd) + static_cast<size_t>((*kept)[i]) * in_rb, row.data(), cols);
      type_traits(type)->from_f32(row.data(), dst + i * out_rb, cols);
    }
    return Status::Ok();
  }));
  WA_TRY(w.add_tensor(kHotIdsTensor, DType::i32, {n}, [kept](uint8_t* dst, size_t bytes) {
    std::memcpy(dst, kept->data(), bytes);
    return Status::Ok();
  }));
  if (report && !size_only) {
    report->notes.push_back(strformat("token_embd.weight: %lld hot rows in %s beside it, read by the lookup (webaccel's "
                                      "own format: llama.cpp runs the file without them)",
                                      static_cast<long long>(n), dtype_name(type)));
  }
  return Status::Ok();
}

// With `size_only`, nothing is written: *size_only receives the size of the file.
Status convert_gguf(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                    const std::string& vocab_path, const std::string& name, const QuantizeOptions& options = {},
                    uint64_t* size_only = nullptr) {
  WA_ASSIGN_OR_RETURN(auto file, GgufFile::open(in));
  GgufWriter w;
  for (const auto& kv : file->metadata()) {
    const bool replaced_vocab = !vocab_path.empty() && kv.key.rfind("tokenizer.", 0) == 0;
    const bool derived = kv.key == "general.file_type" || kv.key == "general.quantization_version" ||
                         kv.key == "general.alignment" || kv.key == kHotRowsKey;
    if (!derived && !replaced_vocab) w.copy_kv(kv);
  }
  WA_TRY(attach_vocab(w, vocab_path));
  if (!name.empty()) w.set_string("general.name", name);
  std::shared_ptr<GgufFile> src(std::move(file));
  std::vector<std::pair<DType, int64_t>> stored;
  Fallbacks fallbacks;
  bool requantized = false;
  std::vector<DType> unweighted;  // types of calibrated matrices that are still rounded to nearest
  if (has_hot_rows(*src) && report && !size_only) {
    report->notes.push_back(in + " has hot rows (a second copy of embedding rows): not copied, they belong to its "
                                 "embedding's encoding (quantize from an f32/f16 file)");
  }
  for (const auto& t : src->tensors()) {
    const TypeTraits* from = type_traits(t.type);
    if (is_hot_rows_tensor(t.name)) continue;
    if (!is_weight_matrix(t)) {
      if (t.n_dims != 1) return unsupported(strformat("tensor '%s' of rank %d cannot be converted", t.name.c_str(), t.n_dims));
      WA_TRY(w.add_tensor_bytes(t.name, t.type, {t.ne[0]}, src->tensor_data(t)));
      continue;
    }
    DType to = matrix_storage_type(type, t.ne[0]);
    if (auto it = options.tensor_types.find(t.name); it != options.tensor_types.end()) {
      if (matrix_storage_type(it->second, t.ne[0]) != it->second) {
        return invalid_argument(strformat("tensor '%s': rows of %lld elements are not whole %s blocks", t.name.c_str(),
                                          static_cast<long long>(t.ne[0]), dtype_name(it->second)));
      }
      to = it->second;
    } else {
      fallbacks.add(t.name, t.ne[0], type, to);
    }
    stored.push_back({to, t.n_elements()});
    const float* weights = nullptr;
    if (auto it = options.importance.find(t.name); it != options.importance.end()) {
      if (static_cast<int64_t>(it->second.size()) != t.ne[0]) {
        return invalid_argument(strformat("tensor '%s': %zu importance weights for rows of %lld", t.name.c_str(),
                                          it->second.size(), static_cast<long long>(t.ne[0])));
      }
      weights = it->second.data();
    }
    std::shared_ptr<const quant::GptqFactor> factor;
    std::shared_ptr<const quant::TiedRowMetric> per_row;
    if (auto it = options.gptq.find(t.name); it != options.gptq.end() && it->second) {
      if (it->second->n != t.ne[0]) {
        return invalid_argument(strformat("tensor '%s': a second-moment factor of %lld inputs for rows of %lld",
                                          t.name.c_str(), static_cast<long long>(it->second->n),
                                          static_cast<long long>(t.ne[0])));
      }
      if (compensation_for(options, t.name, to)) factor = it->second;
      if (row_metric_for(options, t.name, to)) per_row = options.row_metrics.at(t.name);
    }
    if (per_row && report && !size_only) {
      report->notes.push_back(strformat("%s (a tied embedding): %lld rows with their own error metric (output and "
                                        "lookup roles, lookup sensitivity %.4g per coordinate), the others shared",
                                        t.name.c_str(), static_cast<long long>(per_row->own_rows()),
                                        per_row->lookup_sensitivity()));
    }
    const char* method = quantize_method(to, weights, factor.get());
    const bool rtn = std::strcmp(method, "round-to-nearest") == 0;
    if ((weights || factor) && rtn && std::find(unweighted.begin(), unweighted.end(), to) == unweighted.end()) {
      unweighted.push_back(to);
    }
    // Already stored so: the same bytes, no second rounding (unless a
    // calibrated quantizer would choose other ones).
    if (to == t.type && rtn) {
      WA_TRY(w.add_tensor_bytes(t.name, to, {t.ne[0], t.ne[1]}, src->tensor_data(t)));
      continue;
    }
    if (!from->to_f32) {
      return unsupported(strformat("tensor '%s' has type %s, which this build cannot decode", t.name.c_str(), from->name));
    }
    requantized = requantized || from->quantized;
    if (report && !size_only) ++report->methods[std::string(dtype_name(to)) + " " + method];
    const GgufTensorInfo* tp = &t;
    WA_TRY(w.add_tensor(t.name, to, {t.ne[0], t.ne[1]}, [src, tp, from, to, weights, factor, per_row](uint8_t* dst, size_t) {
      const int64_t cols = tp->ne[0], rows = tp->ne[1];
      const size_t in_rb = row_bytes(tp->type, cols);
      std::vector<float> buf(static_cast<size_t>(cols) * 256);
      for (int64_t r0 = 0; r0 < rows; r0 += 256) {
        const int64_t n = std::min<int64_t>(256, rows - r0);
        for (int64_t r = 0; r < n; ++r) from->to_f32(src->tensor_data(*tp) + (r0 + r) * in_rb, buf.data() + r * cols, cols);
        quantize_rows(to, buf.data(), dst + r0 * row_bytes(to, cols), n, cols, weights, factor.get(), per_row.get(), r0);
      }
      return Status::Ok();
    }));
  }
  if (stored.empty()) return invalid_file(in + ": no weight matrices (2-D *.weight tensors) to re-encode");
  if (!options.hot_rows.empty()) WA_TRY(add_hot_rows(w, src, options, report, size_only != nullptr));
  for (const auto& [tensor, ty] : options.tensor_types) {
    if (!src->find_tensor(tensor)) return invalid_argument("the plan names tensor '" + tensor + "', which " + in + " lacks");
  }
  if (requantized && report) {
    report->notes.push_back("some matrices were already quantized: decoding and re-encoding them adds the new "
                            "type's error to the old one (quantize from an f32/f16 file where there is one)");
  }
  fallbacks.report(report);
  for (DType t : unweighted) {
    if (!report) break;
    // Two reasons: the type has no error-compensating quantizer, or it has one
    // and another --method was asked for.
    const std::string why = quant::has_gptq_quantizer(t)
        ? strformat("importance weighting was measured not to help %s: quant::weighting_helps; --method gptq "
                    "compensates it", dtype_name(t))
        : strformat("%s has no error-compensating quantizer, and importance weighting was measured not to help it "
                    "or was not measured: quant::has_gptq_quantizer, quant::weighting_helps", dtype_name(t));
    report->notes.push_back(strformat("--calib: %s matrices are quantized by round-to-nearest (%s)", dtype_name(t),
                                      why.c_str()));
  }
  set_file_type(w, type, stored);
  if (size_only) {
    *size_only = w.file_size();
    return Status::Ok();
  }
  return w.write(out);
}

}  // namespace

DType matrix_storage_type(DType want, int64_t cols) {
  if (cols % block_size(want) == 0) return want;
  if (want == DType::f32) return DType::f32;
  DType fallback = DType::f16;
  switch (want) {
    case DType::q2_k: case DType::q3_k: case DType::wa_vq2: case DType::wa_vq3: fallback = DType::q4_0; break;
    case DType::q4_k: fallback = DType::q5_0; break;
    case DType::q5_k: fallback = DType::q5_1; break;
    case DType::q6_k: fallback = DType::q8_0; break;
    default: break;
  }
  return cols % block_size(fallback) == 0 ? fallback : DType::f16;
}

bool is_weight_matrix(const GgufTensorInfo& t) {
  return t.n_dims == 2 && t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
}

WeightSize measure_weights(const GgufFile& file) {
  WeightSize ws;
  for (const auto& t : file.tensors()) {
    if (is_hot_rows_tensor(t.name)) {
      ws.hot_bytes += t.size_bytes;
      ws.bytes += t.size_bytes;
      if (t.name == kHotRowsTensor) ws.hot_rows = t.ne[1], ws.hot_type = t.type;
      continue;
    }
    if (!is_weight_matrix(t)) continue;
    ws.n_weights += t.n_elements();
    ws.bytes += t.size_bytes;
    ++ws.n_matrices;
    auto it = std::find_if(ws.weights_by_type.begin(), ws.weights_by_type.end(), [&](const auto& p) { return p.first == t.type; });
    if (it == ws.weights_by_type.end()) ws.weights_by_type.push_back({t.type, t.n_elements()});
    else it->second += t.n_elements();
  }
  std::stable_sort(ws.weights_by_type.begin(), ws.weights_by_type.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return ws;
}

namespace {
Status check_quantize_input(const std::string& in, DType type, const QuantizeOptions& options) {
  std::vector<DType> types = {type};
  for (const auto& [name, t] : options.tensor_types) types.push_back(t);
  for (DType t : types) {
    if (!is_convertible_type(t)) {
      return unsupported(strformat("quantizing to %s is not supported (%s)", dtype_name(t), kConvertibleTypes));
    }
  }
  WA_ASSIGN_OR_RETURN(bool gguf, has_gguf_magic(in));
  if (!gguf) return invalid_file(in + ": not a GGUF file (quantize reads GGUF; `webaccel convert` reads llama2.c checkpoints)");
  return Status::Ok();
}
}  // namespace

Status quantize_model(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                      const QuantizeOptions& options) {
  WA_TRY(check_quantize_input(in, type, options));
  return convert_gguf(in, out, type, report, "", "", options);  // GgufFile::open names the file in its errors
}

Result<uint64_t> quantized_file_size(const std::string& in, DType type, const QuantizeOptions& options) {
  WA_TRY(check_quantize_input(in, type, options));
  uint64_t size = 0;
  WA_TRY(convert_gguf(in, "", type, nullptr, "", "", options, &size));
  return size;
}

Status convert_model(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                     const std::string& vocab_path, const std::string& name) {
  if (!is_convertible_type(type)) {
    return unsupported(strformat("converting to %s is not supported (%s)", dtype_name(type), kConvertibleTypes));
  }
  WA_ASSIGN_OR_RETURN(bool gguf, has_gguf_magic(in));
  if (gguf) return convert_gguf(in, out, type, report, vocab_path, name);
  return convert_llama2c(in, out, type, report, vocab_path, name).with_context(in);
}

}  // namespace wa
