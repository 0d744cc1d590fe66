#include "engine/tensor/quant.h"

#include <cassert>
#include <cstring>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {

bool can_dequantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K: return true;
    default: return false;
  }
}

bool can_quantize(TensorType type) {
  return can_dequantize(type);
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  assert(n % traits(type).block_size == 0);
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case TensorType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case TensorType::Q4_0: return dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case TensorType::Q4_1: return dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
    case TensorType::Q5_0: return dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case TensorType::Q5_1: return dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
    case TensorType::Q8_0: return dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case TensorType::Q4_K: return dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
    case TensorType::Q5_K: return dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
    case TensorType::Q6_K: return dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
    case TensorType::Q8_K: return dequantize_row_q8_k(static_cast<const BlockQ8_K*>(src), dst, n);
    default: assert(false && "dequantize_row: type not supported; check can_dequantize");
  }
}

size_t quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) return 0;
  assert(n % traits(type).block_size == 0);
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); break;
    case TensorType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      break;
    }
    case TensorType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      break;
    }
    case TensorType::Q4_0: quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n); break;
    case TensorType::Q4_1: quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n); break;
    case TensorType::Q5_0: quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n); break;
    case TensorType::Q5_1: quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n); break;
    case TensorType::Q8_0: quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n); break;
    case TensorType::Q4_K: quantize_row_q4_k(src, static_cast<BlockQ4_K*>(dst), n); break;
    case TensorType::Q5_K: quantize_row_q5_k(src, static_cast<BlockQ5_K*>(dst), n); break;
    case TensorType::Q6_K: quantize_row_q6_k(src, static_cast<BlockQ6_K*>(dst), n); break;
    case TensorType::Q8_K: quantize_row_q8_k(src, static_cast<BlockQ8_K*>(dst), n); break;
    default: return 0;
  }
  return static_cast<size_t>(row_bytes(traits(type), n));
}

}  // namespace hearth
