// What every architecture file (src/models/<arch>.cpp) provides, and how a
// model is loaded from a GGUF file. An architecture reads its hyperparameters
// and tensors from the file, validates them, and builds a forward graph.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/memory.h"
#include "core/status.h"
#include "formats/gguf.h"

namespace wa {

class Tokenizer;

// A weight tensor as the file stores it; data points into the mapped file
// (null when the file was opened from its header and the weights live on a
// device). Its leaves carry `info` as their weight_id.
struct Weight {
  const GgufTensorInfo* info = nullptr;
  const void* data = nullptr;
  DType type() const { return info->type; }
  Node* leaf(Graph& g) const;
};

// Per-layer KV cache geometry an architecture needs.
struct KvLayout {
  int n_layer = 0;
  int64_t k_width = 0;  // floats per token per layer for keys (n_head_kv * head_dim)
  int64_t v_width = 0;
};

class KvCache;

// One forward pass: `n_tokens` new tokens at positions n_past.. (ids and
// positions already in the input leaves); logits for the last token only, or
// for every token.
struct ForwardSpec {
  int n_tokens = 0;
  int n_past = 0;
  bool all_logits = false;
  const int32_t* token_ids = nullptr;  // n_tokens entries, owned by the caller, stable during compute
  // Nonzero: the ids are in this device buffer instead (a device backend's
  // buffer id), written by the previous step (Session::eval_choose_chained).
  uint32_t token_ids_device_buffer = 0;
  const int32_t* positions = nullptr;  // n_tokens entries
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string arch() const = 0;
  virtual int n_vocab() const = 0;
  virtual int n_ctx_train() const = 0;
  virtual int64_t n_params() const = 0;
  // Type of the layer matrices: what a file is "mostly" (f32, q4_0, ...).
  virtual DType weight_type() const = 0;
  virtual KvLayout kv_layout() const = 0;
  // Human-readable hyperparameters for `webaccel info`.
  virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;
  // Builds the graph; returns the logits node ([n_vocab, 1 or n_tokens]).
  virtual Result<Node*> build_forward(Graph& g, const ForwardSpec& spec, KvCache& kv) const = 0;
};

// A model file opened and ready to run: the mapped file, the architecture and
// (if the file has one) the tokenizer.
struct LoadedModel {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null if the file carries no vocabulary
  MemoryTracker* tracker = nullptr;
  ~LoadedModel();
  LoadedModel();
  LoadedModel(LoadedModel&&) noexcept;
  LoadedModel& operator=(LoadedModel&&) noexcept;
};

struct LoadOptions {
  MemoryTracker* tracker = nullptr;
  bool require_tokenizer = false;
};

Result<LoadedModel> load_model(const std::string& path, const LoadOptions& options);
// The same from a file already opened (e.g. GgufFile::from_memory over bytes
// the wasm build received from JS); `name` prefixes error messages.
Result<LoadedModel> load_model(std::unique_ptr<GgufFile> file, const std::string& name, const LoadOptions& options);

// Architecture registry: src/models/<arch>.cpp registers a factory.
using ModelFactory = Result<std::unique_ptr<Model>> (*)(const GgufFile& file, MemoryTracker* tracker);
Result<std::unique_ptr<Model>> create_model(const GgufFile& file, MemoryTracker* tracker);
std::vector<std::string> supported_architectures();

}  // namespace wa
