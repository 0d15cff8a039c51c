#include "formats/gguf.h"

#include <algorithm>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace wa {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxStringLength = 1ull << 30;

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
    case GgufType::u16: case GgufType::i16: return 2;
    case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
    case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
    default: return 0;
  }
}

// Bounds-checked little-endian cursor over the bytes at hand: the whole file,
// or (from_header) its first bytes, with the file's size known. Running past
// the bytes at hand but not past the file means "give me more" (need).
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, uint64_t file_size, uint64_t* need)
      : data_(data), size_(size), file_size_(file_size), need_(need) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  uint64_t file_remaining() const { return file_size_ - pos_; }

  template <class T>
  Status read(T* out, const char* what) {
    if (remaining() < sizeof(T)) return short_of(sizeof(T), what);
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  Status read_string(std::string_view* out, const char* what) {
    uint64_t len = 0;
    WA_TRY(read(&len, what));
    if (len > kMaxStringLength || len > file_remaining()) {
      return invalid_file(strformat("%s: string length %llu at offset %zu runs past the end of the file",
                                    what, static_cast<unsigned long long>(len), pos_ - 8));
    }
    if (len > remaining()) return short_of(static_cast<size_t>(len), what);
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return Status::Ok();
  }
  Status skip(size_t n, const char* what) {
    if (remaining() < n) return short_of(n, what);
    pos_ += n;
    return Status::Ok();
  }
  const uint8_t* here() const { return data_ + pos_; }

 private:
  Status short_of(size_t wanted, const char* what) const {
    if (wanted <= file_remaining()) {
      if (need_) *need_ = static_cast<uint64_t>(pos_) + wanted;
      return invalid_file(strformat("the header continues past the %zu bytes given: %s at offset %zu", size_, what,
                                    pos_));
    }
    return invalid_file(strformat("file is truncated: %s at offset %zu needs more bytes than the %llu left", what,
                                  pos_, static_cast<unsigned long long>(file_remaining())));
  }
  const uint8_t* data_;
  size_t size_;
  uint64_t file_size_;
  uint64_t* need_;
  size_t pos_ = 0;
};

