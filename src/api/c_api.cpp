// The public C API (include/webaccel/webaccel.h) over the C++ runtime.
//
// Every entry point converts C++ status values into integer codes and keeps
// the message on the handle; exceptions (std::bad_alloc from a container)
// are caught at this boundary so that nothing escapes into C. The wasm build
// has exception catching disabled (emscripten's default: catching costs a JS
// round trip per call), so there a bad_alloc escapes to the JS driver, which
// treats the module as dead (js/src/native.ts); wa_heap_info lets the driver
// refuse the big allocations up front instead.
#include "webaccel/webaccel.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten/heap.h>
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "backends/webgpu/webgpu_backend.h"
#include "core/memory.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "formats/hot_rows.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizers/tokenizer.h"

namespace {

using wa::Status;
using wa::StatusCode;

static_assert(WA_OK == static_cast<int>(StatusCode::ok));
static_assert(WA_INVALID_ARGUMENT == static_cast<int>(StatusCode::invalid_argument));
static_assert(WA_INVALID_FILE == static_cast<int>(StatusCode::invalid_file));
static_assert(WA_UNSUPPORTED == static_cast<int>(StatusCode::unsupported));
static_assert(WA_OUT_OF_MEMORY == static_cast<int>(StatusCode::out_of_memory));
static_assert(WA_IO_ERROR == static_cast<int>(StatusCode::io_error));
static_assert(WA_CANCELLED == static_cast<int>(StatusCode::cancelled));
static_assert(WA_DEVICE_LOST == static_cast<int>(StatusCode::device_lost));
static_assert(WA_INTERNAL == static_cast<int>(StatusCode::internal));

// The JS driver writes this struct field by field (js/src/native.ts).
static_assert(offsetof(wa_sampler_params, temperature) == 0);
static_assert(offsetof(wa_sampler_params, top_k) == 4);
static_assert(offsetof(wa_sampler_params, top_p) == 8);
static_assert(offsetof(wa_sampler_params, min_p) == 12);
static_assert(offsetof(wa_sampler_params, repeat_penalty) == 16);
static_assert(offsetof(wa_sampler_params, repeat_last_n) == 20);
static_assert(offsetof(wa_sampler_params, seed) == 24);
static_assert(sizeof(wa_sampler_params) == 32);
static_assert(offsetof(wa_gpu_device_config, max_storage_binding) == 8);
static_assert(offsetof(wa_gpu_device_config, max_workgroup_storage) == 16);
static_assert(offsetof(wa_gpu_device_config, max_storage_buffers) == 36);
static_assert(offsetof(wa_gpu_device_config, shader_f16) == 40);
static_assert(offsetof(wa_gpu_device_config, lazy_pipelines) == 48);
static_assert(offsetof(wa_gpu_device_config, subgroup_min_size) == 56);
static_assert(offsetof(wa_gpu_device_config, matvec_tuning) == 60);
static_assert(offsetof(wa_gpu_device_config, l2_warm) == 64);
static_assert(offsetof(wa_gpu_device_config, few_token_prompt) == 68);
static_assert(sizeof(wa_gpu_device_config) == 72);

// Holder of a handle's last error message.
struct ErrorSlot {
  mutable std::string message;
  wa_status set(const Status& st) const {
    message = st.ok() ? std::string() : st.to_string();
    return static_cast<wa_status>(st.code());
  }
};

thread_local std::string g_last_error;

// Runs fn, turning an escaping exception (allocation failure inside a
// standard container) into a status instead of a crash.
template <class Fn>
Status guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return wa::out_of_memory("allocation failed");
  } catch (const std::exception& e) {
    return wa::internal_error(std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return wa::internal_error("unexpected exception");
  }
}

void json_escape(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += wa::strformat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_memory_entries(std::string& out, const wa::MemoryTracker& t, const char* owner, bool& first) {
  for (const auto& e : t.entries()) {
    if (!first) out += ',';
    first = false;
    out += "{\"owner\":";
    json_escape(out, owner);
    out += ",\"component\":";
    json_escape(out, e.component);
    out += wa::strformat(",\"category\":\"%s\",\"current\":%zu,\"peak\":%zu,\"mapped\":%s}",
                         wa::mem_category_name(e.category), e.current, e.peak, e.mapped ? "true" : "false");
  }
}

}  // namespace

