// WebAssembly SIMD128 GEMM for F32 and F16 weights (the wasm_simd128 table's `gemm` entry;
// built only when compiling for wasm with -msimd128, empty elsewhere).
//
// The row dots (quant_dot_wasm_simd128.cpp) compute one weight row against up to four tokens
// and reduce eight partial sums per token and row at the end: for the 64-column matrices of
// tiny models the call, the reduction and the scalar stores cost as much as the products.
// Here a panel of kPanelRows weight rows is first repacked column by column ([col][row], F16
// widened to F32 once), and the micro-kernel keeps a kPanelRows x kTileTokens block of
// outputs in registers: per column it loads the panel's column (two vectors of four rows) and
// one splatted activation per token, and accumulates rank-1 updates. Each accumulator lane is
// already one output (four consecutive rows of one token, contiguous in `out`), so nothing
// is reduced. 8 rows x 4 tokens is 8 accumulators + 2 weight vectors + 1 activation: well
// inside the 16 vector registers V8 allocates on x64 (it spills beyond them).
//
// Each output is the sum over k, in column order, of rounded products: not the row dot's
// eight-way order, so results differ from the scalar kernels by float rounding only (within
// cols * 2^-24 * sum |w a|, the bound wasm/test/kernel_check.cpp checks against a double
// reference).
#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/simd128_math.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/fp16.h"

