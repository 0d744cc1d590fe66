// Key/value cache of one sequence: for every layer, the RoPE'd keys and the values of the
// tokens evaluated so far, at positions 0 .. n_past-1.
//
// Storage is one row per position (`kv_dim` elements) in the cache's element type: F16 by
// default (half the memory traffic of F32 for attention, which at long contexts reads the
// whole cache once per generated token), Q8_0 (blocks of 32 with an F16 scale, ~1/4 of F32)
// or F32 (exact, for tests). Rows are written from F32 with `write_k` / `write_v`. Allocated
// once at the full capacity so decoding never reallocates. Positions are contiguous: the
// cache grows by appending and shrinks by truncation (`truncate`), which is how a
// conversation rewinds to a shared prefix. Not thread-safe; owned by one Session. The
// forward pass writes rows [n_past, n_past + n) and then calls `advance`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hearth/engine.h"

namespace hearth {

class KvCache {
 public:
  // Q8_0 needs kv_dim to be a multiple of 32 (asserted; Session falls back to F16 when the
  // model's head_dim is not).
  KvCache(int64_t n_layer, int64_t capacity, int64_t kv_dim, KvCacheType type = KvCacheType::kF16);

  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t n_layer() const { return static_cast<int64_t>(k_.size()); }
  KvCacheType type() const { return type_; }
  // Bytes of one row (one position of one layer).
  size_t row_bytes() const { return row_bytes_; }
  // Bytes of `n` consecutive elements of a row; n must be a multiple of 32 for Q8_0.
  size_t bytes_of(int64_t n) const;

  // Row of keys/values for `pos` in `layer`, in the cache's type; pos < capacity.
  const uint8_t* k(int64_t layer, int64_t pos) const { return k_[layer].data() + pos * row_bytes_; }
  const uint8_t* v(int64_t layer, int64_t pos) const { return v_[layer].data() + pos * row_bytes_; }
  // Converts kv_dim floats into the row for `pos`.
  void write_k(int64_t layer, int64_t pos, const float* row);
  void write_v(int64_t layer, int64_t pos, const float* row);
  // The stored row back as kv_dim floats (tests, debugging).
  void read_k(int64_t layer, int64_t pos, float* out) const;
  void read_v(int64_t layer, int64_t pos, float* out) const;

  // Marks n more positions as filled; the caller has written them in every layer.
  void advance(int64_t n) { n_past_ += n; }
  // Drops every position >= pos (seq_rm from pos); no-op when pos >= n_past.
  void truncate(int64_t pos);
  void clear() { n_past_ = 0; }

  size_t bytes() const;

 private:
  void write_row(uint8_t* dst, const float* row) const;
  void read_row(const uint8_t* src, float* out) const;

  int64_t capacity_;
  int64_t kv_dim_;
  KvCacheType type_;
  size_t row_bytes_;
  int64_t n_past_ = 0;
  std::vector<std::vector<uint8_t>> k_;
  std::vector<std::vector<uint8_t>> v_;
};

}  // namespace hearth
