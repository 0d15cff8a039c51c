#include "core/memory.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace wa {

const char* mem_category_name(MemCategory c) {
  switch (c) {
    case MemCategory::weights: return "weights";
    case MemCategory::kv_cache: return "kv_cache";
    case MemCategory::activations: return "activations";
    case MemCategory::staging: return "staging";
    case MemCategory::other: return "other";
  }
  return "?";
}

MemoryTracker::Entry& MemoryTracker::find_or_add(const std::string& component, MemCategory category) {
  for (auto& e : entries_) {
    if (e.component == component && e.category == category) return e;
  }
  entries_.push_back(Entry{component, category});
  return entries_.back();
}

void MemoryTracker::add(const std::string& component, MemCategory category, size_t bytes, bool mapped) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = find_or_add(component, category);
  e.current += bytes;
  e.peak = std::max(e.peak, e.current);
  e.mapped = e.mapped || mapped;
  total_ += bytes;
  peak_total_ = std::max(peak_total_, total_);
}

void MemoryTracker::release(const std::string& component, MemCategory category, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = find_or_add(component, category);
  const size_t n = std::min(bytes, e.current);
  e.current -= n;
  total_ -= n;
}

size_t MemoryTracker::current_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

size_t MemoryTracker::peak_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_total_;
}

size_t MemoryTracker::current(MemCategory category) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t sum = 0;
  for (const auto& e : entries_) {
    if (e.category == category) sum += e.current;
  }
  return sum;
}

std::vector<MemoryTracker::Entry> MemoryTracker::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

std::string format_bytes(size_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) return strformat("%.2f GiB", b / (1ull << 30));
  if (bytes >= (1ull << 20)) return strformat("%.2f MiB", b / (1ull << 20));
  if (bytes >= (1ull << 10)) return strformat("%.1f KiB", b / (1ull << 10));
  return strformat("%zu B", bytes);
}

std::string MemoryTracker::table(bool per_component) const {
  const auto list = entries();
  std::string out = strformat("%-28s %-12s %12s %12s\n", "component", "category", "current", "peak");
  size_t cat_cur[5] = {}, cat_peak[5] = {};
  for (const auto& e : list) {
    cat_cur[static_cast<int>(e.category)] += e.current;
    cat_peak[static_cast<int>(e.category)] += e.peak;
    if (per_component) {
      out += strformat("%-28s %-12s %12s %12s%s\n", e.component.c_str(), mem_category_name(e.category),
                       format_bytes(e.current).c_str(), format_bytes(e.peak).c_str(), e.mapped ? "  (file-mapped)" : "");
    }
  }
  out += "-- by category --\n";
  for (int c = 0; c < 5; ++c) {
    if (cat_peak[c] == 0) continue;
    out += strformat("%-28s %-12s %12s %12s\n", "", mem_category_name(static_cast<MemCategory>(c)),
                     format_bytes(cat_cur[c]).c_str(), format_bytes(cat_peak[c]).c_str());
  }
  out += strformat("%-28s %-12s %12s %12s\n", "total", "", format_bytes(current_total()).c_str(),
                   format_bytes(peak_total()).c_str());
  return out;
}

Result<TrackedBuffer> TrackedBuffer::allocate(size_t bytes, MemoryTracker* tracker, std::string component,
                                              MemCategory category) {
  TrackedBuffer b;
  if (bytes == 0) return b;
  constexpr size_t kAlign = 64;
  const size_t padded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, padded);
  if (!p) return out_of_memory(strformat("cannot allocate %s for %s", format_bytes(bytes).c_str(), component.c_str()));
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = bytes;
  b.tracker_ = tracker;
  b.component_ = std::move(component);
  b.category_ = category;
  if (tracker) tracker->add(b.component_, category, bytes);
  return b;
}

TrackedBuffer& TrackedBuffer::operator=(TrackedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = o.data_;
    size_ = o.size_;
    tracker_ = o.tracker_;
    component_ = std::move(o.component_);
    category_ = o.category_;
    o.data_ = nullptr;
    o.size_ = 0;
    o.tracker_ = nullptr;
  }
  return *this;
}

void TrackedBuffer::reset() {
  if (data_) {
    if (tracker_) tracker_->release(component_, category_, size_);
    std::free(data_);
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace wa