namespace hearth {
namespace {

constexpr int kPanelRows = 8;
constexpr int kTileTokens = 4;
// Panels packed and run together by one worker: their packed columns (32 rows x cols x 4
// bytes) stay in cache while a block of tokens goes through them.
constexpr int64_t kPanelsPerChunk = 4;
// Tokens run through a chunk's panels before the next block: the block's activation rows stay
// in cache across the panels.
constexpr int64_t kTokenBlock = 64;
// rows x cols x tokens below which the product stays on the calling thread.
constexpr int64_t kParallelMacs = 1 << 16;

// One row of weights as F32: F32 rows are read in place, F16 rows widened into `scratch`.
template <bool kHalf>
const float* row_as_f32(const void* row, int64_t cols, float* scratch) {
  if constexpr (!kHalf) {
    return static_cast<const float*>(row);
  } else {
    const auto* h = static_cast<const uint16_t*>(row);
    int64_t k = 0;
    for (; k + 8 <= cols; k += 8) {
      v128_t low, high;
      simd128::widen_f16x8(wasm_v128_load(h + k), &low, &high);
      wasm_v128_store(scratch + k, low);
      wasm_v128_store(scratch + k + 4, high);
    }
    for (; k < cols; ++k) scratch[k] = fp16_to_fp32(h[k]);
    return scratch;
  }
}

// panel[k * kPanelRows + r] = w[row0 + r][k]; rows past the matrix are zero.
template <bool kHalf>
void pack_panel(const WeightMatrix& w, int64_t row0, float* panel, float* scratch) {
  const int64_t cols = w.cols;
  const size_t stride = static_cast<size_t>(cols) * (kHalf ? 2 : 4);
  const int n_rows = static_cast<int>(std::min<int64_t>(kPanelRows, w.rows - row0));
  for (int r = 0; r < kPanelRows; ++r) {
    if (r >= n_rows) {
      for (int64_t k = 0; k < cols; ++k) panel[k * kPanelRows + r] = 0.0f;
      continue;
    }
    const void* src = static_cast<const uint8_t*>(w.data) + stride * static_cast<size_t>(row0 + r);
    const float* row = row_as_f32<kHalf>(src, cols, scratch);
    for (int64_t k = 0; k < cols; ++k) panel[k * kPanelRows + r] = row[k];
  }
}

// out[t * out_stride + r] = sum_k panel[k][r] * x[t * cols + k] for t < NT, r < n_rows.
template <int NT>
void panel_kernel(const float* panel, int64_t cols, const float* x, float* out, int64_t out_stride,
                  int n_rows) {
  v128_t acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = wasm_f32x4_splat(0.0f);
  for (int64_t k = 0; k < cols; ++k) {
    const v128_t w_lo = wasm_v128_load(panel + k * kPanelRows);
    const v128_t w_hi = wasm_v128_load(panel + k * kPanelRows + 4);
    for (int t = 0; t < NT; ++t) {
      const v128_t a = wasm_v128_load32_splat(x + t * cols + k);
      acc[t][0] = wasm_f32x4_add(acc[t][0], wasm_f32x4_mul(w_lo, a));
      acc[t][1] = wasm_f32x4_add(acc[t][1], wasm_f32x4_mul(w_hi, a));
    }
  }
  for (int t = 0; t < NT; ++t) {
    float* o = out + t * out_stride;
    if (n_rows == kPanelRows) {
      wasm_v128_store(o, acc[t][0]);
      wasm_v128_store(o + 4, acc[t][1]);
      continue;
    }
    alignas(16) float lanes[kPanelRows];
    wasm_v128_store(lanes, acc[t][0]);
    wasm_v128_store(lanes + 4, acc[t][1]);
    std::memcpy(o, lanes, sizeof(float) * static_cast<size_t>(n_rows));
  }
}

// The last tile of fewer than kTileTokens tokens: panel_kernel<n> for its n.
template <int NT>
void tail_kernel(int n, const float* panel, int64_t cols, const float* x, float* out,
                 int64_t out_stride, int n_rows) {
  if constexpr (NT > 0) {
    if (n == NT) {
      panel_kernel<NT>(panel, cols, x, out, out_stride, n_rows);
    } else {
      tail_kernel<NT - 1>(n, panel, cols, x, out, out_stride, n_rows);
    }
  }
}

void run_tokens(const float* panel, int64_t cols, const float* in, int64_t t_begin, int64_t t_end,
                float* out, int64_t rows, int64_t row0, int n_rows) {
  int64_t t = t_begin;
  for (; t + kTileTokens <= t_end; t += kTileTokens) {
    panel_kernel<kTileTokens>(panel, cols, in + t * cols, out + t * rows + row0, rows, n_rows);
  }
  if (t < t_end) {
    tail_kernel<kTileTokens - 1>(static_cast<int>(t_end - t), panel, cols, in + t * cols,
                                 out + t * rows + row0, rows, n_rows);
  }
}

template <bool kHalf>
void gemm_float(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                ThreadPool* pool) {
  const int64_t cols = w.cols;
  const int64_t n_panels = (w.rows + kPanelRows - 1) / kPanelRows;
  const int64_t n_chunks = (n_panels + kPanelsPerChunk - 1) / kPanelsPerChunk;
  const bool share = w.rows * cols * n_tokens >= kParallelMacs;
  parallel_for(share ? pool : nullptr, n_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    // Every element is written by pack_panel before it is read.
    thread_local std::vector<float> packed, scratch;
    packed.resize(static_cast<size_t>(kPanelsPerChunk * kPanelRows * cols));
    if (kHalf) scratch.resize(static_cast<size_t>(cols));
    for (int64_t c = chunk_begin; c < chunk_end; ++c) {
      const int64_t p_begin = c * kPanelsPerChunk;
      const int64_t p_end = std::min(n_panels, p_begin + kPanelsPerChunk);
      for (int64_t p = p_begin; p < p_end; ++p) {
        pack_panel<kHalf>(w, p * kPanelRows, packed.data() + (p - p_begin) * kPanelRows * cols,
                          scratch.data());
      }
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
        const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
        for (int64_t p = p_begin; p < p_end; ++p) {
          const int64_t row0 = p * kPanelRows;
          const int n_rows = static_cast<int>(std::min<int64_t>(kPanelRows, w.rows - row0));
          run_tokens(packed.data() + (p - p_begin) * kPanelRows * cols, cols, in, t0, t1, out,
                     w.rows, row0, n_rows);
        }
      }
    }
  });
}

}  // namespace

bool wasm_simd128_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                       ThreadPool* pool) {
  if (w.layout != WeightLayout::kGguf || n_tokens < kWasmFloatGemmMinTokens) return false;
  switch (w.type) {
    case TensorType::F32: gemm_float<false>(w, in, n_tokens, out, pool); return true;
    case TensorType::F16: gemm_float<true>(w, in, n_tokens, out, pool); return true;
    default: return false;
  }
}

}  // namespace hearth

#endif  // __wasm_simd128__
