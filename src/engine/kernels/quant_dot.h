// Row dot products between one weight row and a small tile of activation rows, with the
// activations pre-quantized once per matmul call. Internal to the kernels module.
//
// Legacy weight formats (Q4_0 .. Q8_0) pair with 32-element Q8 activation blocks, K-quants
// with Q8_K super-blocks, float formats with the F32 activations themselves. The products
// are integer sums per block, scaled in float. Every SIMD kernel must give exactly the
// scalar kernel's integer block sums; only the float accumulation order may differ.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor/quant_blocks.h"
#include "engine/tensor/types.h"

namespace hearth {

struct KernelTable;

// Activation rows processed together against one weight row (weights decoded once).
inline constexpr int kMaxTokenTile = 4;

// Q8 activations for legacy weights: value = d * q. `ds` = d * sum(q) feeds the offset terms
// (the -8 of Q4_0, the min of Q4_1), so they cost one multiply per block.
struct BlockQ8Act {
  float d;
  float ds;
  int8_t qs[kLegacyBlock];
};
static_assert(sizeof(BlockQ8Act) == 40);

// kBF16: one bfloat16 per element, rounded as vcvtne2ps2bf16 does (to_bf16_like_hardware).
enum class ActivationFormat { kF32, kQ8, kQ8K, kBF16 };

// The format the row-dot kernels of `kernels` take. Only BF16 weights in a table with
// bf16_activations differ from the one-argument form: they take BF16 activations.
ActivationFormat activation_format(TensorType weight_type, const KernelTable& kernels);
// The format of tables without bf16_activations.
ActivationFormat activation_format(TensorType weight_type);
size_t activation_row_bytes(ActivationFormat format, int64_t n);
// The portable quantizer; the kernel tables' quantize_activation_row gives the same bits.
void quantize_activation_row(ActivationFormat format, const float* x, void* dst, int64_t n);
// The same, bit for bit, with AVX-512 vectors (kBF16 rows with the portable code), and with
// vcvtne2ps2bf16 for kBF16 rows too.
void avx512_quantize_activation_row(ActivationFormat format, const float* x, void* dst, int64_t n);
void avx512bf16_quantize_activation_row(ActivationFormat format, const float* x, void* dst,
                                        int64_t n);
void avx512bf16_convert_row(const float* x, uint16_t* dst, int64_t n);

// F32 -> BF16 as the AVX512-BF16 converters do it: round to nearest even, but zero (keeping
// the sign) for subnormal inputs, which fp32_to_bf16 rounds instead.
uint16_t to_bf16_like_hardware(float x);

// out[t] = sum_k w[k] * a_t[k] for t < n_act (1..kMaxTokenTile); activation row t starts at
// act + t * act_stride bytes.
using RowDotFn = void (*)(int64_t n, const void* weight_row, const void* act, size_t act_stride,
                          int n_act, float* out);

// Kernels of one instruction set; nullptr where it has no kernel for the type.
RowDotFn scalar_row_dot(TensorType weight_type);
RowDotFn avx2_row_dot(TensorType weight_type);
RowDotFn avx512_row_dot(TensorType weight_type);
// BF16 weights against kBF16 activations (null for other types): the portable reference, and
// vdpbf16ps with F32 accumulation. Products of two BF16 values are exact in F32, so the two
// differ only by the order of the F32 additions.
RowDotFn scalar_bf16_act_row_dot(TensorType weight_type);
RowDotFn avx512bf16_row_dot(TensorType weight_type);

// The kernel of `kernels`, or of the first table down its fallbacks that has one, that takes
// activation_format(weight_type, kernels) (never null for a type matmul supports). Resolve
// it once per call, not per row.
RowDotFn find_row_dot(TensorType weight_type, const KernelTable& kernels);

// out[t * out_stride + r] = row r . activation t for 4 Q8_0 rows in the file's layout,
// row_stride bytes apart, and n_act (1..kMaxTokenTile) Q8 activation rows, act_stride bytes
// apart: each activation block is loaded once for the 4 rows. (The interleaved layout does
// better; this serves matrices that are not interleaved.)
void avx512_q8_0_dot_4rows(int64_t n, const void* rows, int64_t row_stride, const void* act,
                           size_t act_stride, int n_act, float* out, int64_t out_stride);
// The AVX-512 tables' KernelTable::row_dot_4rows: the kernel above for Q8_0, else null.
using RowDot4Fn = void (*)(int64_t n, const void* rows, int64_t row_stride, const void* act,
                           size_t act_stride, int n_act, float* out, int64_t out_stride);
RowDot4Fn avx512_row_dot_4rows(TensorType weight_type);
// Measured with `hearth serve --parallel 4` + bench/load.mjs: 4 streams 96 tok/s against 91
// one row at a time; with 2 tokens it was slower.
inline constexpr int kAvx512RowDot4MinTokens = 3;

}  // namespace hearth

namespace hearth {

class ThreadPool;
struct WeightMatrix;

// matmul() with an explicit kernel table (tests and benchmarks compare tables with it).
void matmul_with_kernels(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                         ThreadPool* pool, const KernelTable& kernels);

}  // namespace hearth
