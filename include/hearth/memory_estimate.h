// How much memory a model takes once loaded: the one estimate that the catalog (which variant
// fits this machine), the server (its --memory-budget: both the check before a load and the
// accounting after it) and `hearth bench` (the expected residency) use.
//
// A loaded model holds its weights (the GGUF file, mapped) and one KV cache per session, each
// allocated for all n_ctx positions up front. Plain functions; thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hearth/model_info.h"

namespace hearth {

// What sizes a KV cache: per layer, keys and values for n_head_kv heads of head_dim values.
struct KvShape {
  int64_t n_layer = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  // Of those layers, how many attend through a sliding window, and the positions each of
  // them keeps: window - 1 + the session's batch (kv_cache.h).
  int64_t n_swa_layers = 0;
  int64_t swa_rows = 0;
};

// The cache shape of a decoder's sessions evaluating up to n_batch tokens per pass.
inline KvShape kv_shape_of(const ModelInfo& info, int n_batch) {
  if (info.embedding_only) return {};
  KvShape shape{info.n_layer, info.n_head_kv, info.head_dim};
  if (info.n_swa > 0 && info.n_swa_layers > 0) {
    shape.n_swa_layers = info.n_swa_layers;
    shape.swa_rows = int64_t{info.n_swa} - 1 + std::max(1, n_batch);
  }
  return shape;
}

// The cache type a session really gets: Q8_0 blocks (32 values) must not straddle heads, so a
// head_dim that is not a multiple of 32 falls back to F16.
inline KvCacheType effective_kv_type(const KvShape& shape, KvCacheType requested) {
  return requested == KvCacheType::kQ8_0 && shape.head_dim % 32 != 0 ? KvCacheType::kF16
                                                                     : requested;
}

// Bytes of one value row of `head_dim` values in a cache of `type`.
inline uint64_t kv_row_bytes(int64_t head_dim, KvCacheType type) {
  const auto n = static_cast<uint64_t>(std::max<int64_t>(0, head_dim));
  switch (type) {
    case KvCacheType::kF32: return n * 4;
    case KvCacheType::kF16: return n * 2;
    case KvCacheType::kQ8_0: return n / 32 * 34;  // an F16 scale and 32 int8 per block
  }
  return n * 2;
}

// Bytes of one session's KV cache of n_ctx positions: what Session::kv_cache_bytes() reports.
inline uint64_t kv_cache_bytes(const KvShape& shape, int64_t n_ctx, KvCacheType type) {
  const KvCacheType actual = effective_kv_type(shape, type);
  const int64_t ctx = std::max<int64_t>(0, n_ctx);
  const int64_t n_swa =
      std::clamp<int64_t>(shape.n_swa_layers, 0, std::max<int64_t>(0, shape.n_layer));
  const int64_t swa_rows = shape.swa_rows > 0 ? std::min(ctx, shape.swa_rows) : ctx;
  const auto positions = static_cast<uint64_t>(std::max<int64_t>(0, shape.n_layer) - n_swa) *
                             static_cast<uint64_t>(ctx) +
                         static_cast<uint64_t>(n_swa) * static_cast<uint64_t>(swa_rows);
  return 2ull * static_cast<uint64_t>(std::max<int64_t>(0, shape.n_head_kv)) * positions *
         kv_row_bytes(shape.head_dim, actual);
}

// A loaded model: its file plus `n_sessions` KV caches (an encoder, whose shape has no layers
// to cache, needs none). Scratch buffers and the runtime are small beside these and left out,
// so that a budget means the same to the user as the sizes `hearth model list` shows.
inline uint64_t model_memory_bytes(uint64_t file_bytes, const KvShape& shape, int64_t n_ctx,
                                   int n_sessions, KvCacheType type) {
  return file_bytes +
         static_cast<uint64_t>(std::max(0, n_sessions)) * kv_cache_bytes(shape, n_ctx, type);
}

// The same before the file has been read (a catalog variant not downloaded yet), when only
// its size is known: one session's cache is taken as a quarter of the file at F16 (scaled to
// the type's bytes per value), plus 64 MiB for scratch, a guess on the safe side.
inline uint64_t model_memory_guess(uint64_t file_bytes, KvCacheType type) {
  const uint64_t f16_cache = file_bytes / 4;
  uint64_t cache = f16_cache;
  if (type == KvCacheType::kF32) cache = f16_cache * 2;
  if (type == KvCacheType::kQ8_0) cache = f16_cache / 64 * 34;
  return file_bytes + cache + (64ull << 20);
}

}  // namespace hearth