// Handles. The engine owns the backend (one thread pool: a wasm build with
// threads has a fixed pool of workers, so models must not each start their
// own) and the accounting of its activations; a model owns its file bytes,
// and the accounting of its weights and of its sessions' KV caches.
struct wa_engine {
  ErrorSlot err;
  int32_t n_threads = 1;
  std::unique_ptr<wa::MemoryTracker> tracker = std::make_unique<wa::MemoryTracker>();
  std::unique_ptr<wa::Backend> backend;          // CPU: always present
  std::unique_ptr<wa::gpu::WebGpuBackend> gpu;  // WebGPU engines only
  wa::gpu::DeviceConfig gpu_config;             // the device gpu records for
  bool lazy_pipelines = false;
  std::vector<wa_model*> models;  // live, for the memory report
  std::string json;
};

struct wa_model {
  ErrorSlot err;
  wa_engine* engine = nullptr;
  uint8_t* bytes = nullptr;  // from wa_alloc; freed after `loaded`; null when streamed
  uint64_t size = 0;         // of the file
  std::unique_ptr<wa::MemoryTracker> tracker = std::make_unique<wa::MemoryTracker>();
  wa::LoadedModel loaded;
  wa::Backend* backend = nullptr;  // the engine's CPU or WebGPU backend
  std::string backend_reason;
  std::vector<int32_t> ids;
  std::string text;
  std::string json;
  // A streamed file's hot ids (formats/hot_rows.h), which went from the
  // source to the device unread: the upload's stream reads them back here
  // and wa_session_create checks them (the loader checks them in files it
  // has the bytes of). Empty once checked, or when there is nothing to check.
  std::vector<uint8_t> unchecked_hot_ids;
  bool on_gpu() const { return engine->gpu && backend == engine->gpu.get(); }
  ~wa_model() {
    if (on_gpu()) engine->gpu->release_weights(*loaded.file, tracker.get());
    loaded = wa::LoadedModel();  // the parsed file points into bytes
    wa_free(bytes);
  }
};

struct wa_session {
  ErrorSlot err;
  wa_model* model = nullptr;
  std::unique_ptr<wa::Session> session;
  std::atomic<bool> cancel{false};
};

struct wa_sampler {
  explicit wa_sampler(const wa::SamplerParams& p) : sampler(p) {}
  wa::Sampler sampler;
};

struct wa_decoder {
  wa_decoder(const wa::Tokenizer& t, bool start) : dec(t, start) {}
  wa::StreamDecoder dec;
  std::string text;
};

