// The WebGPU backend: runs graphs on a GPU through WGSL kernels, without
// touching a GPU API itself. It records a command stream
// (command_stream.h) that the JS driver (js/src/gpu/driver.ts) replays
// against a GPUDevice, then hands results back into wasm memory. Everything
// a GPU program needs is decided here: buffers (weights, KV caches, the
// activation arena, uniforms, inputs), pipelines (WGSL from shaders/, with
// each kernel's parameter struct generated from kernel_params.h), bindings
// and the dispatch order.
//
// Life of a step: the session builds a graph and calls compute(), which
// records dispatches; read_output() records readbacks; the owner (C API)
// takes the stream with take_stream(), the JS driver executes it and awaits
// the readbacks, and stream_done() releases what the step staged. Nothing
// here blocks on the GPU.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/webgpu/command_stream.h"
#include "formats/gguf.h"
#include "webaccel/webaccel.h"

namespace wa::gpu {

// What the device offers (filled by the JS driver from the GPUAdapter and
// the limits it requested) and what the chosen profile uses.
struct DeviceConfig {
  uint64_t max_buffer_size = 256ull << 20;
  uint64_t max_storage_binding = 128ull << 20;
  uint32_t max_workgroup_storage = 16384;
  uint32_t max_invocations = 256;
  uint32_t max_workgroups_per_dim = 65535;
  uint32_t min_storage_align = 256;
  uint32_t min_uniform_align = 256;
  uint32_t max_storage_buffers = 8;
  bool shader_f16 = false;
  bool subgroups = false;
  bool packed_dot = false;  // WGSL's packed_4x8_integer_dot_product (dot4I8Packed)
  // The smallest subgroup the device may run (GPUAdapterInfo.subgroupMinSize;
  // 0 where unknown): sizes the subgroup matvecs' workgroup memory.
  uint32_t subgroup_min_size = 0;
  // The split decode attention's extra workgroups read the next matvec's
  // weights into L2 (l2_warm.wgsl), and the o projection's the start of the
  // next SwiGLU's (mv4_warm.wgsl): where the cache holds them until then
  // (measured on an H100); elsewhere the reads would only add traffic.
  bool l2_warm = false;
  // Benchmarks only: rows per group, blocks in flight and groups for every int8-x
  // decode matvec instead of the backend's choice (0: none; see
  // wa_gpu_device_config.matvec_tuning).
  uint32_t matvec_rows = 0;
  uint32_t matvec_blocks_in_flight = 0;
  uint32_t matvec_groups = 0;  // 32-lane groups per workgroup; 0: the backend's (8)
  uint32_t matvec_unit = 0;    // consecutive blocks per lane and unit; 0: the backend's
  // Benchmarks only: the longest prompt whose matrices run as few-token
  // matvecs (0: the backend's kFewTokenPrompt; 1: none).
  uint32_t few_token_prompt = 0;
};

// The C API's description of a device (filled by the JS driver, or by a test
// that wants smaller limits than the device has) as a DeviceConfig;
// `unsupported` when a limit is below what the kernels need.
Result<DeviceConfig> device_config_from(const wa_gpu_device_config& c);

class WebGpuBackend : public Backend, public DeviceMemory {
 public:
  virtual ~WebGpuBackend() = default;

  // Records the upload of every tensor of `file` that a graph may use, in
  // file order: from the file's bytes in wasm memory when the stream runs,
  // or, for a file opened from its header (no data), from the model's source
  // (upload_from_source). Graph leaves whose weight_id is a tensor's
  // GgufTensorInfo then read the device copy. Tensors of types the kernels
  // lack make this fail with `unsupported` before anything is recorded.
  virtual Status upload_weights(const GgufFile& file, MemoryTracker* tracker) = 0;
  // Releases the device copies of a file's tensors (model unload).
  virtual void release_weights(const GgufFile& file, MemoryTracker* tracker) = 0;
  // Where a tensor's bytes come from when the stream runs: wasm memory
  // (`host`, valid until the stream has run), or else the model's source at
  // `file_offset`.
  struct TensorSource {
    const void* host = nullptr;
    uint64_t file_offset = 0;
  };
  // One tensor of `rows` rows of ne0 elements of `type` (GGUF's bytes), as
  // upload_weights records it for each tensor of a file: graph leaves whose
  // weight_id is `id` then read the device copy. Tests upload single tensors so.
  virtual Status upload_tensor(const void* id, const TensorSource& source, DType type, int64_t ne0, int64_t rows,
                               MemoryTracker* tracker) = 0;
  virtual void release_tensor(const void* id) = 0;
  // Records the readback of `bytes` of a tensor's device copy into dst when
  // the stream runs: tensors of one buffer kept in the file's layout (f32,
  // f16, i32). A streamed file's hot ids are read back so for their check.
  virtual Status read_tensor(const void* id, void* dst, size_t bytes) = 0;
  // The device buffers a tensor was split into (binding and grid limits);
  // 0 when `id` is not on the device.
  virtual uint32_t tensor_parts(const void* id) const = 0;
  // Records the creation of every pipeline `graph` needs, without running it
  // (pipeline precompilation at load time).
  virtual Status precompile(Graph& graph) = 0;
  // Whether every node of `graph` has a kernel (unsupported: which not).
  virtual Status check(const Graph& graph) const = 0;
  // With lazy pipelines, pipelines are created by the first graph that needs
  // them (for measuring what precompilation saves).
  virtual int n_pipelines() const = 0;

  // The stream recorded since the last stream_done(), ready for the driver.
  virtual const std::vector<uint32_t>& take_stream() = 0;
  // The driver has executed the stream and completed its readbacks.
  virtual void stream_done() = 0;
  // Dispatches recorded since the last stream_done (statistics).
  virtual uint32_t recorded_dispatches() const = 0;
  // Of those, the dispatches of fused decode kernels (matvec4_glu, matvec4_multi, rope_kv).
  virtual uint32_t recorded_fused_dispatches() const = 0;
  // Of those, the dispatches of kernels reducing with subgroup operations (`_sg` pipelines).
  virtual uint32_t recorded_subgroup_dispatches() const = 0;
  // Of those, the split decode attentions that warm the L2 cache for their o projection (l2_warm.wgsl)
  // and the o projections that warm it for the next SwiGLU (mv4_warm.wgsl).
  virtual uint32_t recorded_l2_warm_dispatches() const = 0;
  // Of those, the prompts' matrix products run as few-token matvecs (matvec4 with T columns).
  virtual uint32_t recorded_few_token_dispatches() const = 0;
};

std::unique_ptr<WebGpuBackend> make_webgpu_backend(const DeviceConfig& config, MemoryTracker* tracker);

}  // namespace wa::gpu
