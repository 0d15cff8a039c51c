// GGUF v2/v3 reader and writer (the file format of llama.cpp and wllama).
//
// The reader never trusts the file: every count, length, offset and size is
// checked against the bytes that exist before it is used, so a truncated or
// hostile file yields `invalid_file`, never a crash or a huge allocation.
// Natively the file is memory-mapped and tensor data is used in place. A file
// can also be opened from its header alone (from_header): tensor data then
// stays in its source (the WebGPU engine streams it to device buffers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace wa {

enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars are widened into i/u/f; strings and arrays
// point into the file's bytes (valid while the GgufFile lives).
struct GgufValue {
  GgufType type = GgufType::u8;
  uint64_t u = 0;      // unsigned integers and bool
  int64_t i = 0;       // signed integers (also set for unsigned that fit)
  double f = 0.0;      // floats (also set for every numeric type)
  std::string_view str;
  // arrays
  GgufType array_type = GgufType::u8;
  uint64_t array_count = 0;
  const uint8_t* array_data = nullptr;   // numeric arrays: packed elements
  std::vector<std::string_view> strings; // string arrays, pre-split
};

struct GgufKV {
  std::string key;
  GgufValue value;
};

constexpr int kMaxDims = 4;

struct GgufTensorInfo {
  std::string name;
  DType type = DType::f32;
  int n_dims = 0;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};  // ne[0] is the contiguous dimension
  uint64_t offset = 0;                   // from the start of the data section
  uint64_t size_bytes = 0;
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Memory-maps the file at `path` (read-only).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses bytes owned by the caller, who keeps them alive and the header
  // unchanged (tensor data may be rewritten in place for the CPU kernels:
  // repack_weights_for_cpu, runtime/model.h).
  static Result<std::unique_ptr<GgufFile>> from_memory(const uint8_t* data, size_t size);
  // Parses the header of a file of `file_size` bytes from its first `size`
  // bytes (copied: the caller may free them). Every count, offset and size is
  // validated against file_size as in from_memory; the file has no tensor
  // data (has_data() is false). When the header continues past the bytes
  // given, the result is invalid_file and *need (if given) is a byte count
  // > size worth retrying with (at least where the parse stopped, and at
  // least twice `size` within the file, so following it takes a logarithmic
  // number of rounds; the retry may ask for more); otherwise *need is 0.
  static Result<std::unique_ptr<GgufFile>> from_header(const uint8_t* data, size_t size, uint64_t file_size,
                                                       uint64_t* need = nullptr);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  size_t data_offset() const { return data_offset_; }
  // Whether tensor bytes are in memory (false for from_header).
  bool has_data() const { return owned_header_.empty(); }
  uint32_t alignment() const { return alignment_; }

  const std::vector<GgufKV>& metadata() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;
  // Typed getters: nullopt if the key is absent or has an incompatible type.
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;     // any integer type
  std::optional<double> get_float(std::string_view key) const;    // any numeric type
  std::optional<bool> get_bool(std::string_view key) const;
  // Numeric arrays converted element-wise; nullopt if absent or not numeric.
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;
  const std::vector<std::string_view>* get_string_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes; null when the file has no data (from_header).
  const uint8_t* tensor_data(const GgufTensorInfo& t) const {
    return has_data() ? base_ + data_offset_ + t.offset : nullptr;
  }
  // Where the tensor's bytes start in the file.
  uint64_t tensor_file_offset(const GgufTensorInfo& t) const { return data_offset_ + t.offset; }
  const uint8_t* bytes() const { return base_; }

 private:
  GgufFile() = default;
  // Parses base_[0, avail_) as the start of a file of size_ bytes; *need as in from_header.
  Status parse(uint64_t* need = nullptr);

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;   // of the file
  size_t avail_ = 0;    // bytes at base_ (the whole file, or a header)
  size_t header_bytes_ = 0;
  std::vector<uint8_t> owned_header_;  // from_header: the header's bytes
  void* mapping_ = nullptr;  // non-null when we own an mmap
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<GgufKV> kvs_;
  std::vector<GgufTensorInfo> tensors_;
};

// Builds a GGUF file. Tensor bytes come from a producer called at write time,
// so multi-gigabyte models are written without holding them in memory.
class GgufWriter {
 public:
  using Producer = std::function<Status(uint8_t* dst, size_t bytes)>;

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // Copies a metadata entry from a file being read (convert keeps the vocab).
  void copy_kv(const GgufKV& kv);

  // `ne` lists dimensions innermost first (ne[0] contiguous).
  Status add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, Producer producer);
  Status add_tensor_bytes(const std::string& name, DType type, std::vector<int64_t> ne, const void* data);

  Status write(const std::string& path) const;
  // The size of the file write() makes, without making it.
  uint64_t file_size() const;

 private:
  std::vector<uint8_t> header() const;  // through the padding before the tensor data
  uint64_t padded_size(uint64_t bytes) const { return (bytes + alignment_ - 1) / alignment_ * alignment_; }
  struct Entry {
    std::string key;
    GgufType type;
    std::vector<uint8_t> payload;  // encoded value (after the type tag)
  };
  struct TensorEntry {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t size_bytes;
    Producer producer;
  };
  void set_raw(const std::string& key, GgufType type, std::vector<uint8_t> payload);
  std::vector<Entry> entries_;
  std::vector<TensorEntry> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace wa
