// Key/value cache of one sequence: for every layer, the RoPE'd keys and the values of the
// tokens evaluated so far, at positions 0 .. n_past-1.
//
// Storage is head-major: for every layer and KV head, one row of `head_dim` elements per
// position, so that attention, which reads one head's keys and values for all positions per
// generated token, reads two forward streams instead of a slice of every position's row. The
// element type is F16 by default (half the memory traffic of F32 for attention, which at long
// contexts reads the whole cache once per generated token), Q8_0 (blocks of 32 with an F16
// scale, ~1/4 of F32) or F32 (exact, for tests). Rows are written from F32 with `write_k` /
// `write_v`, one position's `kv_dim` values (all heads) at a time. Allocated once at the full
// capacity so decoding never reallocates. Positions are contiguous: the cache grows by
// appending and shrinks by truncation (`truncate`), which is how a conversation rewinds to a
// shared prefix. Not thread-safe; owned by one Session. The forward pass calls `reserve(n)`,
// writes positions [n_past, n_past + n) and then calls `advance`.
//
// Sliding-window layers (gemma3's local layers) keep only what their window can still see: a
// layer with window W holds `rows` = min(capacity, W - 1 + max_batch) positions starting at
// its `layer_base`, enough for the W - 1 positions before a batch plus the batch itself. When a
// batch would run past the end, `reserve` moves the last rows - n positions to the front (a
// memmove per head, once per rows - W + 1 tokens). Rewinding into positions a windowed layer
// has dropped clears the whole cache (`truncate` returns what is left).
//
// Why it lives in models/ and not in runtime/: the forward pass (models/forward.h) writes and
// attention reads this storage, and the layering lets models/ depend only on layers below it.
// The Session (runtime/) owns one cache per conversation and hands it to `forward`; so the
// type belongs to the layer that defines its layout, and runtime/ depends on it, not the
// reverse. It stays in namespace hearth so the forward declaration in the public engine header
// holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hearth/model_info.h"
#include "hearth/status.h"

namespace hearth {

class KvCache {
 public:
  // Q8_0 needs head_dim to be a multiple of 32 (asserted; Session falls back to F16 when the
  // model's head_dim is not).
  KvCache(int64_t n_layer, int64_t capacity, int64_t n_head_kv, int64_t head_dim,
          KvCacheType type = KvCacheType::kF16);
  // With per-layer windows (0 = the layer sees everything), for batches of up to `max_batch`
  // tokens per forward pass.
  KvCache(int64_t capacity, int64_t n_head_kv, int64_t head_dim, KvCacheType type,
          const std::vector<int64_t>& layer_windows, int64_t max_batch);

  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  int64_t n_head_kv() const { return n_head_kv_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t kv_dim() const { return n_head_kv_ * head_dim_; }
  int64_t n_layer() const { return static_cast<int64_t>(k_.size()); }
  KvCacheType type() const { return type_; }
  // Bytes of one head's row (one position); position p of a head lies p * head_row_bytes()
  // after its position 0.
  size_t head_row_bytes() const { return head_row_bytes_; }
  // Bytes of `n` consecutive elements of a row; n must be a multiple of 32 for Q8_0.
  size_t bytes_of(int64_t n) const;

  // Keys/values of `head` in `layer` at position layer_base(layer), in the cache's type.
  const uint8_t* k_head(int64_t layer, int64_t head) const {
    return k_[layer].data() + head * head_bytes(layer);
  }
  const uint8_t* v_head(int64_t layer, int64_t head) const {
    return v_[layer].data() + head * head_bytes(layer);
  }
  // First position `layer` holds (0 unless it is a windowed layer that has moved on).
  int64_t layer_base(int64_t layer) const { return layers_[layer].base; }
  // Positions `layer` can hold at once.
  int64_t layer_rows(int64_t layer) const { return layers_[layer].rows; }
  // Makes room to write positions [n_past, n_past + n) in every layer. Errors: more than
  // capacity, or a batch larger than a windowed layer was sized for.
  Status reserve(int64_t n);
  // Converts one position's kv_dim floats (head after head) into the cache.
  void write_k(int64_t layer, int64_t pos, const float* row);
  void write_v(int64_t layer, int64_t pos, const float* row);
  // One position's kv_dim floats back (tests, debugging).
  void read_k(int64_t layer, int64_t pos, float* out) const;
  void read_v(int64_t layer, int64_t pos, float* out) const;

  // Marks n more positions as filled; the caller has written them in every layer.
  void advance(int64_t n) { n_past_ += n; }
  // Drops every position >= pos (seq_rm from pos); no-op when pos >= n_past. When a windowed
  // layer no longer holds the window that position pos would attend to, drops everything.
  // Returns the new n_past.
  int64_t truncate(int64_t pos);
  void clear();

  size_t bytes() const;

 private:
  struct Layer {
    int64_t window = 0;  // 0: every position
    int64_t rows = 0;    // positions held
    int64_t base = 0;    // position of row 0
  };
  // Bytes of one head's rows in `layer`.
  size_t head_bytes(int64_t layer) const {
    return static_cast<size_t>(layers_[layer].rows) * head_row_bytes_;
  }
  void allocate();
  void write_row(int64_t layer, std::vector<uint8_t>& data, int64_t pos, const float* row) const;
  void read_row(int64_t layer, const std::vector<uint8_t>& data, int64_t pos, float* out) const;

  int64_t capacity_;
  int64_t n_head_kv_;
  int64_t head_dim_;
  KvCacheType type_;
  size_t head_row_bytes_;
  int64_t n_past_ = 0;
  std::vector<Layer> layers_;
  std::vector<std::vector<uint8_t>> k_;
  std::vector<std::vector<uint8_t>> v_;
};

}  // namespace hearth
