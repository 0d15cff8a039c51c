#include "runtime/model.h"
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

}  // namespace wa
