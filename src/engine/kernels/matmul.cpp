#include "engine/kernels/matmul.h"

#include <cassert>
#include <cstring>

#include "engine/kernels/matmul_reference.h"
#include "engine/tensor/quant.h"

namespace hearth {

void matmul(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
            ThreadPool* pool) {
  if (w.rows <= 0 || n_tokens <= 0) return;
  matmul_reference(w, in, n_tokens, out, pool);
}

void get_row(const WeightMatrix& w, int64_t row, float* dst) {
  assert(row >= 0 && row < w.rows && can_dequantize(w.type));
  const int64_t stride = row_bytes(traits(w.type), w.cols);
  dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + row * stride, dst, w.cols);
}

}  // namespace hearth