namespace {

// The graphs a model's sessions run on the GPU (one decode step with the
// greedy and the sampled choice of its token, and the choice over a
// repetition penalty's window; one prompt batch) over a 2-position device KV
// cache, each handed to fn.
template <class Fn>
Status for_each_load_graph(const wa::Model& model, wa::gpu::WebGpuBackend& gpu, Fn&& fn) {
  const wa::DType kv_type = model.weight_type() == wa::DType::f32 ? wa::DType::f32 : wa::DType::f16;
  auto kv = wa::KvCache::create(model.kv_layout(), 2, kv_type, nullptr, &gpu);
  WA_TRY(kv.status());
  const size_t window_words = wa::penalty_window_words(1);
  WA_ASSIGN_OR_RETURN(const uint32_t window_buffer,
                      gpu.create_buffer(window_words * sizeof(int32_t), "load", wa::MemCategory::activations, nullptr));
  struct Release {  // (the buffer goes with the scratch graphs, whatever fn returns)
    wa::gpu::WebGpuBackend& gpu;
    uint32_t id;
    ~Release() { gpu.release_buffer(id); }
  } release{gpu, window_buffer};
  for (int n_tokens : {1, 2}) {
    const int32_t zeros[2] = {0, 0}, positions[2] = {0, 1};
    wa::ForwardSpec spec;
    spec.n_tokens = n_tokens;
    spec.token_ids = zeros;
    spec.positions = positions;
    wa::Graph g;
    WA_ASSIGN_OR_RETURN(wa::Node * out, model.build_forward(g, spec, kv.value()));
    if (n_tokens == 1) {  // greedy and sampled decoding choose the token on the device
      g.mark_output(g.argmax(out));
      g.mark_output(g.sample(out, wa::SamplingParams{}, 0.5f));
      wa::Node* window = g.leaf("penalty_window", wa::DType::i32, {static_cast<int64_t>(window_words)}, nullptr);
      window->device_buffer = window_buffer;
      g.mark_output(g.sample(out, wa::SamplingParams{}, 0.5f, window, 1.1f));
    }
    WA_TRY(fn(g));
  }
  return Status::Ok();
}

// Why the engine's GPU kernels cannot run a loaded model ("" when they can),
// found from types and shapes alone: the weights are recorded and the graphs
// checked on a scratch backend whose stream never runs, so a model that stays
// on the CPU records nothing on the engine's GPU, and a streamed one reads
// nothing of its source.
wa::Result<std::string> gpu_unsupported_reason(const wa_model& m) {
  auto scratch = wa::gpu::make_webgpu_backend(m.engine->gpu_config, nullptr);
  Status st = scratch->upload_weights(*m.loaded.file, nullptr);
  if (st.ok()) st = for_each_load_graph(*m.loaded.model, *scratch, [&](wa::Graph& g) { return scratch->check(g); });
  if (st.ok()) return std::string();
  if (st.code() != StatusCode::unsupported) return st;
  return st.message();
}

// Puts a loaded model's weights on the engine's GPU and creates the pipelines
// its graphs use (unless lazy), or leaves it on the CPU with the reason when
// the GPU kernels cannot run it (a streamed model, without host bytes, cannot
// stay on the CPU: wa_model_load_header asks for the whole file instead).
Status place_on_gpu(wa_model& m) {
  wa::gpu::WebGpuBackend& gpu = *m.engine->gpu;
  WA_ASSIGN_OR_RETURN(std::string why, gpu_unsupported_reason(m));
  if (!why.empty()) {
    m.backend = m.engine->backend.get();
    m.backend_reason = "CPU: " + why;
    return Status::Ok();
  }
  Status st = gpu.upload_weights(*m.loaded.file, m.tracker.get());
  if (st.ok() && !m.engine->lazy_pipelines) {
    st = for_each_load_graph(*m.loaded.model, gpu, [&](wa::Graph& g) { return gpu.precompile(g); });
  }
  const wa::GgufTensorInfo* hot_ids = m.loaded.file->find_tensor(wa::kHotIdsTensor);
  if (st.ok() && hot_ids && !m.loaded.file->has_data()) {
    m.unchecked_hot_ids.resize(hot_ids->size_bytes);
    st = gpu.read_tensor(hot_ids, m.unchecked_hot_ids.data(), m.unchecked_hot_ids.size());
  }
  if (!st.ok()) {
    gpu.release_weights(*m.loaded.file, m.tracker.get());
    return st;
  }
  m.backend = &gpu;
  m.backend_reason = m.engine->lazy_pipelines ? "WebGPU (pipelines created on first use)" : "WebGPU";
  return Status::Ok();
}

// The choice a backend makes for a step's token: greedy without a sampler.
wa::TokenChoice next_choice(wa_sampler* sampler) { return sampler ? sampler->sampler.next_choice() : wa::TokenChoice{}; }

}  // namespace

extern "C" {

const char* wa_status_name(wa_status status) {
  if (status < WA_OK || status > WA_INTERNAL) return "unknown";
  return wa::status_code_name(static_cast<StatusCode>(status));
}

const char* wa_build_info_json(void) {
  static std::string s;
  std::string isas;
  for (auto isa : wa::cpu::kAllIsas) {
    if (!wa::cpu::isa_supported(isa)) continue;
    if (!isas.empty()) isas += ',';
    isas += wa::strformat("\"%s\"", wa::cpu::isa_name(isa));
  }
#if defined(__EMSCRIPTEN_PTHREADS__) || (!defined(__EMSCRIPTEN__) && !defined(__wasm__))
  const bool threads = true;
#else
  const bool threads = false;
#endif
#if defined(__EMSCRIPTEN__)
  const char* target = "wasm32";
#else
  const char* target = "native";
#endif
  s = wa::strformat(
      "{\"version\":\"0.1.0\",\"target\":\"%s\",\"threads\":%s,\"hardware_threads\":%d,\"isa\":\"%s\","
      "\"isas\":[%s]}",
      target, threads ? "true" : "false", wa::ThreadPool::default_threads(),
      wa::cpu::isa_name(wa::cpu::active_isa()), isas.c_str());
  return s.c_str();
}

wa_status wa_set_isa(const char* name) {
  if (!name) return WA_INVALID_ARGUMENT;
  for (auto isa : wa::cpu::kAllIsas) {
    if (std::strcmp(name, wa::cpu::isa_name(isa)) == 0) return wa::cpu::force_isa(isa) ? WA_OK : WA_UNSUPPORTED;
  }
  return WA_INVALID_ARGUMENT;
}

const char* wa_isa(void) { return wa::cpu::isa_name(wa::cpu::active_isa()); }

void* wa_alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < bytes) return nullptr;
  return std::aligned_alloc(64, rounded);
}

void wa_free(void* p) { std::free(p); }

