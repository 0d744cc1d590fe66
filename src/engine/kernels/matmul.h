// Matrix products between quantized weights and F32 activations: the engine's hot path.
//
// Weights are stored row-major as GGUF lays them out: `rows` rows of `cols` elements each,
// every row `row_bytes(type, cols)` bytes. Activations are F32, one row of `cols` per token.
// Implementations are chosen at run time from the CPU's features (see kernels/kernel_table.h);
// every path computes the same product up to the rounding its format implies.
//
// Thread-safety: the functions are reentrant; `pool` may be null for single-threaded work.
#pragma once

#include <cstdint>
#include <span>

#include "engine/tensor/types.h"

namespace hearth {

class ThreadPool;

// How a matrix's rows are stored. kGguf: as the file has them. kInterleaved: rewritten at
// load time for the AVX-512 kernels, 16 rows side by side in the bytes the file gives them
// (kernels/interleave_layout.h).
enum class WeightLayout : uint8_t { kGguf, kInterleaved };

struct WeightMatrix {
  TensorType type = TensorType::F32;
  const void* data = nullptr;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features (the dot-product length)
  WeightLayout layout = WeightLayout::kGguf;
};

// Bytes from one row to the next (kInterleaved: from one 16-row group to the next, / 16).
int64_t weight_row_stride(const WeightMatrix& w);

// out[t * w.rows + r] = sum_k w[r, k] * in[t * w.cols + k]   for t < n_tokens, r < w.rows
void matmul(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out, ThreadPool* pool);

// matmul() of several matrices against the same activations (q/k/v, gate/up):
// out[i] = w[i] x in. Matrices of one type share the activations' quantization and one
// parallel loop, which saves a pass over the input and the pool round trips.
void matmul_many(std::span<const WeightMatrix* const> w, const float* in, int64_t n_tokens,
                 std::span<float* const> out, ThreadPool* pool);

// Copies row `row` of an embedding-style matrix into dst as F32 (token embedding lookup).
void get_row(const WeightMatrix& w, int64_t row, float* dst);

}  // namespace hearth
