#include "engine/runtime/kv_cache.h"

#include <algorithm>

namespace hearth {

KvCache::KvCache(int64_t n_layer, int64_t capacity, int64_t kv_dim)
    : capacity_(capacity), kv_dim_(kv_dim) {
  const auto size = static_cast<size_t>(capacity * kv_dim);
  k_.assign(static_cast<size_t>(n_layer), std::vector<float>(size));
  v_.assign(static_cast<size_t>(n_layer), std::vector<float>(size));
}

void KvCache::truncate(int64_t pos) {
  n_past_ = std::clamp<int64_t>(pos, 0, n_past_);
}

size_t KvCache::bytes() const {
  return 2 * k_.size() * static_cast<size_t>(capacity_ * kv_dim_) * sizeof(float);
}

}  // namespace hearth