void wa_heap_info(size_t* size, size_t* max, size_t* free_bytes) {
#if defined(__EMSCRIPTEN__)
  const size_t s = emscripten_get_heap_size(), m = emscripten_get_heap_max();
  // mallinfo walks the allocator's chunks: fine once per model load.
  const size_t f = static_cast<size_t>(mallinfo().fordblks);
#else
  const size_t s = 0, m = 0, f = 0;
#endif
  if (size) *size = s;
  if (max) *max = m;
  if (free_bytes) *free_bytes = f;
}

const char* wa_last_error(void) { return g_last_error.c_str(); }

// ---- engine ----------------------------------------------------------------

wa_status wa_engine_create(int32_t n_threads, wa_engine** out) {
  if (!out) return WA_INVALID_ARGUMENT;
  *out = nullptr;
  if (n_threads < 0 || n_threads > 1024) {
    g_last_error = wa::strformat("invalid_argument: thread count %d is out of range (0..1024)", n_threads);
    return WA_INVALID_ARGUMENT;
  }
  wa_engine* e = nullptr;
  Status st = guarded([&]() -> Status {
    auto owned = std::make_unique<wa_engine>();
    owned->n_threads = n_threads > 0 ? n_threads : wa::ThreadPool::default_threads();
    owned->backend = wa::make_cpu_backend({owned->n_threads, owned->tracker.get()});
    e = owned.release();
    return Status::Ok();
  });
  if (!st.ok()) {
    g_last_error = st.to_string();
    return static_cast<wa_status>(st.code());
  }
  *out = e;
  return WA_OK;
}

wa_status wa_engine_create_webgpu(int32_t n_threads, const wa_gpu_device_config* config, wa_engine** out) {
  if (!out || !config) return WA_INVALID_ARGUMENT;
  const wa_status st = wa_engine_create(n_threads, out);
  if (st != WA_OK) return st;
  const auto c = wa::gpu::device_config_from(*config);
  if (!c.ok()) {
    wa_engine_release(*out);
    *out = nullptr;
    g_last_error = c.status().to_string();
    return static_cast<wa_status>(c.status().code());
  }
  (*out)->gpu_config = c.value();
  (*out)->gpu = wa::gpu::make_webgpu_backend(c.value(), (*out)->tracker.get());
  (*out)->lazy_pipelines = config->lazy_pipelines != 0;
  return WA_OK;
}

uint32_t wa_engine_gpu_stream(wa_engine* engine, const uint32_t** words) {
  if (words) *words = nullptr;
  if (!engine || !engine->gpu || !words) return 0;
  const std::vector<uint32_t>& w = engine->gpu->take_stream();
  *words = w.data();
  return static_cast<uint32_t>(w.size());
}

void wa_engine_gpu_stream_done(wa_engine* engine) {
  if (engine && engine->gpu) engine->gpu->stream_done();
}

int32_t wa_engine_gpu_pipelines(const wa_engine* engine) {
  return engine && engine->gpu ? engine->gpu->n_pipelines() : 0;
}

int32_t wa_engine_gpu_dispatches(const wa_engine* engine) {
  return engine && engine->gpu ? static_cast<int32_t>(engine->gpu->recorded_dispatches()) : 0;
}

void wa_engine_release(wa_engine* engine) {
  if (!engine) return;
  // Models still open would point at a freed backend: release them first.
  for (wa_model* m : std::vector<wa_model*>(engine->models)) wa_model_release(m);
  delete engine;
}

int32_t wa_engine_threads(const wa_engine* engine) { return engine ? engine->n_threads : 0; }

const char* wa_engine_last_error(const wa_engine* engine) { return engine ? engine->err.message.c_str() : ""; }

const char* wa_engine_memory_json(wa_engine* engine) {
  if (!engine) return "{}";
  size_t current = engine->tracker->current_total(), peak = engine->tracker->peak_total();
  std::string entries;
  bool first = true;
  append_memory_entries(entries, *engine->tracker, "engine", first);
  for (size_t i = 0; i < engine->models.size(); ++i) {
    const wa::MemoryTracker& t = *engine->models[i]->tracker;
    current += t.current_total();
    peak += t.peak_total();
    append_memory_entries(entries, t, wa::strformat("model%zu", i).c_str(), first);
  }
  engine->json = wa::strformat("{\"current\":%zu,\"peak\":%zu,\"entries\":[", current, peak) + entries + "]}";
  return engine->json.c_str();
}

// ---- model -----------------------------------------------------------------

