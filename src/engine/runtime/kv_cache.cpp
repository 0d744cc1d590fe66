#include "engine/runtime/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {

KvCache::KvCache(int64_t n_layer, int64_t capacity, int64_t kv_dim, KvCacheType type)
    : capacity_(capacity), kv_dim_(kv_dim), type_(type) {
  assert(type != KvCacheType::kQ8_0 || kv_dim % kLegacyBlock == 0);
  row_bytes_ = bytes_of(kv_dim);
  const auto size = static_cast<size_t>(capacity) * row_bytes_;
  k_.assign(static_cast<size_t>(n_layer), std::vector<uint8_t>(size));
  v_.assign(static_cast<size_t>(n_layer), std::vector<uint8_t>(size));
}

size_t KvCache::bytes_of(int64_t n) const {
  const auto count = static_cast<size_t>(n);
  switch (type_) {
    case KvCacheType::kF32: return count * sizeof(float);
    case KvCacheType::kF16: return count * sizeof(uint16_t);
    case KvCacheType::kQ8_0: return count / kLegacyBlock * sizeof(BlockQ8_0);
  }
  return 0;
}

void KvCache::write_row(uint8_t* dst, const float* row) const {
  switch (type_) {
    case KvCacheType::kF32: std::memcpy(dst, row, row_bytes_); return;
    case KvCacheType::kF16: {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < kv_dim_; ++i) out[i] = fp32_to_fp16(row[i]);
      return;
    }
    case KvCacheType::kQ8_0:
      quantize_row_q8_0(row, reinterpret_cast<BlockQ8_0*>(dst), kv_dim_);
      return;
  }
}

void KvCache::read_row(const uint8_t* src, float* out) const {
  switch (type_) {
    case KvCacheType::kF32: std::memcpy(out, src, row_bytes_); return;
    case KvCacheType::kF16: {
      const auto* in = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < kv_dim_; ++i) out[i] = fp16_to_fp32(in[i]);
      return;
    }
    case KvCacheType::kQ8_0:
      dequantize_row_q8_0(reinterpret_cast<const BlockQ8_0*>(src), out, kv_dim_);
      return;
  }
}

void KvCache::write_k(int64_t layer, int64_t pos, const float* row) {
  write_row(k_[layer].data() + pos * row_bytes_, row);
}
void KvCache::write_v(int64_t layer, int64_t pos, const float* row) {
  write_row(v_[layer].data() + pos * row_bytes_, row);
}
void KvCache::read_k(int64_t layer, int64_t pos, float* out) const {
  read_row(k_[layer].data() + pos * row_bytes_, out);
}
void KvCache::read_v(int64_t layer, int64_t pos, float* out) const {
  read_row(v_[layer].data() + pos * row_bytes_, out);
}

void KvCache::truncate(int64_t pos) {
  n_past_ = std::clamp<int64_t>(pos, 0, n_past_);
}

size_t KvCache::bytes() const {
  return 2 * k_.size() * static_cast<size_t>(capacity_) * row_bytes_;
}

}  // namespace hearth
