#include "engine/kernels/matmul.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul_reference.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"

namespace hearth {
namespace {

// Rows handed to a thread at a time: enough that the token tiles below reuse each weight row
// chunk from cache, small enough to balance two to a few dozen threads on 896-row matrices.
constexpr int64_t kRowChunk = 16;
// Activation elements below which quantizing them is left to the calling thread.
constexpr int64_t kParallelQuantizeElements = 1 << 16;
// Weight bytes times tokens below which a row-dot product stays on the calling thread: a few
// microseconds of work, about what handing it to the pool and waiting for it costs (tiny
// models' 64 x 64 matrices; the smallest matrix of Qwen2.5-0.5B is 120 KB).
constexpr int64_t kParallelRowDotBytes = 1 << 16;

}  // namespace

namespace {

// Activation rows for a row-dot or interleaved kernel: `quantize(x, dst)` fills one token's
// row of `stride` bytes. A few rows (several sequences decoding together) take less time to
// quantize than a round trip through the pool.
template <class Quantize>
const uint8_t* quantized_rows(const float* in, int64_t n_tokens, int64_t cols, size_t stride,
                              ThreadPool* pool, Quantize&& quantize) {
  thread_local std::vector<uint8_t> buffer;
  buffer.resize(stride * static_cast<size_t>(n_tokens));
  uint8_t* dst = buffer.data();
  const bool share = n_tokens * cols >= kParallelQuantizeElements;
  parallel_for(share ? pool : nullptr, n_tokens, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize(in + t * cols, dst + stride * t);
  });
  return dst;
}

// Interleaved matrices (one type and column count): one parallel loop over the 16-row groups
// of all of them, each group against up to kInterleaveMaxTokens tokens per kernel call.
void interleaved_dot_many(std::span<const WeightMatrix* const> ws, const float* in,
                          int64_t n_tokens, std::span<float* const> outs, ThreadPool* pool,
                          const KernelTable& kernels) {
  const WeightMatrix& first = *ws[0];
  const InterleavedDotFn dot = find_interleaved_dot(first.type, kernels);
  assert(dot);
  const size_t act_stride = interleaved_activation_bytes(first.type, first.cols);
  const uint8_t* act =
      quantized_rows(in, n_tokens, first.cols, act_stride, pool, [&](const float* x, uint8_t* dst) {
        quantize_interleaved_activation(first.type, x, first.cols, dst, kernels);
      });
  std::array<int64_t, kMaxGemmMatrices + 1> group_start{};
  for (size_t i = 0; i < ws.size(); ++i) {
    group_start[i + 1] = group_start[i] + (ws[i]->rows + kInterleaveRows - 1) / kInterleaveRows;
  }
  const int64_t group_stride = kInterleaveRows * weight_row_stride(first);
  parallel_for(pool, group_start[ws.size()], 1, [&](int64_t begin, int64_t end) {
    size_t m = 0;
    for (int64_t g = begin; g < end; ++g) {
      while (g >= group_start[m + 1]) ++m;
      const WeightMatrix& w = *ws[m];
      const int64_t local = g - group_start[m];
      const int64_t row0 = local * kInterleaveRows;
      const auto* group = static_cast<const uint8_t*>(w.data) + local * group_stride;
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kInterleaveMaxTokens) {
        const int n = static_cast<int>(std::min<int64_t>(kInterleaveMaxTokens, n_tokens - t0));
        float* out = outs[m] + t0 * w.rows + row0;
        if (row0 + kInterleaveRows <= w.rows) {
          dot(w.cols, group, act + act_stride * t0, act_stride, n, out, w.rows);
          continue;
        }
        // The padded last group: only its real rows reach the output.
        float partial[kInterleaveMaxTokens * kInterleaveRows];
        dot(w.cols, group, act + act_stride * t0, act_stride, n, partial, kInterleaveRows);
        for (int t = 0; t < n; ++t) {
          std::copy_n(partial + t * kInterleaveRows, w.rows - row0, out + t * w.rows);
        }
      }
    }
  });
}

