// Byte offsets inside the units of the interleaved layout (interleave_layout.h), shared by the
// portable code, the AVX-512 kernels and the GEMM's group decoders. Each unit is stored in the
// order the kernels read it, so a thread's stream through a matrix only moves forward (the
// hardware prefetcher lost track of a Q6_K layout that went back and forth: 2.6x slower from
// DRAM).
#pragma once

#include <cstdint>

namespace hearth::interleave {

inline constexpr int64_t kVector = 64;  // one 512-bit vector: 4 bytes of each of 16 rows

// Q8_0 / Q4_0 / Q5_0: pairs of 32-column blocks: [F16 scales of block b (16), of block b + 1
// (16)][codes of b: 8 (Q8_0) or 4 (Q4_0) vectors, or (Q5_0) a vector of fifth bits and 4
// vectors][codes of b + 1].
inline constexpr int64_t kPairScalesBytes = kVector;
inline constexpr int64_t kQ8_0BlockCodes = 8 * kVector;
inline constexpr int64_t kQ4_0BlockCodes = 4 * kVector;
inline constexpr int64_t kQ5_0FifthBits = kVector;  // 8 masks of 64 bits, one per step
inline constexpr int64_t kQ5_0BlockCodes = kQ5_0FifthBits + 4 * kVector;
// Q4_1 / Q5_1: as Q4_0 / Q5_0, with the blocks' F16 mins after their scales: [scales of b]
// [scales of b + 1][mins of b (16)][mins of b + 1 (16)][codes of b][codes of b + 1].
inline constexpr int64_t kPairMinsAt = kPairScalesBytes;
inline constexpr int64_t kPairScalesMinsBytes = 2 * kVector;

// Q4_K super-block: [packed scales: 3 vectors][F16 d x 16][F16 dmin x 16][codes: 4 pairs of
// sub-blocks, 8 vectors each].
inline constexpr int64_t kQ4KScalesAt = 0;
inline constexpr int64_t kQ4KDAt = 3 * kVector;
inline constexpr int64_t kQ4KDminAt = kQ4KDAt + 32;
inline constexpr int64_t kQ4KCodesAt = kQ4KDminAt + 32;
inline constexpr int64_t kQ4KBytes = kQ4KCodesAt + 32 * kVector;  // 2304 = 16 x 144

// Q5_K super-block: Q4_K's, with each pair of sub-blocks preceded by its fifth bits: for each
// of the pair's 2 sub-blocks, 8 masks of 64 bits, one per 4-element step (bit 4 i + j of a
// step's mask is the fifth bit of the byte 4 i + j of that step's code vector).
inline constexpr int64_t kQ5KPairMasks = 2 * kVector;
inline constexpr int64_t kQ5KPairBytes = kQ5KPairMasks + 8 * kVector;
inline constexpr int64_t kQ5KCodesAt = kQ4KCodesAt;                    // the first pair's masks
inline constexpr int64_t kQ5KBytes = kQ5KCodesAt + 4 * kQ5KPairBytes;  // 2816 = 16 x 176

// Q6_K super-block: 2 halves of [2 scale vectors][2 parts of [4 qh vectors][4 ql vectors][4
// ql vectors]], then F16 d x 16.
inline constexpr int64_t kQ6KPartBytes = 12 * kVector;
inline constexpr int64_t kQ6KHalfBytes = 2 * kVector + 2 * kQ6KPartBytes;
inline constexpr int64_t kQ6KDAt = 2 * kQ6KHalfBytes;
inline constexpr int64_t kQ6KBytes = kQ6KDAt + 32;  // 3360 = 16 x 210

}  // namespace hearth::interleave
