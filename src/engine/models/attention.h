// Causal GQA self-attention of a batch's queries over their sequences' KV caches.
//
// Flash-attention style tiles with an online (streaming) softmax, so no score array of the
// context's length is kept. A tile is a block of consecutive query tokens of one sequence
// times the query heads that share one KV head (prefill: up to ~112 query rows; decode:
// the group of one token) against blocks of kTileKeys keys. Each key block is converted from
// the cache type (F16 / Q8_0 / F32) to F32 once per tile, keys transposed so that scores
// come out of FMAs with the keys in the vector lanes (no horizontal sum per key), and the
// exponentials are vectorized. Work is split over (query block, KV head) pairs and, when
// those are too few to occupy the threads (single-token decode), over chunks of the keys
// whose partial results are merged afterwards. The tile kernel is the active kernel table's
// (kernels/attention_tile.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/kernels/attention_tile.h"
#include "engine/models/forward.h"

namespace hearth {
struct KernelTable;
}  // namespace hearth

namespace hearth::models {

// Row t of `s.q` (rotated queries, n_head x head_dim) attends positions [0, s.row_pos[t]]
// (or the sliding window's part of them) of the cache of sequence s.row_seq[t], whose rows
// for this batch are already written. Writes n_tokens x q_dim floats to `out`.
void attention(const HyperParams& hp, std::span<const SequenceBatch> seqs, int64_t layer,
               ForwardScratch& s, float* out, ThreadPool* pool);

namespace attention_detail {

// attention() with the tile of `kernels` (tests compare every table the CPU can run).
void attention_with_kernels(const KernelTable& kernels, const HyperParams& hp,
                            std::span<const SequenceBatch> seqs, int64_t layer, ForwardScratch& s,
                            float* out, ThreadPool* pool);

// The tile (kernels/attention_tile.h) under the names this file's users know.
using attn::kMaxLanes;
using attn::kTileKeys;
using attn::tile_work_floats;
using attn::TileLayout;
using attn::TileSpan;

}  // namespace attention_detail
}  // namespace hearth::models