// The row-dot path for matrices that share a type and a column count (one matrix, or q/k/v):
// the activations are quantized once, and one parallel loop covers the rows of all of them,
// so decoding pays one pool round trip per group instead of one per matrix.
void row_dot_many(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                  std::span<float* const> outs, ThreadPool* pool, const KernelTable& kernels) {
  const WeightMatrix& first = *ws[0];
  if (first.layout == WeightLayout::kInterleaved) {
    interleaved_dot_many(ws, in, n_tokens, outs, pool, kernels);
    return;
  }
  const RowDotFn row_dot = find_row_dot(first.type, kernels);
  if (!row_dot) {
    for (size_t i = 0; i < ws.size(); ++i) matmul_reference(*ws[i], in, n_tokens, outs[i], pool);
    return;
  }
  const ActivationFormat format = activation_format(first.type, kernels);
  const QuantizeActivationFn quantize = kernels.quantize_activation_row;
  // Every matrix of the group has first's type.
  const RowDot4Fn dot_4rows = kernels.row_dot_4rows ? kernels.row_dot_4rows(first.type) : nullptr;
  const size_t act_stride = activation_row_bytes(format, first.cols);
  const void* act = in;
  if (format != ActivationFormat::kF32) {
    act =
        quantized_rows(in, n_tokens, first.cols, act_stride, pool,
                       [&](const float* x, uint8_t* dst) { quantize(format, x, dst, first.cols); });
  }

  // Rows of all matrices in sequence; chunks never straddle two matrices.
  std::array<int64_t, kMaxGemmMatrices + 1> row_start{};
  for (size_t i = 0; i < ws.size(); ++i) row_start[i + 1] = row_start[i] + ws[i]->rows;
  const int64_t total_rows = row_start[ws.size()];
  const int64_t weight_stride = weight_row_stride(first);
  const auto* act_bytes = static_cast<const uint8_t*>(act);
  const bool share = total_rows * weight_stride * n_tokens >= kParallelRowDotBytes;
  ThreadPool* row_pool = share ? pool : nullptr;
  parallel_for(row_pool, total_rows, kRowChunk, [&](int64_t row_begin, int64_t row_end) {
    size_t m = 0;
    for (int64_t chunk = row_begin; chunk < row_end;) {
      while (chunk >= row_start[m + 1]) ++m;
      const int64_t chunk_end = std::min({row_end, chunk + kRowChunk, row_start[m + 1]});
      const WeightMatrix& w = *ws[m];
      const auto* weights = static_cast<const uint8_t*>(w.data);
      float* out = outs[m];
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxTokenTile) {
        const int n_act = static_cast<int>(std::min<int64_t>(kMaxTokenTile, n_tokens - t0));
        int64_t g = chunk;
        if (dot_4rows && n_act >= kernels.row_dot_4rows_min_tokens) {
          for (; g + 4 <= chunk_end; g += 4) {
            const int64_t r = g - row_start[m];
            dot_4rows(w.cols, weights + r * weight_stride, weight_stride,
                      act_bytes + act_stride * t0, act_stride, n_act, out + t0 * w.rows + r,
                      w.rows);
          }
        }
        for (; g < chunk_end; ++g) {
          const int64_t r = g - row_start[m];
          float results[kMaxTokenTile];
          row_dot(w.cols, weights + r * weight_stride, act_bytes + act_stride * t0, act_stride,
                  n_act, results);
          for (int t = 0; t < n_act; ++t) out[(t0 + t) * w.rows + r] = results[t];
        }
      }
      chunk = chunk_end;
    }
  });
}

