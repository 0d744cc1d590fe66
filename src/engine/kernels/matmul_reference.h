// The reference matmul: dequantize each weight row to F32, then F32 dot products. Slow but
// obviously right; the SIMD paths are tested against it and it serves any type the fast paths
// do not cover.
#pragma once

#include <cstdint>

#include "engine/kernels/matmul.h"

namespace hearth {

void matmul_reference(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                      ThreadPool* pool);

// F32 dot product with several independent accumulators (vectorizable, and less rounding
// drift than one serial sum on long rows).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace hearth
