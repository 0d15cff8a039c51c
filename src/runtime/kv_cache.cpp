#include "runtime/kv_cache.h"

namespace wa {

Result<KvCache> KvCache::create(const KvLayout& layout, int n_ctx, DType type, MemoryTracker* tracker) {
  if (type != DType::f32 && type != DType::f16) {
    return unsupported(strformat("KV cache type %s is not supported (f32, f16)", dtype_name(type)));
  }
  if (n_ctx <= 0) return invalid_argument("context size must be positive");
  KvCache c;
  c.layout_ = layout;
  c.n_ctx_ = n_ctx;
  c.type_ = type;
  for (int l = 0; l < layout.n_layer; ++l) {
    const std::string comp = strformat("kv_cache.blk.%d", l);
    WA_ASSIGN_OR_RETURN(auto k, TrackedBuffer::allocate(row_bytes(type, layout.k_width) * static_cast<size_t>(n_ctx),
                                                        tracker, comp, MemCategory::kv_cache));
    WA_ASSIGN_OR_RETURN(auto v, TrackedBuffer::allocate(row_bytes(type, n_ctx) * static_cast<size_t>(layout.v_width),
                                                        tracker, comp, MemCategory::kv_cache));
    c.k_.push_back(std::move(k));
    c.v_.push_back(std::move(v));
  }
  return c;
}

Node* KvCache::k_leaf(Graph& g, int layer) {
  return g.leaf(strformat("cache_k.%d", layer), type_, {layout_.k_width, n_ctx_}, k_[static_cast<size_t>(layer)].data());
}

Node* KvCache::v_leaf(Graph& g, int layer) {
  return g.leaf(strformat("cache_v.%d", layer), type_, {n_ctx_, layout_.v_width}, v_[static_cast<size_t>(layer)].data());
}

size_t KvCache::bytes() const {
  size_t s = 0;
  for (const auto& b : k_) s += b.size();
  for (const auto& b : v_) s += b.size();
  return s;
}

}  // namespace wa
