#include "engine/kernels/matmul_reference.h"

#include <cassert>
#include <functional>
#include <vector>

#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"

namespace hearth {

float dot_f32(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 16;
  float partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) partial[l] += a[i + l] * b[i + l];
  }
  for (; i < n; ++i) partial[0] += a[i] * b[i];
  float sum = 0.0f;
  for (float p : partial) sum += p;
  return sum;
}

void matmul_reference(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                      ThreadPool* pool) {
  assert(can_dequantize(w.type));
  const int64_t stride = weight_row_stride(w);
  const auto* base = static_cast<const uint8_t*>(w.data);

  auto rows_task = [&](int64_t row_begin, int64_t row_end) {
    std::vector<float> row_buffer;
    if (w.type != TensorType::F32) row_buffer.resize(static_cast<size_t>(w.cols));
    for (int64_t r = row_begin; r < row_end; ++r) {
      const float* row;
      if (w.type == TensorType::F32) {
        row = reinterpret_cast<const float*>(base + r * stride);
      } else {
        get_row(w, r, row_buffer.data());
        row = row_buffer.data();
      }
      for (int64_t tok = 0; tok < n_tokens; ++tok) {
        out[tok * w.rows + r] = dot_f32(row, in + tok * w.cols, w.cols);
      }
    }
  };
  if (pool) {
    pool->parallel_for(w.rows, 4, rows_task);
  } else {
    rows_task(0, w.rows);
  }
}

}  // namespace hearth
