#include "backends/webgpu/command_stream.h"

#include "core/status.h"

namespace wa::gpu {

void CommandRecorder::emit(Cmd op, std::initializer_list<uint32_t> payload) {
  words_.push_back(static_cast<uint32_t>(op));
  words_.push_back(static_cast<uint32_t>(payload.size()));
  words_.insert(words_.end(), payload.begin(), payload.end());
}

void CommandRecorder::dispatch(uint32_t pipeline, uint32_t x, uint32_t y, uint32_t z, uint32_t uniform_offset,
                               std::span<const uint32_t> buffers) {
  words_.push_back(static_cast<uint32_t>(Cmd::dispatch));
  words_.push_back(static_cast<uint32_t>(6 + buffers.size()));
  words_.insert(words_.end(), {pipeline, x, y, z, uniform_offset, static_cast<uint32_t>(buffers.size())});
  words_.insert(words_.end(), buffers.begin(), buffers.end());
  ++n_dispatches_;
}

std::string describe_stream(const std::vector<uint32_t>& w) {
  static const char* names[] = {"?", "create_buffer", "destroy_buffer", "write_buffer", "create_pipeline",
                                "dispatch", "copy_buffer", "readback", "submit", "upload_from_source"};
  std::string out;
  for (size_t i = 0; i + 1 < w.size();) {
    const uint32_t op = w[i], n = w[i + 1];
    out += op < 10 ? names[op] : "?";
    for (uint32_t j = 0; j < n && i + 2 + j < w.size(); ++j) out += strformat(" %u", w[i + 2 + j]);
    out += '\n';
    i += 2 + n;
  }
  return out;
}

}  // namespace wa::gpu