wa_status wa_model_load(wa_engine* engine, uint8_t* data, size_t size, wa_model** out) {
  if (out) *out = nullptr;
  if (!engine) {
    wa_free(data);
    return WA_INVALID_ARGUMENT;
  }
  if (!out || !data) {
    wa_free(data);
    return engine->err.set(wa::invalid_argument("wa_model_load: no data or no output handle"));
  }
  wa_model* result = nullptr;
  Status st = guarded([&]() -> Status {
    auto m = std::make_unique<wa_model>();
    m->engine = engine;
    m->bytes = data;
    m->size = size;
    data = nullptr;  // owned by m from here on, freed with it on failure
    auto file = wa::GgufFile::from_memory(m->bytes, m->size);
    if (!file.ok()) return file.status().with_context("model");
    wa::LoadOptions lo;
    lo.tracker = m->tracker.get();
    WA_ASSIGN_OR_RETURN(m->loaded, wa::load_model(std::move(file).value(), "model", lo));
    m->backend = engine->backend.get();
    m->backend_reason = engine->gpu ? "" : "CPU engine";
    if (engine->gpu) WA_TRY(place_on_gpu(*m));
    // On the CPU the model's own bytes may take the CPU kernels' layout; a
    // model on the GPU keeps the file's (its host copy serves a device loss).
    if (!m->on_gpu()) wa::repack_weights_for_cpu(m->loaded);
    engine->models.push_back(m.get());
    result = m.release();
    return Status::Ok();
  });
  wa_free(data);  // only when the model never took it
  if (!st.ok()) return engine->err.set(st);
  *out = result;
  return WA_OK;
}

wa_status wa_model_load_header(wa_engine* engine, const uint8_t* data, size_t size, double file_size, double* need,
                               wa_model** out) {
  if (out) *out = nullptr;
  if (need) *need = 0;
  if (!engine) return WA_INVALID_ARGUMENT;
  // Sizes travel as doubles (exact to 2^53) so that JS passes them as numbers.
  if (!out || !need || !data || !(file_size >= 0 && file_size <= 9007199254740992.0) ||
      static_cast<double>(size) > file_size) {
    return engine->err.set(wa::invalid_argument("wa_model_load_header: bad arguments"));
  }
  const uint64_t fsize = static_cast<uint64_t>(file_size);
  wa_model* result = nullptr;
  std::string in_memory_reason;  // set when the model needs its bytes in memory
  Status st = guarded([&]() -> Status {
    if (!engine->gpu) {
      in_memory_reason = "a CPU engine reads weights from memory";
      return Status::Ok();
    }
    uint64_t more = 0;
    auto file = wa::GgufFile::from_header(data, size, fsize, &more);
    if (!file.ok() && more > size) {
      *need = static_cast<double>(more);
      return Status::Ok();
    }
    if (!file.ok()) return file.status().with_context("model");
    auto m = std::make_unique<wa_model>();
    m->engine = engine;
    m->size = fsize;
    wa::LoadOptions lo;
    lo.tracker = m->tracker.get();
    WA_ASSIGN_OR_RETURN(m->loaded, wa::load_model(std::move(file).value(), "model", lo));
    m->backend = engine->backend.get();
    // The CPU would need the weights in memory: decided before any is read.
    WA_ASSIGN_OR_RETURN(std::string why, gpu_unsupported_reason(*m));
    if (!why.empty()) {
      in_memory_reason = "CPU: " + why;
      return Status::Ok();
    }
    WA_TRY(place_on_gpu(*m));
    engine->models.push_back(m.get());
    result = m.release();
    return Status::Ok();
  });
  if (!st.ok()) return engine->err.set(st);
  if (!in_memory_reason.empty()) {
    *need = file_size;
    engine->err.message = in_memory_reason;
  }
  *out = result;
  return WA_OK;
}

const char* wa_model_backend(const wa_model* model) { return !model ? "" : model->on_gpu() ? "webgpu" : "cpu"; }

const char* wa_model_backend_reason(const wa_model* model) { return model ? model->backend_reason.c_str() : ""; }

void wa_model_use_cpu(wa_model* model) {
  if (!model || !model->on_gpu()) return;
  model->engine->gpu->release_weights(*model->loaded.file, model->tracker.get());
  model->backend = model->engine->backend.get();
  model->backend_reason = "the WebGPU device was lost; running on the CPU";
  // Streamed weights were only on the device: nothing is left to run.
  if (!model->loaded.file->has_data()) {
    model->backend = nullptr;
    model->backend_reason = "the WebGPU device was lost with the model's weights (streamed, no host copy); load it again";
  }
}

void wa_model_release(wa_model* model) {
  if (!model) return;
  auto& v = model->engine->models;
  v.erase(std::remove(v.begin(), v.end(), model), v.end());
  delete model;
}

const char* wa_model_last_error(const wa_model* model) { return model ? model->err.message.c_str() : ""; }

int32_t wa_model_n_vocab(const wa_model* model) { return model ? model->loaded.model->n_vocab() : 0; }

