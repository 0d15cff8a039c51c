// What every architecture file (src/models/<arch>.cpp) provides, and how a
// model is loaded from a GGUF file. An architecture reads its hyperparameters
// and tensors from the file, validates them, and builds a forward graph.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
  // Set where repack_weights_for_cpu rewrote the bytes in place into a
  // memory layout (DType::q4_0x4): the type its leaves carry. type() stays
  // the file's, which is what describes the model.
  std::optional<DType> layout;
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
  // Every weight slot (absent optional ones included, info null); a tensor
  // bound to two slots (tied embeddings) is visited once per slot.
  virtual void for_each_weight(const std::function<void(Weight&)>& fn) = 0;
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

// For a model the CPU backend runs, from file bytes the caller owns and may
// change (GgufFile::from_memory over a buffer of its own; never a mapped
// file): rewrites its 2-D q4_0 weights in place as q4_0x4 where the active
// CPU kernels prefer that layout (cpu::matmul_prefers_q4_0x4, the wasm
// kernels), so decode reads 4 rows as one stream. Same bytes, no memory of
// its own; the file's header and tensor types are unchanged, the weights'
// leaves carry q4_0x4. A tensor with a non-finite scale stays q4_0. Returns
// how many tensors were repacked (0 where the kernels do not prefer it;
// `always`, for tests: repack anyway, the scalar reference then runs them).
// The bytes then hold a layout only this build's CPU kernels read: do not
// upload them to a device or write them to a file afterwards.
int repack_weights_for_cpu(LoadedModel& model, bool always = false);

// Architecture registry: src/models/<arch>.cpp registers a factory.
using ModelFactory = Result<std::unique_ptr<Model>> (*)(const GgufFile& file, MemoryTracker* tracker);
Result<std::unique_ptr<Model>> create_model(const GgufFile& file, MemoryTracker* tracker);
std::vector<std::string> supported_architectures();

}  // namespace wa
