#include "engine/models/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {

KvCache::KvCache(int64_t n_layer, int64_t capacity, int64_t n_head_kv, int64_t head_dim,
                 KvCacheType type)
    : capacity_(capacity), n_head_kv_(n_head_kv), head_dim_(head_dim), type_(type) {
  assert(type != KvCacheType::kQ8_0 || head_dim % kLegacyBlock == 0);
  head_row_bytes_ = bytes_of(head_dim);
  const auto size = static_cast<size_t>(n_head_kv) * head_bytes();
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

void KvCache::write_row(std::vector<uint8_t>& layer, int64_t pos, const float* row) const {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    uint8_t* dst = layer.data() + h * head_bytes() + pos * head_row_bytes_;
    const float* src = row + h * head_dim_;
    switch (type_) {
      case KvCacheType::kF32: std::memcpy(dst, src, head_row_bytes_); break;
      case KvCacheType::kF16: {
        auto* out = reinterpret_cast<uint16_t*>(dst);
        for (int64_t i = 0; i < head_dim_; ++i) out[i] = fp32_to_fp16(src[i]);
        break;
      }
      case KvCacheType::kQ8_0:
        quantize_row_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), head_dim_);
        break;
    }
  }
}

void KvCache::read_row(const std::vector<uint8_t>& layer, int64_t pos, float* out) const {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    const uint8_t* src = layer.data() + h * head_bytes() + pos * head_row_bytes_;
    float* dst = out + h * head_dim_;
    switch (type_) {
      case KvCacheType::kF32: std::memcpy(dst, src, head_row_bytes_); break;
      case KvCacheType::kF16: {
        const auto* in = reinterpret_cast<const uint16_t*>(src);
        for (int64_t i = 0; i < head_dim_; ++i) dst[i] = fp16_to_fp32(in[i]);
        break;
      }
      case KvCacheType::kQ8_0:
        dequantize_row_q8_0(reinterpret_cast<const BlockQ8_0*>(src), dst, head_dim_);
        break;
    }
  }
}

void KvCache::write_k(int64_t layer, int64_t pos, const float* row) {
  write_row(k_[layer], pos, row);
}
void KvCache::write_v(int64_t layer, int64_t pos, const float* row) {
  write_row(v_[layer], pos, row);
}
void KvCache::read_k(int64_t layer, int64_t pos, float* out) const {
  read_row(k_[layer], pos, out);
}
void KvCache::read_v(int64_t layer, int64_t pos, float* out) const {
  read_row(v_[layer], pos, out);
}

void KvCache::truncate(int64_t pos) {
  n_past_ = std::clamp<int64_t>(pos, 0, n_past_);
}

size_t KvCache::bytes() const {
  return 2 * k_.size() * static_cast<size_t>(n_head_kv_) * head_bytes();
}

}  // namespace hearth