int32_t wa_model_bos(const wa_model* model) {
  if (!model) return -1;
  const wa::LoadedModel& m = model->loaded;
  if (m.tokenizer && m.tokenizer->bos_id() >= 0) return m.tokenizer->bos_id();
  if (auto v = m.file->get_int("tokenizer.ggml.bos_token_id")) return static_cast<int32_t>(*v);
  return 1;
}

int32_t wa_model_is_end_of_generation(const wa_model* model, int32_t id) {
  return model && model->loaded.tokenizer && model->loaded.tokenizer->is_end_of_generation(id) ? 1 : 0;
}

const char* wa_model_info_json(wa_model* model) {
  if (!model) return "{}";
  const wa::LoadedModel& lm = model->loaded;
  const wa::Tokenizer* tok = lm.tokenizer.get();
  std::string& s = model->json;
  s = "{\"arch\":";
  json_escape(s, lm.model->arch());
  s += wa::strformat(",\"n_vocab\":%d,\"n_ctx_train\":%d,\"n_params\":%lld,\"file_size\":%llu,\"n_tensors\":%zu",
                     lm.model->n_vocab(), lm.model->n_ctx_train(), static_cast<long long>(lm.model->n_params()),
                     static_cast<unsigned long long>(model->size), lm.file->tensors().size());
  s += ",\"weight_type\":";
  json_escape(s, wa::dtype_name(lm.model->weight_type()));
  s += wa::strformat(",\"has_tokenizer\":%s,\"streamed\":%s", tok ? "true" : "false",
                     lm.file->has_data() ? "false" : "true");
  s += ",\"tokenizer\":";
  json_escape(s, tok ? tok->vocab().model : "");
  s += wa::strformat(",\"bos_id\":%d,\"eos_id\":%d,\"hparams\":{", wa_model_bos(model), tok ? tok->eos_id() : -1);
  bool first = true;
  for (const auto& [k, v] : lm.model->describe()) {
    if (!first) s += ',';
    first = false;
    json_escape(s, k);
    s += ':';
    json_escape(s, v);
  }
  s += "}}";
  return s.c_str();
}

wa_status wa_model_tokenize(wa_model* model, const char* text, size_t len, int32_t flags, const int32_t** ids,
                            int32_t* n_ids) {
  if (!model) return WA_INVALID_ARGUMENT;
  if (ids) *ids = nullptr;
  if (n_ids) *n_ids = 0;
  if (!ids || !n_ids || (!text && len > 0)) return model->err.set(wa::invalid_argument("tokenize: null argument"));
  const wa::Tokenizer* tok = model->loaded.tokenizer.get();
  if (!tok) return model->err.set(wa::invalid_argument("this model has no tokenizer"));
  Status st = guarded([&]() -> Status {
    wa::Tokenizer::EncodeOptions o;
    o.add_bos = (flags & WA_TOKENIZE_ADD_BOS) || ((flags & WA_TOKENIZE_DEFAULT_BOS) && tok->add_bos_by_default());
    o.parse_special = (flags & WA_TOKENIZE_PARSE_SPECIAL) != 0;
    model->ids = tok->encode(std::string_view(text ? text : "", len), o);
    return Status::Ok();
  });
  if (!st.ok()) return model->err.set(st);
  *ids = model->ids.data();
  *n_ids = static_cast<int32_t>(model->ids.size());
  return WA_OK;
}

wa_status wa_model_detokenize(wa_model* model, const int32_t* ids, int32_t n_ids, int32_t keep_special,
                              const char** text, size_t* len) {
  if (!model) return WA_INVALID_ARGUMENT;
  if (text) *text = "";
  if (len) *len = 0;
  if (!text || !len || n_ids < 0 || (!ids && n_ids > 0)) {
    return model->err.set(wa::invalid_argument("detokenize: bad arguments"));
  }
  const wa::Tokenizer* tok = model->loaded.tokenizer.get();
  if (!tok) return model->err.set(wa::invalid_argument("this model has no tokenizer"));
  Status st = guarded([&]() -> Status {
    model->text = tok->decode(std::vector<int32_t>(ids, ids + n_ids), keep_special == 0);
    return Status::Ok();
  });
  if (!st.ok()) return model->err.set(st);
  *text = model->text.c_str();
  *len = model->text.size();
  return WA_OK;
}

// ---- session ---------------------------------------------------------------

