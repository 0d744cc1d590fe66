// Conversion between F32 rows and the block formats of GGUF tensors.
//
// A "row" is n consecutive elements; n must be a multiple of the type's block size (see
// types.h). Block layouts are the on-disk GGML ones and are declared in quant_blocks.h.
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor/types.h"

namespace hearth {

// Types dequantize_row accepts: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K, Q8_K.
bool can_dequantize(TensorType type);
// Types quantize_row accepts: the same list.
bool can_quantize(TensorType type);

// Expands n elements of `type` at src into dst. Unsupported types are a programmer error
// (asserted); check can_dequantize first.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Encodes n floats into dst, which must hold row_bytes(traits(type), n) bytes. Returns the
// number of bytes written (0 for an unsupported type).
size_t quantize_row(TensorType type, const float* src, void* dst, int64_t n);

}  // namespace hearth
