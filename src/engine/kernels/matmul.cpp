#include "engine/kernels/matmul.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "engine/kernels/cpu.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/matmul_reference.h"
#include "engine/kernels/quant_dot.h"
#include "engine/runtime/thread_pool.h"
#include "engine/tensor/quant.h"

namespace hearth {
namespace {

// Rows handed to a thread at a time: enough that the token tiles below reuse each weight row
// chunk from cache, small enough to balance two to a few dozen threads on 896-row matrices.
constexpr int64_t kRowChunk = 16;


}  // namespace

void matmul_at_level(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                     ThreadPool* pool, KernelLevel level) {
  if (w.rows <= 0 || n_tokens <= 0) return;
  assert(w.cols % traits(w.type).block_size == 0);
  // Many tokens (prompt processing): a blocked GEMM decodes each weight tile once for all of
  // them. Few tokens (decode) stream the weights once either way; the row dots do it leanest.
  if (n_tokens >= kGemmMinTokens && level >= KernelLevel::kAvx512 &&
      avx512_gemm(w, in, n_tokens, out, pool)) {
    return;
  }
  if (n_tokens >= kGemmMinTokens && level == KernelLevel::kAvx2 &&
      avx2_gemm(w, in, n_tokens, out, pool)) {
    return;
  }
  const RowDotFn row_dot = find_row_dot(w.type, level);
  if (!row_dot) {
    matmul_reference(w, in, n_tokens, out, pool);
    return;
  }
  // Quantize the activations once; every weight row then reuses them.
  const ActivationFormat format = activation_format(w.type);
  const size_t act_stride = activation_row_bytes(format, w.cols);
  const void* act = in;
  thread_local std::vector<uint8_t> act_buffer;
  if (format != ActivationFormat::kF32) {
    act_buffer.resize(act_stride * static_cast<size_t>(n_tokens));
    uint8_t* dst = act_buffer.data();
    parallel_for(n_tokens > 1 ? pool : nullptr, n_tokens, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        quantize_activation_row(format, in + t * w.cols, dst + act_stride * t, w.cols);
      }
    });
    act = act_buffer.data();
  }

  const int64_t weight_stride = row_bytes(traits(w.type), w.cols);
  const auto* weights = static_cast<const uint8_t*>(w.data);
  const auto* act_bytes = static_cast<const uint8_t*>(act);
  parallel_for(pool, w.rows, kRowChunk, [&](int64_t row_begin, int64_t row_end) {
    for (int64_t chunk = row_begin; chunk < row_end; chunk += kRowChunk) {
      const int64_t chunk_end = std::min(row_end, chunk + kRowChunk);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxTokenTile) {
        const int n_act = static_cast<int>(std::min<int64_t>(kMaxTokenTile, n_tokens - t0));
        for (int64_t r = chunk; r < chunk_end; ++r) {
          float results[kMaxTokenTile];
          row_dot(w.cols, weights + r * weight_stride, act_bytes + act_stride * t0, act_stride,
                  n_act, results);
          for (int t = 0; t < n_act; ++t) out[(t0 + t) * w.rows + r] = results[t];
        }
      }
    }
  });
}

void matmul(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
            ThreadPool* pool) {
  matmul_at_level(w, in, n_tokens, out, pool, active_kernel_level());
}

void matmul_many(std::span<const WeightMatrix* const> w, const float* in, int64_t n_tokens,
                 std::span<float* const> out, ThreadPool* pool) {
  assert(w.size() == out.size());
  const KernelLevel level = active_kernel_level();
  size_t i = 0;
  while (i < w.size()) {
    // The longest run of matrices that can share one packed input.
    size_t j = i + 1;
    while (j < w.size() && j - i < kMaxGemmMatrices && w[j]->type == w[i]->type &&
           w[j]->cols == w[i]->cols && w[j]->rows > 0) {
      ++j;
    }
    if (j - i > 1 && w[i]->rows > 0 && n_tokens >= kGemmMinTokens &&
        level >= KernelLevel::kAvx512 &&
        avx512_gemm_many(w.subspan(i, j - i), in, n_tokens, out.subspan(i, j - i), pool)) {
      i = j;
      continue;
    }
    for (; i < j; ++i) matmul_at_level(*w[i], in, n_tokens, out[i], pool, level);
  }
}

void get_row(const WeightMatrix& w, int64_t row, float* dst) {
  assert(row >= 0 && row < w.rows && can_dequantize(w.type));
  const int64_t stride = row_bytes(traits(w.type), w.cols);
  dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + row * stride, dst, w.cols);
}

}  // namespace hearth