Status read_scalar(Cursor& c, GgufType type, GgufValue* v) {
  v->type = type;
  switch (type) {
    case GgufType::u8: { uint8_t x = 0; WA_TRY(c.read(&x, "u8 value")); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::i8: { int8_t x = 0; WA_TRY(c.read(&x, "i8 value")); v->i = x; v->f = x; break; }
    case GgufType::u16: { uint16_t x = 0; WA_TRY(c.read(&x, "u16 value")); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::i16: { int16_t x = 0; WA_TRY(c.read(&x, "i16 value")); v->i = x; v->f = x; break; }
    case GgufType::u32: { uint32_t x = 0; WA_TRY(c.read(&x, "u32 value")); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::i32: { int32_t x = 0; WA_TRY(c.read(&x, "i32 value")); v->i = x; v->f = x; break; }
    case GgufType::f32: { float x = 0; WA_TRY(c.read(&x, "f32 value")); v->f = x; break; }
    case GgufType::boolean: {
      uint8_t x = 0; WA_TRY(c.read(&x, "bool value"));
      if (x > 1) return invalid_file(strformat("bool value %u is neither 0 nor 1", x));
      v->u = x; v->i = x; v->f = x; break;
    }
    case GgufType::u64: {
      uint64_t x = 0; WA_TRY(c.read(&x, "u64 value")); v->u = x; v->f = static_cast<double>(x);
      v->i = x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? static_cast<int64_t>(x) : 0;
      break;
    }
    case GgufType::i64: { int64_t x = 0; WA_TRY(c.read(&x, "i64 value")); v->i = x; v->f = static_cast<double>(x); break; }
    case GgufType::f64: { double x = 0; WA_TRY(c.read(&x, "f64 value")); v->f = x; break; }
    case GgufType::string: WA_TRY(c.read_string(&v->str, "string value")); break;
    default: return invalid_file(strformat("unknown metadata value type %u", static_cast<unsigned>(type)));
  }
  return Status::Ok();
}

Status read_value(Cursor& c, GgufType type, GgufValue* v) {
  if (type != GgufType::array) return read_scalar(c, type, v);
  v->type = GgufType::array;
  uint32_t elem_type = 0;
  WA_TRY(c.read(&elem_type, "array element type"));
  WA_TRY(c.read(&v->array_count, "array length"));
  v->array_type = static_cast<GgufType>(elem_type);
  if (v->array_type == GgufType::string) {
    // each string takes at least its 8-byte length
    if (v->array_count > c.file_remaining() / 8) {
      return invalid_file(strformat("string array of %llu elements cannot fit in the %llu bytes left",
                                    static_cast<unsigned long long>(v->array_count),
                                    static_cast<unsigned long long>(c.file_remaining())));
    }
    v->strings.reserve(static_cast<size_t>(v->array_count));
    for (uint64_t i = 0; i < v->array_count; ++i) {
      std::string_view s;
      WA_TRY(c.read_string(&s, "string array element"));
      v->strings.push_back(s);
    }
    return Status::Ok();
  }
  const size_t es = scalar_size(v->array_type);
  if (es == 0) {
    return invalid_file(strformat("array element type %u is not supported (nested arrays are not allowed)", elem_type));
  }
  if (v->array_count > c.file_remaining() / es) {
    return invalid_file(strformat("array of %llu elements of %zu bytes runs past the end of the file",
                                  static_cast<unsigned long long>(v->array_count), es));
  }
  v->array_data = c.here();
  return c.skip(static_cast<size_t>(v->array_count) * es, "array data");
}

template <class T>
T load_unaligned(const uint8_t* p) {
  T x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// Element j of a numeric array as double / int64 (types already validated).
double array_elem_f(const GgufValue& v, uint64_t j) {
  const uint8_t* p = v.array_data + j * scalar_size(v.array_type);
  switch (v.array_type) {
    case GgufType::u8: return *p;
    case GgufType::i8: return static_cast<int8_t>(*p);
    case GgufType::boolean: return *p;
    case GgufType::u16: return load_unaligned<uint16_t>(p);
    case GgufType::i16: return load_unaligned<int16_t>(p);
    case GgufType::u32: return load_unaligned<uint32_t>(p);
    case GgufType::i32: return load_unaligned<int32_t>(p);
    case GgufType::f32: return load_unaligned<float>(p);
    case GgufType::u64: return static_cast<double>(load_unaligned<uint64_t>(p));
    case GgufType::i64: return static_cast<double>(load_unaligned<int64_t>(p));
    case GgufType::f64: return load_unaligned<double>(p);
    default: return 0;
  }
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::u8: case GgufType::i8: case GgufType::u16: case GgufType::i16:
    case GgufType::u32: case GgufType::i32: case GgufType::u64: case GgufType::i64:
      return true;
    default:
      return false;
  }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(strformat("cannot open '%s': %s", path.c_str(), std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(strformat("'%s' is not a regular file", path.c_str()));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 24) {
    ::close(fd);
    return invalid_file(strformat("'%s' is %zu bytes: too small to be a GGUF file", path.c_str(), size));
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return io_error(strformat("cannot map '%s': %s", path.c_str(), std::strerror(errno)));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->mapping_ = map;
  file->base_ = static_cast<const uint8_t*>(map);
  file->size_ = size;
  file->avail_ = size;
  Status s = file->parse();
  if (!s.ok()) return s.with_context(path);
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->base_ = data;
  file->size_ = size;
  file->avail_ = size;
  WA_TRY(file->parse());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_header(const uint8_t* data, size_t size, uint64_t file_size,
                                                        uint64_t* need) {
  if (need) *need = 0;
  if (!data || size > file_size) {
    return invalid_argument(strformat("from_header: %zu bytes given of a %llu-byte file", size,
                                      static_cast<unsigned long long>(file_size)));
  }
  // Parsed once over the caller's bytes to find where the header ends, then
  // again over a copy of just the header (metadata points into it).
  std::unique_ptr<GgufFile> probe(new GgufFile());
  probe->base_ = data;
  probe->size_ = file_size;
  probe->avail_ = size;
  if (Status st = probe->parse(need); !st.ok()) {
    // At least twice what was given (within the file): a caller following
    // `need` from a small prefix then takes a logarithmic number of rounds,
    // however many small items (strings, tensor infos) the header has.
    if (need && *need) *need = std::max<uint64_t>(*need, std::min<uint64_t>(file_size, 2 * uint64_t{size}));
    return st;
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->owned_header_.assign(data, data + probe->header_bytes_);
  file->base_ = file->owned_header_.data();
  file->size_ = file_size;
  file->avail_ = file->owned_header_.size();
  WA_TRY(file->parse());
  return file;
}

GgufFile::~GgufFile() {
  if (mapping_) munmap(mapping_, size_);
}

Status GgufFile::parse(uint64_t* need) {
  Cursor c(base_, avail_, size_, need);
  uint32_t magic = 0;
  WA_TRY(c.read(&magic, "magic"));
  if (magic != kMagic) return invalid_file("not a GGUF file (wrong magic; expected 'GGUF')");
  WA_TRY(c.read(&version_, "version"));
  if (version_ != 2 && version_ != 3) {
    return unsupported(strformat("GGUF version %u is not supported (2 and 3 are)", version_));
  }
  uint64_t n_tensors = 0, n_kv = 0;
  WA_TRY(c.read(&n_tensors, "tensor count"));
  WA_TRY(c.read(&n_kv, "metadata count"));
  // Each metadata entry takes >= 12 bytes and each tensor info >= 28.
  if (n_kv > c.file_remaining() / 12) {
    return invalid_file(strformat("metadata count %llu cannot fit in a %llu-byte file",
                                  static_cast<unsigned long long>(n_kv), static_cast<unsigned long long>(size_)));
  }
  if (n_tensors > c.file_remaining() / 28) {
    return invalid_file(strformat("tensor count %llu cannot fit in a %llu-byte file",
                                  static_cast<unsigned long long>(n_tensors), static_cast<unsigned long long>(size_)));
  }

  kvs_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string_view key;
    WA_TRY(c.read_string(&key, "metadata key"));
    uint32_t type = 0;
    WA_TRY(c.read(&type, "metadata type"));
    GgufKV kv;
    kv.key = std::string(key);
    Status s = read_value(c, static_cast<GgufType>(type), &kv.value);
    if (!s.ok()) return s.with_context(strformat("metadata '%s'", kv.key.c_str()));
    if (!keys.insert(key).second) return invalid_file(strformat("metadata key '%s' appears twice", kv.key.c_str()));
    kvs_.push_back(std::move(kv));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!is_integer(a->type) || a->u == 0 || a->u > (1u << 20) || (a->u & (a->u - 1)) != 0) {
      return invalid_file("general.alignment must be a power of two integer");
    }
    alignment_ = static_cast<uint32_t>(a->u);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    std::string_view name;
    WA_TRY(c.read_string(&name, "tensor name"));
    t.name = std::string(name);
    uint32_t n_dims = 0;
    WA_TRY(c.read(&n_dims, "tensor rank"));
    if (n_dims < 1 || n_dims > kMaxDims) {
      return invalid_file(strformat("tensor '%s' has %u dimensions (1..%d supported)", t.name.c_str(), n_dims, kMaxDims));
    }
    t.n_dims = static_cast<int>(n_dims);
    int64_t total = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      WA_TRY(c.read(&ne, "tensor dimension"));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / total)) {
        return invalid_file(strformat("tensor '%s' has an absurd dimension %llu", t.name.c_str(),
                                      static_cast<unsigned long long>(ne)));
      }
      t.ne[d] = static_cast<int64_t>(ne);
      total *= t.ne[d];
    }
    uint32_t type = 0;
    WA_TRY(c.read(&type, "tensor type"));
    const TypeTraits* traits = type_traits_from_id(type);
    if (!traits) return invalid_file(strformat("tensor '%s' has unknown type id %u", t.name.c_str(), type));
    t.type = traits->type;
    if (t.ne[0] % traits->block_size != 0) {
      return invalid_file(strformat("tensor '%s': row of %lld is not a multiple of the %s block size %lld",
                                    t.name.c_str(), static_cast<long long>(t.ne[0]), traits->name,
                                    static_cast<long long>(traits->block_size)));
    }
    WA_TRY(c.read(&t.offset, "tensor offset"));
    const uint64_t rows = static_cast<uint64_t>(total / t.ne[0]);
    const uint64_t rb = row_bytes(t.type, t.ne[0]);
    if (rows != 0 && rb > std::numeric_limits<uint64_t>::max() / rows) {
      return invalid_file(strformat("tensor '%s' size overflows", t.name.c_str()));
    }
    t.size_bytes = rb * rows;
    if (t.offset % alignment_ != 0) {
      return invalid_file(strformat("tensor '%s' offset %llu is not aligned to %u", t.name.c_str(),
                                    static_cast<unsigned long long>(t.offset), alignment_));
    }
    if (!names.insert(t.name).second) return invalid_file(strformat("tensor '%s' appears twice", t.name.c_str()));
    tensors_.push_back(std::move(t));
  }

  header_bytes_ = c.pos();
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > size_ && !tensors_.empty()) {
    return invalid_file("file is truncated before its tensor data section");
  }
  for (const auto& t : tensors_) {
    const uint64_t avail = size_ > data_offset_ ? size_ - data_offset_ : 0;
    if (t.offset > avail || t.size_bytes > avail - t.offset) {
      return invalid_file(strformat("tensor '%s' (%llu bytes at data offset %llu) ends past the end of the file",
                                    t.name.c_str(), static_cast<unsigned long long>(t.size_bytes),
                                    static_cast<unsigned long long>(t.offset)));
    }
  }
  return Status::Ok();
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& kv : kvs_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::string) return std::nullopt;
  return v->str;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || !(is_integer(v->type) || v->type == GgufType::boolean)) return std::nullopt;
  if (v->type == GgufType::u64 && v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return v->i;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type == GgufType::string || v->type == GgufType::array) return std::nullopt;
  return v->f;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::boolean) return std::nullopt;
  return v->u != 0;
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::array || scalar_size(v->array_type) == 0) return std::nullopt;
  std::vector<float> out(static_cast<size_t>(v->array_count));
  for (uint64_t j = 0; j < v->array_count; ++j) out[j] = static_cast<float>(array_elem_f(*v, j));
  return out;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::array || !(is_integer(v->array_type) || v->array_type == GgufType::boolean)) {
    return std::nullopt;
  }
  std::vector<int64_t> out(static_cast<size_t>(v->array_count));
  for (uint64_t j = 0; j < v->array_count; ++j) {
    const uint8_t* p = v->array_data + j * scalar_size(v->array_type);
    switch (v->array_type) {
      case GgufType::u64: out[j] = static_cast<int64_t>(load_unaligned<uint64_t>(p)); break;
      case GgufType::i64: out[j] = load_unaligned<int64_t>(p); break;
      default: out[j] = static_cast<int64_t>(array_elem_f(*v, j)); break;
    }
  }
  return out;
}

