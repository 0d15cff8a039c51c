// The command stream: how the C++ WebGPU backend tells the JS driver
// (js/src/gpu/driver.ts) what to do. C++ decides every buffer, pipeline,
// binding and dispatch; JS only replays the stream against a GPUDevice
// (navigator.gpu in browsers, Dawn's `webgpu` package in Node), so no kernel
// logic lives in JS and the same recording runs anywhere.
//
// The stream is a flat array of 32-bit words: [opcode, word count of the
// payload, payload...]. Pointers are offsets into the wasm linear memory
// (native builds record them too, for tests of the recording). Offsets and
// sizes are u32: a single buffer never exceeds maxStorageBufferBindingSize,
// which is below 4 GiB everywhere. Offsets into the model file are u64, as
// two words (low, high).
//
// Ordering: commands take effect in stream order. The driver encodes
// dispatches and copies into one command encoder and submits it when the
// stream ends, when a write_buffer follows encoded work (queue writes would
// otherwise overtake it), or at an explicit submit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wa::gpu {

enum class Cmd : uint32_t {
  // id, size, usage (BufferUsage bits)
  create_buffer = 1,
  // id
  destroy_buffer = 2,
  // id, dst_offset, src_ptr, size: copies size bytes of wasm memory into the buffer
  write_buffer = 3,
  // id, layout (BindingLayout bits, see below), n_bindings, src_ptr, src_len, label_ptr, label_len:
  // creates a compute pipeline from WGSL source (entry point "main") with createComputePipelineAsync;
  // the driver awaits every pending creation before the first dispatch that needs it.
  create_pipeline = 4,
  // pipeline, x, y, z, uniform_offset, n_buffers, buffer ids...:
  // binding i (0 <= i < n_buffers) is the whole of buffer i, the last binding
  // is the uniform arena at uniform_offset (a dynamic offset).
  dispatch = 5,
  // src, src_offset, dst, dst_offset, size
  copy_buffer = 6,
  // buffer, offset, size, dst_ptr: after the work before it completes, copies
  // the bytes into wasm memory at dst_ptr (mapAsync on a staging buffer).
  readback = 7,
  // (no payload) ends the current command buffer
  submit = 8,
  // id, dst_offset, file_offset_lo, file_offset_hi, size: copies size bytes of
  // the model file being loaded, from file_offset on, into the buffer (weights
  // streamed from their source, never all in wasm memory). A stream's
  // upload_from_source commands come in increasing file order and never
  // overlap, so the driver can read a URL or stream front to back.
  upload_from_source = 9,
};

// GPUBufferUsage bits, with WebGPU's values.
enum BufferUsage : uint32_t {
  kUsageMapRead = 0x0001,
  kUsageCopySrc = 0x0004,
  kUsageCopyDst = 0x0008,
  kUsageUniform = 0x0040,
  kUsageStorage = 0x0080,
};

// Pipeline layouts: bit i set means storage binding i is read-write
// (otherwise read-only storage). The uniform binding follows the storage
// ones and has a dynamic offset, so one bind group serves every dispatch of
// a pipeline over the same buffers whatever its parameters.
constexpr uint32_t kMaxStorageBindings = 8;

// The id of the uniform arena buffer, created by the backend first.
constexpr uint32_t kUniformBufferId = 1;

class CommandRecorder {
 public:
  void create_buffer(uint32_t id, uint32_t size, uint32_t usage) { emit(Cmd::create_buffer, {id, size, usage}); }
  void destroy_buffer(uint32_t id) { emit(Cmd::destroy_buffer, {id}); }
  void write_buffer(uint32_t id, uint32_t offset, const void* src, uint32_t size) {
    emit(Cmd::write_buffer, {id, offset, ptr(src), size});
  }
  void upload_from_source(uint32_t id, uint32_t offset, uint64_t file_offset, uint32_t size) {
    emit(Cmd::upload_from_source, {id, offset, static_cast<uint32_t>(file_offset),
                                   static_cast<uint32_t>(file_offset >> 32), size});
  }
  void create_pipeline(uint32_t id, uint32_t rw_mask, uint32_t n_bindings, std::string_view source,
                       std::string_view label) {
    emit(Cmd::create_pipeline, {id, rw_mask, n_bindings, ptr(source.data()), static_cast<uint32_t>(source.size()),
                                ptr(label.data()), static_cast<uint32_t>(label.size())});
  }
  void dispatch(uint32_t pipeline, uint32_t x, uint32_t y, uint32_t z, uint32_t uniform_offset,
                std::span<const uint32_t> buffers);
  void copy_buffer(uint32_t src, uint32_t src_offset, uint32_t dst, uint32_t dst_offset, uint32_t size) {
    emit(Cmd::copy_buffer, {src, src_offset, dst, dst_offset, size});
  }
  void readback(uint32_t buffer, uint32_t offset, uint32_t size, void* dst) {
    emit(Cmd::readback, {buffer, offset, size, ptr(dst)});
  }
  void submit() { emit(Cmd::submit, {}); }

  const std::vector<uint32_t>& words() const { return words_; }
  bool empty() const { return words_.empty(); }
  void clear() { words_.clear(); }
  // Dispatches recorded since the last clear (for statistics and tests).
  uint32_t n_dispatches() const { return n_dispatches_; }
  void reset_counters() { n_dispatches_ = 0; }

 private:
  static uint32_t ptr(const void* p) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)); }
  void emit(Cmd op, std::initializer_list<uint32_t> payload);
  std::vector<uint32_t> words_;
  uint32_t n_dispatches_ = 0;
};

// A readable dump of a stream, one command per line (tests, debugging).
std::string describe_stream(const std::vector<uint32_t>& words);

}  // namespace wa::gpu
