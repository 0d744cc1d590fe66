// Tensor element types as numbered in GGUF files, and their block layouts.
//
// Quantized types store values in fixed-size blocks: `block_size` elements take `type_size`
// bytes. A row of n elements (n a multiple of block_size) takes n / block_size * type_size
// bytes. The numbering is the on-disk one and must never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;
  int64_t block_size;  // elements per block (1 for plain types)
  int64_t type_size;   // bytes per block
  bool computable;     // the engine can dequantize / compute with it
};

// Traits for a raw GGUF type id, or nullopt when the id is not a type hearth knows the size
// of (such a file cannot even be laid out, so the GGUF reader rejects it).
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type);
const TensorTypeTraits& traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

// Bytes taken by a row of n elements; n must be a multiple of the block size.
inline int64_t row_bytes(const TensorTypeTraits& t, int64_t n) {
  return n / t.block_size * t.type_size;
}

}  // namespace hearth