const std::vector<std::string_view>* GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || v->type != GgufType::array || v->array_type != GgufType::string) return nullptr;
  return &v->strings;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// ---------------------------------------------------------------- writer

namespace {
template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  const size_t at = out.size();
  out.resize(at + s.size());
  if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}
}  // namespace

void GgufWriter::set_raw(const std::string& key, GgufType type, std::vector<uint8_t> payload) {
  for (auto& e : entries_) {
    if (e.key == key) {
      e.type = type;
      e.payload = std::move(payload);
      return;
    }
  }
  entries_.push_back({key, type, std::move(payload)});
  if (key == "general.alignment" && entries_.back().payload.size() == 4) {
    std::memcpy(&alignment_, entries_.back().payload.data(), 4);
  }
}

void GgufWriter::set_u32(const std::string& key, uint32_t v) { std::vector<uint8_t> p; put(p, v); set_raw(key, GgufType::u32, std::move(p)); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { std::vector<uint8_t> p; put(p, v); set_raw(key, GgufType::i32, std::move(p)); }
void GgufWriter::set_u64(const std::string& key, uint64_t v) { std::vector<uint8_t> p; put(p, v); set_raw(key, GgufType::u64, std::move(p)); }
void GgufWriter::set_f32(const std::string& key, float v) { std::vector<uint8_t> p; put(p, v); set_raw(key, GgufType::f32, std::move(p)); }
void GgufWriter::set_bool(const std::string& key, bool v) { std::vector<uint8_t> p; put<uint8_t>(p, v ? 1 : 0); set_raw(key, GgufType::boolean, std::move(p)); }
void GgufWriter::set_string(const std::string& key, const std::string& v) { std::vector<uint8_t> p; put_string(p, v); set_raw(key, GgufType::string, std::move(p)); }

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(GgufType::string));
  put<uint64_t>(p, v.size());
  for (const auto& s : v) put_string(p, s);
  set_raw(key, GgufType::array, std::move(p));
}

