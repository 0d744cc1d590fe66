// Causal GQA self-attention of a batch's queries over their sequences' KV caches.
//
// One pass over the keys per query with an online (streaming) softmax, so no score array
// of the context's length is kept. The query heads that share a KV head are processed
// together, so each cached key and value row is loaded and converted from the cache type
// (F16 / Q8_0 / F32) once for the whole group. Work is split over (token, KV head) pairs and,
// when those are too few to occupy the threads (single-token decode), over chunks of the
// keys whose partial results are merged afterwards. SIMD at the level that
// active_kernel_level() allows, with a scalar fallback.
#pragma once

#include <cstdint>
#include <span>

#include "engine/models/forward.h"

namespace hearth::models {

// Row t of `s.q` (rotated queries, n_head x head_dim) attends positions [0, s.row_pos[t]]
// (or the sliding window's part of them) of the cache of sequence s.row_seq[t], whose rows
// for this batch are already written. Writes n_tokens x q_dim floats to `out`.
void attention(const HyperParams& hp, std::span<const SequenceBatch> seqs, int64_t layer,
               ForwardScratch& s, float* out, ThreadPool* pool);

namespace attention_detail {

// The inner loop, one instance per kernel level: online softmax of `group` query heads
// over keys [begin, end) of one KV head. m, l: running max and sum per head; acc: the
// unnormalized weighted sum of values, group x hd. `work` holds kBlock * group + 2 * hd floats.
struct KeySpan {
  const uint8_t* k = nullptr;  // key row of position 0, offset to this KV head
  const uint8_t* v = nullptr;
  size_t row_bytes = 0;
  KvCacheType type = KvCacheType::kF16;
  int64_t begin = 0;
  int64_t end = 0;
  const float* q = nullptr;  // group x hd, contiguous
  int64_t group = 1;
  int64_t hd = 0;
  float scale = 1;
  float* m = nullptr;
  float* l = nullptr;
  float* acc = nullptr;
  float* work = nullptr;
};
inline constexpr int64_t kBlock = 32;  // keys scored before one softmax rescale

void attend_scalar(const KeySpan& span);
void attend_avx2(const KeySpan& span);
void attend_avx512(const KeySpan& span);

}  // namespace attention_detail
}  // namespace hearth::models
