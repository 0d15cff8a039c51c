#include "runtime/model.h"

#include <vector>

#include "backends/cpu/kernels.h"
#include "tokenizers/tokenizer.h"

namespace wa {

LoadedModel::LoadedModel() = default;
LoadedModel::~LoadedModel() = default;
LoadedModel::LoadedModel(LoadedModel&&) noexcept = default;
LoadedModel& LoadedModel::operator=(LoadedModel&&) noexcept = default;

Result<LoadedModel> load_model(const std::string& path, const LoadOptions& options) {
  WA_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::open(path));
  return load_model(std::move(file), path, options);
}

Result<LoadedModel> load_model(std::unique_ptr<GgufFile> file, const std::string& path, const LoadOptions& options) {
  if (!file) return invalid_argument("load_model: no file");
  LoadedModel lm;
  lm.tracker = options.tracker;
  lm.file = std::move(file);
  auto model = create_model(*lm.file, options.tracker);
  if (!model.ok()) return model.status().with_context(path);
  lm.model = std::move(model).value();
  if (lm.file->find("tokenizer.ggml.model")) {
    auto tok = Tokenizer::from_gguf(*lm.file);
    if (!tok.ok()) return tok.status().with_context(path + ": tokenizer");
    lm.tokenizer = std::move(tok).value();
    if (lm.tokenizer->n_vocab() != lm.model->n_vocab()) {
      return invalid_file(strformat("%s: tokenizer has %d tokens but the model's embedding has %d rows", path.c_str(),
                                    lm.tokenizer->n_vocab(), lm.model->n_vocab()));
    }
  } else if (options.require_tokenizer) {
    return invalid_file(path + ": the file has no tokenizer (no tokenizer.ggml.model metadata)");
  }
  return lm;
}

int repack_weights_for_cpu(LoadedModel& model, bool always) {
  if (!model.model || !model.file || !model.file->has_data()) return 0;
  if (!always && !cpu::matmul_prefers_q4_0x4()) return 0;
  std::vector<const GgufTensorInfo*> done, refused;
  auto seen = [](const std::vector<const GgufTensorInfo*>& v, const GgufTensorInfo* t) {
    for (const GgufTensorInfo* x : v) {
      if (x == t) return true;
    }
    return false;
  };
  model.model->for_each_weight([&](Weight& w) {
    if (!w.info || !w.data || w.layout || w.info->type != DType::q4_0 || w.info->ne[2] != 1 || w.info->ne[3] != 1) return;
    // A tied embedding comes twice (token_embd and output): repacked once,
    // both slots then read the new layout.
    if (!seen(done, w.info) && !seen(refused, w.info)) {
      const int64_t k = w.info->ne[0], n = w.info->ne[1];
      // The caller owns the bytes (see the header); the file only points into them.
      if (!cpu::repack_q4_0x4(const_cast<void*>(w.data), row_bytes(DType::q4_0, k), n, k)) {
        refused.push_back(w.info);
        return;
      }
      done.push_back(w.info);
    }
    if (seen(done, w.info)) w.layout = DType::q4_0x4;
  });
  return static_cast<int>(done.size());
}

}  // namespace wa
