#include <string>
#include <vector>

#include "models/models.h"
#include "runtime/model.h"

namespace wa {
namespace {

struct ArchEntry {
  const char* arch;
  ModelFactory factory;
};

// general.architecture -> the file that implements it.
constexpr ArchEntry kArchitectures[] = {
    {"llama", create_llama_model},
    {"mistral", create_llama_model},
    {"qwen2", create_llama_model},
};

}  // namespace

Result<std::unique_ptr<Model>> create_model(const GgufFile& file, MemoryTracker* tracker) {
  const auto arch = file.get_string("general.architecture");
  if (!arch) return invalid_file("missing 'general.architecture' (is this a model file? tokenizer-only files have no weights)");
  for (const auto& e : kArchitectures) {
    if (*arch == e.arch) return e.factory(file, tracker);
  }
  std::string list;
  for (const auto& e : kArchitectures) list += std::string(list.empty() ? "" : ", ") + e.arch;
  return unsupported(strformat("architecture '%.*s' is not supported (supported: %s)", static_cast<int>(arch->size()),
                               arch->data(), list.c_str()));
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& e : kArchitectures) out.emplace_back(e.arch);
  return out;
}

}  // namespace wa
