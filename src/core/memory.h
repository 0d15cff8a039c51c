// Per-component memory accounting. Every allocation the runtime makes (or
// maps) is attributed to a component ("blk.3" weights, "kv_cache.blk.3",
// "activations", "staging") and a category, with current and peak bytes.
// The memory budget and the visualizer of later issues build on this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace wa {

enum class MemCategory { weights, kv_cache, activations, staging, other };
const char* mem_category_name(MemCategory c);

class MemoryTracker {
 public:
  struct Entry {
    std::string component;
    MemCategory category;
    size_t current = 0;
    size_t peak = 0;
    bool mapped = false;  // file-backed (mmap): resident pages are up to the OS
  };

  void add(const std::string& component, MemCategory category, size_t bytes, bool mapped = false);
  void release(const std::string& component, MemCategory category, size_t bytes);

  size_t current_total() const;
  size_t peak_total() const;  // peak of the sum over time, not the sum of peaks
  size_t current(MemCategory category) const;
  std::vector<Entry> entries() const;
  // Human-readable table: component | category | current | peak, plus totals.
  std::string table(bool per_component = true) const;

 private:
  Entry& find_or_add(const std::string& component, MemCategory category);
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  size_t total_ = 0;
  size_t peak_total_ = 0;
};

// An owned, aligned, tracked byte buffer. Releases its accounting when freed.
class TrackedBuffer {
 public:
  TrackedBuffer() = default;
  static Result<TrackedBuffer> allocate(size_t bytes, MemoryTracker* tracker, std::string component,
                                        MemCategory category);
  TrackedBuffer(TrackedBuffer&& o) noexcept { *this = std::move(o); }
  TrackedBuffer& operator=(TrackedBuffer&& o) noexcept;
  TrackedBuffer(const TrackedBuffer&) = delete;
  TrackedBuffer& operator=(const TrackedBuffer&) = delete;
  ~TrackedBuffer() { reset(); }

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  void reset();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  MemoryTracker* tracker_ = nullptr;
  std::string component_;
  MemCategory category_ = MemCategory::other;
};

std::string format_bytes(size_t bytes);

}  // namespace wa