wa_status wa_session_create(wa_model* model, int32_t n_ctx, int32_t kv_type, wa_session** out) {
  if (!model) return WA_INVALID_ARGUMENT;
  if (!out) return model->err.set(wa::invalid_argument("session: no output handle"));
  *out = nullptr;
  if (n_ctx < 0) return model->err.set(wa::invalid_argument(wa::strformat("context size %d is negative", n_ctx)));
  if (!model->backend) return model->err.set(Status(StatusCode::device_lost, model->backend_reason));
  if (!model->unchecked_hot_ids.empty()) {  // the upload's stream has run: its readback is in place
    const wa::GgufTensorInfo& ids = *model->loaded.file->find_tensor(wa::kHotIdsTensor);
    const Status st = wa::validate_hot_ids(model->unchecked_hot_ids.data(), ids.ne[0], model->loaded.model->n_vocab());
    if (!st.ok()) return model->err.set(st.with_context("model"));
    model->unchecked_hot_ids = {};
  }
  wa::SessionOptions so;
  so.n_ctx = n_ctx;
  so.tracker = model->tracker.get();
  switch (kv_type) {
    case WA_KV_AUTO: so.kv_type = std::nullopt; break;  // the session decides from the weight type
    case WA_KV_F32: so.kv_type = wa::DType::f32; break;
    case WA_KV_F16: so.kv_type = wa::DType::f16; break;
    default: return model->err.set(wa::invalid_argument(wa::strformat("unknown KV cache type %d", kv_type)));
  }
  wa_session* result = nullptr;
  Status st = guarded([&]() -> Status {
    auto s = std::make_unique<wa_session>();
    s->model = model;
    WA_ASSIGN_OR_RETURN(s->session, wa::Session::create(*model->loaded.model, *model->backend, so));
    result = s.release();
    return Status::Ok();
  });
  if (!st.ok()) return model->err.set(st);
  *out = result;
  return WA_OK;
}

void wa_session_release(wa_session* session) { delete session; }

const char* wa_session_last_error(const wa_session* session) { return session ? session->err.message.c_str() : ""; }

wa_status wa_session_eval(wa_session* session, const int32_t* ids, int32_t n_ids, int32_t all_logits) {
  if (!session) return WA_INVALID_ARGUMENT;
  if (n_ids <= 0 || !ids) return session->err.set(wa::invalid_argument("eval needs at least one token"));
  Status st = guarded([&]() -> Status {
    wa::Session& s = *session->session;
    // Ids are checked up front so that a bad id in a later batch does not
    // leave the earlier batches in the cache.
    const int32_t n_vocab = s.n_vocab();
    for (int32_t i = 0; i < n_ids; ++i) {
      if (ids[i] < 0 || ids[i] >= n_vocab) {
        return wa::invalid_argument(
            wa::strformat("token id %d is out of range (vocabulary has %d tokens)", ids[i], n_vocab));
      }
    }
    if (all_logits) {
      if (session->cancel.exchange(false)) return wa::cancelled("evaluation cancelled");
      return s.eval(std::span<const int32_t>(ids, static_cast<size_t>(n_ids)), true);
    }
    // Batches of the session's size, with a cancellation check between them.
    // The context check comes first so a prompt that cannot fit changes nothing.
    if (s.n_past() + static_cast<int64_t>(n_ids) > s.n_ctx()) {
      return wa::invalid_argument(wa::strformat("context is full: %d past + %d new tokens exceed n_ctx %d",
                                                s.n_past(), n_ids, s.n_ctx()));
    }
    constexpr int32_t kBatch = 512;
    for (int32_t start = 0; start < n_ids; start += kBatch) {
      if (session->cancel.exchange(false)) return wa::cancelled("evaluation cancelled");
      const int32_t n = std::min(kBatch, n_ids - start);
      WA_TRY(s.eval(std::span<const int32_t>(ids + start, static_cast<size_t>(n)), false));
    }
    return Status::Ok();
  });
  return session->err.set(st);
}

wa_status wa_session_eval_choose(wa_session* session, wa_sampler* sampler, const int32_t* ids, int32_t n_ids) {
  if (!session) return WA_INVALID_ARGUMENT;
  if (n_ids <= 0 || !ids) return session->err.set(wa::invalid_argument("eval needs at least one token"));
  Status st = guarded([&]() -> Status {
    if (session->cancel.exchange(false)) return wa::cancelled("evaluation cancelled");
    return session->session->eval_choose(std::span<const int32_t>(ids, static_cast<size_t>(n_ids)), next_choice(sampler));
  });
  return session->err.set(st);
}

int32_t wa_session_chosen(const wa_session* session) { return session ? session->session->chosen() : -1; }

