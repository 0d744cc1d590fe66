// The split row layout for Q8_0 and Q4_0 weights, and the activation rows its kernels read.
//
// A GGUF Q8_0 or Q4_0 row interleaves a 2-byte scale with every 32-weight block (34 or 18
// bytes a block), so a 64-byte vector load straddles scales and codes and must be shuffled
// apart for every token. Decoding (one token, or a few sequences together) is bound by how
// few instructions it spends per weight byte, so the AVX-512 level rewrites such rows once at
// load time:
//
//   split row = [codes of every block, in block order][F16 scale of every block][zeros]
//
// padded to a multiple of 64 bytes. The codes go in units of 4 blocks (128 weights), laid out
// so that 32-bit lane l of a 512-bit vector always belongs to block l / 4:
//   Q4_0: the 4 blocks' 16 packed bytes, unchanged (64 bytes): low nibbles are elements
//         0..15 of each block, high nibbles 16..31;
//   Q8_0: elements 0..15 of each block (64 bytes), then elements 16..31 of each (64 bytes),
//         stored as the unsigned byte q + 128, so the weights are vpdpbusd's unsigned
//         operand and the activations stay signed.
// A matrix is split only when its rows hold whole units.
//
// The matching activations (one row per token) are quantized exactly as the GGUF path's
// BlockQ8Act (same codes and scales, so the products are the same up to float rounding)
// and stored per unit: the codes in the order the unit's weight bytes meet them, the integer
// term that removes the weights' code offset (128 or 8) per lane, and each lane's activation
// scale. A unit then costs two vpdpbusd, one conversion and two float operations per token,
// and its weights are loaded and widened once for all the tokens of a tile.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor/types.h"

namespace hearth {

struct BlockQ8Act;

inline constexpr int kSplitUnit = 128;  // weights (4 blocks) per unit
inline constexpr int kSplitLanes = 16;  // int32 lanes of one unit's sums: 4 per block

// Weight code bytes of one unit: 128 for Q8_0, 64 for Q4_0.
int64_t split_unit_bytes(TensorType type);

// The activation unit: 128 elements. codes[16 j + i] is element 32 j + i and codes[64 + 16 j
// + i] element 32 j + 16 + i of the unit (block j < 4, i < 16), the order in which the
// weights' first and second 64-byte halves (Q8_0) or low and high nibbles (Q4_0) meet them.
struct SplitAct {
  int8_t codes[kSplitUnit];
  int32_t offset_sums[kSplitLanes];  // -offset * (sum of the 8 codes lane l multiplies)
  float scales[kSplitLanes];         // d of the block lane l belongs to
};
static_assert(sizeof(SplitAct) == 256);
// True when rows of `cols` elements of `type` can be split.
bool can_split(TensorType type, int64_t cols);
// Bytes of one split row (a multiple of 64).
int64_t split_row_bytes(TensorType type, int64_t cols);

// Rewrites `rows` GGUF rows at src into split rows at dst (rows * split_row_bytes bytes).
// Requires can_split(type, cols).
void split_rows(TensorType type, const void* src, int64_t rows, int64_t cols, void* dst);
// Decodes one split row to F32 (embedding lookups, reference paths).
void dequantize_split_row(TensorType type, const void* row, float* dst, int64_t cols);

// Activation rows for split weights: bytes of one, and packing from the Q8 blocks the GGUF
// path uses (n / 32 blocks), so both paths see the same quantized values. The offset term
// depends on the weight type.
size_t split_activation_bytes(int64_t n);
void pack_split_activation(TensorType type, const BlockQ8Act* blocks, int64_t n, SplitAct* dst);

}  // namespace hearth