void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(GgufType::f32));
  put<uint64_t>(p, v.size());
  for (float x : v) put(p, x);
  set_raw(key, GgufType::array, std::move(p));
}

void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(GgufType::i32));
  put<uint64_t>(p, v.size());
  for (int32_t x : v) put(p, x);
  set_raw(key, GgufType::array, std::move(p));
}

void GgufWriter::copy_kv(const GgufKV& kv) {
  const GgufValue& v = kv.value;
  std::vector<uint8_t> p;
  switch (v.type) {
    case GgufType::string: put_string(p, v.str); break;
    case GgufType::array:
      put<uint32_t>(p, static_cast<uint32_t>(v.array_type));
      put<uint64_t>(p, v.array_count);
      if (v.array_type == GgufType::string) {
        for (auto s : v.strings) put_string(p, s);
      } else {
        p.insert(p.end(), v.array_data, v.array_data + v.array_count * scalar_size(v.array_type));
      }
      break;
    case GgufType::u8: case GgufType::boolean: put<uint8_t>(p, static_cast<uint8_t>(v.u)); break;
    case GgufType::i8: put<int8_t>(p, static_cast<int8_t>(v.i)); break;
    case GgufType::u16: put<uint16_t>(p, static_cast<uint16_t>(v.u)); break;
    case GgufType::i16: put<int16_t>(p, static_cast<int16_t>(v.i)); break;
    case GgufType::u32: put<uint32_t>(p, static_cast<uint32_t>(v.u)); break;
    case GgufType::i32: put<int32_t>(p, static_cast<int32_t>(v.i)); break;
    case GgufType::u64: put<uint64_t>(p, v.u); break;
    case GgufType::i64: put<int64_t>(p, v.i); break;
    case GgufType::f32: put<float>(p, static_cast<float>(v.f)); break;
    case GgufType::f64: put<double>(p, v.f); break;
  }
  set_raw(kv.key, v.type, std::move(p));
}

