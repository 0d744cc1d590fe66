#include "engine/models/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {

KvCache::KvCache(int64_t n_layer, int64_t capacity, int64_t n_head_kv, int64_t head_dim,
                 KvCacheType type)
    : capacity_(capacity), n_head_kv_(n_head_kv), head_dim_(head_dim), type_(type) {
  layers_.assign(static_cast<size_t>(n_layer), Layer{.window = 0, .rows = capacity, .base = 0});
  allocate();
}

KvCache::KvCache(int64_t capacity, int64_t n_head_kv, int64_t head_dim, KvCacheType type,
                 const std::vector<int64_t>& layer_windows, int64_t max_batch)
    : capacity_(capacity), n_head_kv_(n_head_kv), head_dim_(head_dim), type_(type) {
  for (int64_t window : layer_windows) {
    // A window shorter than the context only pays off when the rows it needs are fewer.
    const int64_t rows =
        window > 0 ? std::min(capacity, window - 1 + std::max<int64_t>(1, max_batch)) : capacity;
    layers_.push_back(Layer{.window = rows < capacity ? window : 0, .rows = rows, .base = 0});
  }
  allocate();
}

void KvCache::allocate() {
  assert(type_ != KvCacheType::kQ8_0 || head_dim_ % kLegacyBlock == 0);
  head_row_bytes_ = bytes_of(head_dim_);
  k_.resize(layers_.size());
  v_.resize(layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l) {
    const auto size = static_cast<size_t>(n_head_kv_) * head_bytes(static_cast<int64_t>(l));
    k_[l].assign(size, 0);
    v_[l].assign(size, 0);
  }
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

void KvCache::write_row(int64_t layer, std::vector<uint8_t>& data, int64_t pos,
                        const float* row) const {
  const int64_t r = pos - layers_[layer].base;
  assert(r >= 0 && r < layers_[layer].rows);
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    uint8_t* dst = data.data() + h * head_bytes(layer) + r * head_row_bytes_;
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

void KvCache::read_row(int64_t layer, const std::vector<uint8_t>& data, int64_t pos,
                       float* out) const {
  const int64_t r = pos - layers_[layer].base;
  assert(r >= 0 && r < layers_[layer].rows);
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    const uint8_t* src = data.data() + h * head_bytes(layer) + r * head_row_bytes_;
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
  write_row(layer, k_[layer], pos, row);
}
void KvCache::write_v(int64_t layer, int64_t pos, const float* row) {
  write_row(layer, v_[layer], pos, row);
}
void KvCache::read_k(int64_t layer, int64_t pos, float* out) const {
  read_row(layer, k_[layer], pos, out);
}
void KvCache::read_v(int64_t layer, int64_t pos, float* out) const {
  read_row(layer, v_[layer], pos, out);
}

Status KvCache::reserve(int64_t n) {
  if (n < 0 || n_past_ + n > capacity_) {
    return fail("KV cache: " + std::to_string(n_past_) + " cached + " + std::to_string(n) +
                " new positions exceed its capacity " + std::to_string(capacity_));
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    if (layer.window == 0 || n_past_ + n - layer.base <= layer.rows) continue;
    if (layer.window - 1 + n > layer.rows) {
      return fail("KV cache: a batch of " + std::to_string(n) +
                  " tokens is larger than the sliding-window layers were sized for");
    }
    // Keep the last rows - n positions before n_past; the window needs only window - 1.
    const int64_t new_base = n_past_ + n - layer.rows;
    const int64_t shift = new_base - layer.base;
    const int64_t kept = std::max<int64_t>(0, n_past_ - new_base);
    const auto li = static_cast<int64_t>(l);
    for (auto* data : {&k_[l], &v_[l]}) {
      for (int64_t h = 0; h < n_head_kv_; ++h) {
        uint8_t* head = data->data() + h * head_bytes(li);
        std::memmove(head, head + shift * head_row_bytes_, kept * head_row_bytes_);
      }
    }
    layer.base = new_base;
  }
  return ok();
}

int64_t KvCache::truncate(int64_t pos) {
  n_past_ = std::clamp<int64_t>(pos, 0, n_past_);
  for (const Layer& layer : layers_) {
    // The next token, at n_past, attends to positions from n_past - window + 1 on (and is
    // itself written at n_past, which must not lie before the layer's first row).
    if (layer.window > 0 && std::max<int64_t>(0, n_past_ - layer.window + 1) < layer.base) {
      clear();
      break;
    }
  }
  return n_past_;
}

void KvCache::clear() {
  n_past_ = 0;
  for (Layer& layer : layers_) layer.base = 0;
}

size_t KvCache::bytes() const {
  size_t total = 0;
  for (size_t l = 0; l < layers_.size(); ++l) total += k_[l].size() + v_[l].size();
  return total;
}

}  // namespace hearth