// Whether a call with this many tokens goes to the GEMM. The interleaved kernel takes up to
// 8 tokens per call: measured with hearth_kernels_bench (Q8_0, 1 thread), 8 tokens took 223
// us against the GEMM's 686 on 4864x896 and 6.2 ms against 10.0 on 65536x896 (from DRAM); at
// 16 tokens (two calls) it still won in cache (438 vs 595 us) but lost from DRAM (10.7 vs
// 9.4 ms), where the GEMM's 16-token vectors pay off.
bool gemm_pays(const WeightMatrix& w, int64_t n_tokens) {
  if (w.layout == WeightLayout::kInterleaved) return n_tokens > kInterleaveMaxTokens;
  return n_tokens >= kGemmMinTokens;
}

// Many tokens (prompt processing): a blocked GEMM decodes each weight tile once for all of
// them. Few tokens (decode) stream the weights once either way; the row dots do it leanest.
bool try_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
              ThreadPool* pool, const KernelTable& kernels) {
  if (!gemm_pays(w, n_tokens) || !kernels.gemm) return false;
  return kernels.gemm(w, in, n_tokens, out, pool);
}

}  // namespace

void matmul_with_kernels(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                         ThreadPool* pool, const KernelTable& kernels) {
  if (w.rows <= 0 || n_tokens <= 0) return;
  assert(w.cols % traits(w.type).block_size == 0);
  if (try_gemm(w, in, n_tokens, out, pool, kernels)) return;
  const WeightMatrix* ws[] = {&w};
  float* outs[] = {out};
  row_dot_many(ws, in, n_tokens, outs, pool, kernels);
}

void matmul(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
            ThreadPool* pool) {
  matmul_with_kernels(w, in, n_tokens, out, pool, active_kernels());
}

void matmul_many(std::span<const WeightMatrix* const> w, const float* in, int64_t n_tokens,
                 std::span<float* const> out, ThreadPool* pool) {
  assert(w.size() == out.size());
  if (n_tokens <= 0) return;
  const KernelTable& kernels = active_kernels();
  size_t i = 0;
  while (i < w.size()) {
    if (w[i]->rows <= 0) {
      ++i;
      continue;
    }
    // The longest run of matrices that can share one packed input.
    size_t j = i + 1;
    while (j < w.size() && j - i < kMaxGemmMatrices && w[j]->type == w[i]->type &&
           w[j]->layout == w[i]->layout && w[j]->cols == w[i]->cols && w[j]->rows > 0) {
      ++j;
    }
    const auto group = w.subspan(i, j - i);
    const auto group_out = out.subspan(i, j - i);
    if (gemm_pays(*group[0], n_tokens)) {
      if (group.size() > 1 && kernels.gemm_many &&
          kernels.gemm_many(group, in, n_tokens, group_out, pool)) {
        i = j;
        continue;
      }
      // One GEMM per matrix where one exists; the rest go to the row dots.
      bool all_gemm = true;
      for (size_t k = 0; k < group.size(); ++k) {
        all_gemm = try_gemm(*group[k], in, n_tokens, group_out[k], pool, kernels) && all_gemm;
      }
      if (all_gemm) {
        i = j;
        continue;
      }
      // A GEMM refuses a whole type, so none of the group was computed.
    }
    assert(group[0]->cols % traits(group[0]->type).block_size == 0);
    row_dot_many(group, in, n_tokens, group_out, pool, kernels);
    i = j;
  }
}

int64_t weight_row_stride(const WeightMatrix& w) {
  // An interleaved group holds its rows' file bytes, so the file's stride is right per row.
  return row_bytes(traits(w.type), w.cols);
}

void get_row(const WeightMatrix& w, int64_t row, float* dst) {
  assert(row >= 0 && row < w.rows && can_dequantize(w.type));
  const auto* bytes = static_cast<const uint8_t*>(w.data) + row * weight_row_stride(w);
  if (w.layout == WeightLayout::kInterleaved) {
    dequantize_interleaved_row(w.type, w.data, row, w.cols, dst);
  } else {
    dequantize_row(w.type, bytes, dst, w.cols);
  }
}

}  // namespace hearth