Status GgufWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, Producer producer) {
  const TypeTraits* t = type_traits(type);
  if (!t) return invalid_argument("add_tensor: unknown type");
  if (ne.empty() || ne.size() > kMaxDims) return invalid_argument(strformat("tensor '%s': rank must be 1..4", name.c_str()));
  if (ne[0] % t->block_size != 0) {
    return invalid_argument(strformat("tensor '%s': row of %lld is not a multiple of the %s block size", name.c_str(),
                                      static_cast<long long>(ne[0]), t->name));
  }
  uint64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= static_cast<uint64_t>(ne[d]);
  for (const auto& e : tensors_) {
    if (e.name == name) return invalid_argument(strformat("tensor '%s' added twice", name.c_str()));
  }
  const uint64_t size_bytes = row_bytes(type, ne[0]) * rows;
  tensors_.push_back({name, type, std::move(ne), size_bytes, std::move(producer)});
  return Status::Ok();
}

Status GgufWriter::add_tensor_bytes(const std::string& name, DType type, std::vector<int64_t> ne, const void* data) {
  return add_tensor(name, type, std::move(ne), [data](uint8_t* dst, size_t bytes) {
    std::memcpy(dst, data, bytes);
    return Status::Ok();
  });
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> header;
  put<uint32_t>(header, kMagic);
  put<uint32_t>(header, 3);
  put<uint64_t>(header, tensors_.size());
  put<uint64_t>(header, entries_.size());
  for (const auto& e : entries_) {
    put_string(header, e.key);
    put<uint32_t>(header, static_cast<uint32_t>(e.type));
    header.insert(header.end(), e.payload.begin(), e.payload.end());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(header, static_cast<uint64_t>(d));
    put<uint32_t>(header, static_cast<uint32_t>(t.type));
    put<uint64_t>(header, offset);
    offset += padded_size(t.size_bytes);
  }
  while (header.size() % alignment_ != 0) header.push_back(0);
  return header;
}

uint64_t GgufWriter::file_size() const {
  uint64_t size = header().size();
  for (const auto& t : tensors_) size += padded_size(t.size_bytes);
  return size;
}

Status GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> header = this->header();

  // A temporary name unique to this process and call, renamed into place at
  // the end: readers never see a partial file, and two writers of the same
  // output (parallel jobs) never interleave their bytes.
  static std::atomic<unsigned> counter{0};
  const std::string tmp = strformat("%s.tmp.%d.%u", path.c_str(), static_cast<int>(getpid()), counter.fetch_add(1));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return io_error(strformat("cannot write '%s': %s (creating '%s')", path.c_str(), std::strerror(errno), tmp.c_str()));
  auto fail = [&](Status s) {
    std::fclose(f);
    std::remove(tmp.c_str());
    return s;
  };
  if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) return fail(io_error("write failed"));
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    const size_t padded = padded_size(t.size_bytes);
    buf.assign(padded, 0);
    Status s = t.producer(buf.data(), t.size_bytes);
    if (!s.ok()) return fail(s.with_context(strformat("producing tensor '%s'", t.name.c_str())));
    if (std::fwrite(buf.data(), 1, padded, f) != padded) return fail(io_error(strformat("write of '%s' failed", path.c_str())));
  }
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    return io_error(strformat("closing '%s' failed", tmp.c_str()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return io_error(strformat("cannot rename to '%s': %s", path.c_str(), std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace wa
