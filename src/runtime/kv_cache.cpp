#include "runtime/kv_cache.h"

#include <utility>

namespace wa {

Result<KvCache> KvCache::create(const KvLayout& layout, int n_ctx, DType type, MemoryTracker* tracker,
                                DeviceMemory* device) {
  if (type != DType::f32 && type != DType::f16) {
    return unsupported(strformat("KV cache type %s is not supported (f32, f16)", dtype_name(type)));
  }
  if (n_ctx <= 0) return invalid_argument("context size must be positive");
  KvCache c;
  c.layout_ = layout;
  c.n_ctx_ = device ? (n_ctx + 1) / 2 * 2 : n_ctx;
  c.type_ = type;
  c.device_ = device;
  for (int l = 0; l < layout.n_layer; ++l) {
    const std::string comp = strformat("kv_cache.blk.%d", l);
    const size_t k_bytes = row_bytes(type, layout.k_width) * static_cast<size_t>(c.n_ctx_);
    const size_t v_bytes = row_bytes(type, c.n_ctx_) * static_cast<size_t>(layout.v_width);
    if (device) {
      WA_ASSIGN_OR_RETURN(uint32_t k, device->create_buffer(k_bytes, comp, MemCategory::kv_cache, tracker));
      c.k_ids_.push_back(k);
      WA_ASSIGN_OR_RETURN(uint32_t v, device->create_buffer(v_bytes, comp, MemCategory::kv_cache, tracker));
      c.v_ids_.push_back(v);
      c.device_bytes_ += k_bytes + v_bytes;
      continue;
    }
    WA_ASSIGN_OR_RETURN(auto k, TrackedBuffer::allocate(k_bytes, tracker, comp, MemCategory::kv_cache));
    WA_ASSIGN_OR_RETURN(auto v, TrackedBuffer::allocate(v_bytes, tracker, comp, MemCategory::kv_cache));
    c.k_.push_back(std::move(k));
    c.v_.push_back(std::move(v));
  }
  return c;
}

KvCache& KvCache::operator=(KvCache&& o) noexcept {
  if (this == &o) return *this;
  release_device();
  layout_ = o.layout_;
  n_ctx_ = o.n_ctx_;
  type_ = o.type_;
  k_ = std::move(o.k_);
  v_ = std::move(o.v_);
  device_ = std::exchange(o.device_, nullptr);
  k_ids_ = std::move(o.k_ids_);
  v_ids_ = std::move(o.v_ids_);
  device_bytes_ = std::exchange(o.device_bytes_, 0);
  return *this;
}

void KvCache::release_device() {
  if (!device_) return;
  for (uint32_t id : k_ids_) device_->release_buffer(id);
  for (uint32_t id : v_ids_) device_->release_buffer(id);
  k_ids_.clear();
  v_ids_.clear();
  device_ = nullptr;
}

Node* KvCache::k_leaf(Graph& g, int layer) {
  const size_t l = static_cast<size_t>(layer);
  Node* n = g.leaf(strformat("cache_k.%d", layer), type_, {layout_.k_width, n_ctx_}, device_ ? nullptr : k_[l].data());
  if (device_) n->device_buffer = k_ids_[l];
  return n;
}

Node* KvCache::v_leaf(Graph& g, int layer) {
  const size_t l = static_cast<size_t>(layer);
  Node* n = g.leaf(strformat("cache_v.%d", layer), type_, {n_ctx_, layout_.v_width}, device_ ? nullptr : v_[l].data());
  if (device_) n->device_buffer = v_ids_[l];
  return n;
}

size_t KvCache::bytes() const {
  size_t s = device_bytes_;
  for (const auto& b : k_) s += b.size();
  for (const auto& b : v_) s += b.size();
  return s;
}

}  // namespace wa
