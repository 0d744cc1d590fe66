// Key/value cache of one sequence: for every layer, the RoPE'd keys and the values of the
// tokens evaluated so far, at positions 0 .. n_past-1.
//
// Storage is F32, row per position (`kv_dim` floats), allocated once at the full capacity so
// decoding never reallocates. Positions are contiguous: the cache grows by appending and
// shrinks by truncation (`truncate`), which is how a conversation rewinds to a shared prefix.
// Not thread-safe; owned by one Session. The forward pass writes rows [n_past, n_past + n)
// and then calls `advance`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth {

class KvCache {
 public:
  KvCache(int64_t n_layer, int64_t capacity, int64_t kv_dim);

  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t n_layer() const { return static_cast<int64_t>(k_.size()); }

  // Row of keys/values for `pos` in `layer`; pos < capacity.
  float* k(int64_t layer, int64_t pos) { return k_[layer].data() + pos * kv_dim_; }
  float* v(int64_t layer, int64_t pos) { return v_[layer].data() + pos * kv_dim_; }
  const float* k(int64_t layer, int64_t pos) const { return k_[layer].data() + pos * kv_dim_; }
  const float* v(int64_t layer, int64_t pos) const { return v_[layer].data() + pos * kv_dim_; }

  // Marks n more positions as filled; the caller has written them in every layer.
  void advance(int64_t n) { n_past_ += n; }
  // Drops every position >= pos (seq_rm from pos); no-op when pos >= n_past.
  void truncate(int64_t pos);
  void clear() { n_past_ = 0; }

  size_t bytes() const;

 private:
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t n_past_ = 0;
  std::vector<std::vector<float>> k_;
  std::vector<std::vector<float>> v_;
};

}  // namespace hearth
