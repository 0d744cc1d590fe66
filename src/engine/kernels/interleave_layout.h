// The interleaved layout for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K weights: 16
// rows side by side, one row per 32-bit lane, and the activation blocks its kernels read.
//
// The row-dot kernels give every output row its own accumulator and reduce it across lanes
// at the end, and decoding several tokens costs them float work per block, row and token.
// With 16 rows interleaved 4 bytes at a time, one 64-byte load holds 4 codes of each of 16
// rows; a vpdpbusd of it against a token's 4 activation codes (broadcast) adds 4 products to
// all 16 rows, so a 32-weight block costs 8 of them plus 3 float operations per token for 16
// rows, the weights are loaded once for every token of a step, and 16 results leave in one
// store. The model loader rewrites such matrices once, when the kernel table has
// interleaved_weights (AVX-512 and the tables above it) and cols % 64 == 0
// (K-quants: whole 256-element super-blocks):
//
//   matrix = groups of 16 rows; group = pairs of 32-column blocks, in column order;
//   pair   = [F16 scales of block b (16)][scales of b + 1][codes of block b][codes of b + 1]
//   codes  = 8 steps (Q8_0) of 64 bytes; byte 4 i + j of step s is element 4 s + j of row i,
//            stored as q + 128 (the unsigned operand of vpdpbusd);
//            4 steps (Q4_0) of 64 bytes; byte 4 i + j of step s holds element 4 s + j of row i
//            in its low nibble and element 16 + 4 s + j in its high nibble (codes 0..15);
//            Q5_0: 8 masks of 64 bits, then Q4_0's 4 steps of nibbles; bit 4 i + j of mask k
//            is the fifth bit (qh) of element 4 k + j of row i (codes 0..31).
//   Q4_1 / Q5_1: as Q4_0 / Q5_0, with the F16 mins of blocks b and b + 1 after the scales.
//
//   Q4_K: group = super-blocks in column order, each 2304 bytes:
//   [the 12 packed scale/min bytes of every row: 3 vectors, dword i of vector k = bytes
//    4 k .. 4 k + 3 of row i's]  [F16 d of the 16 rows]  [F16 dmin of the 16 rows]
//   [codes: 4 pairs of sub-blocks x 8 steps of 64 bytes; byte 4 i + j of step s of pair p is
//    byte 32 p + 4 s + j of row i's qs: sub-block 2 p's element 4 s + j in its low nibble,
//    sub-block 2 p + 1's in its high nibble]
//
//   Q5_K: as Q4_K (2816 bytes), with each pair's 8 steps preceded by 16 masks of 64 bits:
//   masks 0..7 for sub-block 2 p, 8..15 for 2 p + 1, one per step; bit 4 i + j of a mask is
//   the fifth bit (qh) of the element whose code is in byte 4 i + j of that step.
//
//   Q6_K: super-blocks of 3360 bytes: 2 halves (elements 128 h ..) of [2 scale vectors
//   (dword i of vector k = row i's scales[4 (2 h + k) ..] 4 bytes)][2 parts p of 768 bytes:
//   [4 qh vectors][4 ql vectors][4 more ql vectors]: vector t holds, for each row, the 4
//   bytes qh[32 h + l], ql[64 h + l] and ql[64 h + 32 + l] for l = 16 p + 4 t ..], then the
//   rows' F16 d. A part gives 4 sub-blocks of 16 elements (one per quarter of its half), so
//   the kernel reads a super-block front to back.
//
// A group takes exactly the bytes its 16 rows take in the file (34, 18, 20, 22, 24, 144, 176
// or 210 per block), so group g starts 16 g file rows into the matrix, and every pair is a
// whole number of 64-byte lines; each unit is stored in the order the kernels read it
// (interleave_offsets.h). When rows % 16 != 0 the last group is padded with zero rows (an
// output head of 151669 rows gains 11, 0.007%).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor/types.h"

namespace hearth {

struct KernelTable;

inline constexpr int kInterleaveRows = 16;

// True when a rows x cols matrix of `type` can be interleaved.
bool can_interleave(TensorType type, int64_t rows, int64_t cols);
// Bytes of the interleaved matrix: the file's bytes for whole groups of rows.
int64_t interleaved_bytes(TensorType type, int64_t rows, int64_t cols);

// Rewrites a matrix from the file's layout at src into the interleaved layout at dst
// (interleaved_bytes of it). Requires can_interleave.
void interleave_rows(TensorType type, const void* src, int64_t rows, int64_t cols, void* dst);
// Decodes row `row` of an interleaved matrix starting at `matrix` to F32.
void dequantize_interleaved_row(TensorType type, const void* matrix, int64_t row, int64_t cols,
                                float* dst);

// One 32-element activation block of one token for the legacy formats: the Q8 codes and
// scale the file layout's kernels use (same quantizer, same values), and either the integer
// term that removes the weights' code offset (128 for Q8_0, 8 for Q4_0, 16 for Q5_0) from a
// block's sum, -offset * sum(qs), or (Q4_1 / Q5_1) d * sum(qs), which the weights' min
// multiplies.
struct InterleavedAct {
  float d;
  union {
    int32_t offset_sum;
    float ds;
  };
  int8_t qs[32];
};
static_assert(sizeof(InterleavedAct) == 40);

// One 256-element activation block for Q4_K, Q5_K and Q6_K: the Q8_K codes and scale, the sum
// of the codes of each 32-element sub-block as a float (for the mins of Q4_K and Q5_K), and -32
// times the sum of each 16 codes (Q6_K's code offset).
struct InterleavedActK {
  float d;
  float sub_sums[8];
  int32_t offset_sums[16];
  int8_t qs[256];
};
static_assert(sizeof(InterleavedActK) == 356);

// Bytes of one token's activation row of n elements, for weights of `weight_type`.
size_t interleaved_activation_bytes(TensorType weight_type, int64_t n);
// Quantizes n floats (whole blocks) for weights of `weight_type` into InterleavedAct or, for
// K-quants, InterleavedActK blocks, with the quantizer of `kernels`.
void quantize_interleaved_activation(TensorType weight_type, const float* x, int64_t n, void* dst,
                                     const KernelTable& kernels);

// Most tokens one kernel call takes.
inline constexpr int kInterleaveMaxTokens = 8;

// out[t * out_stride + i] = row i of the 16-row group at `group` . token t, for t < n_act
// (1..kInterleaveMaxTokens); token t's activation row starts act_stride * t bytes after act.
using InterleavedDotFn = void (*)(int64_t cols, const void* group, const void* act,
                                  size_t act_stride, int n_act, float* out, int64_t out_stride);

// The portable kernel (the reference for the vector one, and the fallback below AVX-512)
// evaluates the same float expressions in the same order as the AVX-512 kernel, so both agree
// exactly: per row, block by block, fma(block sum, weight d * activation d, sum) (Q4_K: per
// super-block s = fma(sub-block sum, d * scale, s) then fma(-(dmin * min), code sum, s) for
// each sub-block, and sum = fma(s, activation d, sum); Q6_K: s = fma(16-element sum, scale,
// s) per 16 elements in layout order, and sum = fma(s, d * activation d, sum)).
InterleavedDotFn scalar_interleaved_dot(TensorType weight_type);
InterleavedDotFn avx512_interleaved_dot(TensorType weight_type);
// The kernel of `kernels`, or of the first table down its fallbacks that has one.
InterleavedDotFn find_interleaved_dot(TensorType weight_type, const KernelTable& kernels);

}  // namespace hearth