wa_status wa_session_eval_choose_chained(wa_session* session, wa_sampler* sampler, int32_t* id_out) {
  if (!session) return WA_INVALID_ARGUMENT;
  Status st = guarded([&]() -> Status {
    if (session->cancel.exchange(false)) return wa::cancelled("evaluation cancelled");
    return session->session->eval_choose_chained(id_out, next_choice(sampler));
  });
  return session->err.set(st);
}

wa_status wa_session_rewind(wa_session* session, int32_t n) {
  if (!session) return WA_INVALID_ARGUMENT;
  return session->err.set(session->session->rewind(n));
}

const float* wa_session_logits(const wa_session* session, int32_t i) {
  if (!session || i >= session->session->n_logits()) return nullptr;
  return session->session->logits(i);
}

int32_t wa_session_n_logits(const wa_session* session) { return session ? session->session->n_logits() : 0; }
int32_t wa_session_n_past(const wa_session* session) { return session ? session->session->n_past() : 0; }
int32_t wa_session_n_ctx(const wa_session* session) { return session ? session->session->n_ctx() : 0; }

void wa_session_reset(wa_session* session) {
  if (!session) return;
  session->session->reset();
  session->cancel.store(false);
}

void wa_session_cancel(wa_session* session) {
  if (session) session->cancel.store(true);
}

// ---- sampler ---------------------------------------------------------------

void wa_sampler_params_default(wa_sampler_params* p) {
  if (!p) return;
  const wa::SamplerParams d;
  p->temperature = d.temperature;
  p->top_k = d.top_k;
  p->top_p = d.top_p;
  p->min_p = d.min_p;
  p->repeat_penalty = d.repeat_penalty;
  p->repeat_last_n = d.repeat_last_n;
  p->seed = d.seed;
}

wa_status wa_sampler_create(const wa_sampler_params* params, wa_sampler** out) {
  if (!out) return WA_INVALID_ARGUMENT;
  *out = nullptr;
  wa::SamplerParams p;
  if (params) {
    if (params->repeat_last_n < 0) return WA_INVALID_ARGUMENT;
    p.temperature = params->temperature;
    p.top_k = params->top_k;
    p.top_p = params->top_p;
    p.min_p = params->min_p;
    p.repeat_penalty = params->repeat_penalty;
    p.repeat_last_n = params->repeat_last_n;
    p.seed = params->seed;
  }
  wa_sampler* s = new (std::nothrow) wa_sampler(p);
  if (!s) return WA_OUT_OF_MEMORY;
  *out = s;
  return WA_OK;
}

void wa_sampler_release(wa_sampler* sampler) { delete sampler; }

int32_t wa_sampler_sample(wa_sampler* sampler, const wa_session* session) {
  if (!sampler || !session) return -1;
  const float* logits = session->session->logits();
  if (!logits) return -1;
  return sampler->sampler.sample(logits, session->session->n_vocab());
}

void wa_sampler_accept(wa_sampler* sampler, int32_t id) {
  if (sampler) sampler->sampler.accept(id);
}

void wa_sampler_reset(wa_sampler* sampler) {
  if (sampler) sampler->sampler.reset();
}

int32_t wa_sampler_on_device(const wa_sampler* sampler, const wa_session* session) {
  if (!sampler || !session) return 0;
  return sampler->sampler.choice_on_device(session->session->n_vocab()) ? 1 : 0;
}

// ---- decoder ---------------------------------------------------------------

wa_status wa_decoder_create(wa_model* model, int32_t at_sequence_start, wa_decoder** out) {
  if (!model) return WA_INVALID_ARGUMENT;
  if (!out) return model->err.set(wa::invalid_argument("decoder: no output handle"));
  *out = nullptr;
  if (!model->loaded.tokenizer) return model->err.set(wa::invalid_argument("this model has no tokenizer"));
  wa_decoder* d = new (std::nothrow) wa_decoder(*model->loaded.tokenizer, at_sequence_start != 0);
  if (!d) return model->err.set(wa::out_of_memory("decoder"));
  *out = d;
  return WA_OK;
}

void wa_decoder_release(wa_decoder* decoder) { delete decoder; }

void wa_decoder_push(wa_decoder* decoder, int32_t id, const char** text, size_t* len) {
  if (!decoder) {
    if (text) *text = "";
    if (len) *len = 0;
    return;
  }
  decoder->text = decoder->dec.push(id);
  if (text) *text = decoder->text.c_str();
  if (len) *len = decoder->text.size();
}

void wa_decoder_flush(wa_decoder* decoder, const char** text, size_t* len) {
  if (!decoder) {
    if (text) *text = "";
    if (len) *len = 0;
    return;
  }
  decoder->text = decoder->dec.flush();
  if (text) *text = decoder->text.c_str();
  if (len) *len = decoder->text.size();
}

}  // extern "C"
