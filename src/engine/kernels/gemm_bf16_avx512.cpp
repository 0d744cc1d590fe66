// AVX512-BF16 GEMM for BF16 weights (prompt processing, see gemm.h). The AVX-512 float GEMM
// widens every weight to F32 and adds one product per token lane and FMA. Here the
// activations are rounded to BF16 once, as the row-dot path of this level rounds them, and
// packed per 16 tokens as [cols / 2][16 tokens][2 columns]: one vdpbf16ps of a broadcast
// weight pair against such a vector adds two products to each token lane. The weight pairs
// are broadcast straight from the file's rows, so no row is decoded.
// Only called through the avx512bf16 and amx kernel tables. Standard headers come before the target
// region, as in quant_dot_avx2.cpp.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512bf16_begin.inc"

namespace hearth {
namespace {

constexpr int kLanes = 16;  // tokens per vector: one F32 lane each
// 8 rows x 2 token vectors: 16 accumulators, 2 activation vectors and a broadcast fit the 32
// zmm registers; each activation load feeds 8 vdpbf16ps and each weight broadcast 2.
constexpr int kRowTile = 8;
constexpr int kTokenVectors = 2;
// Rows a thread takes at a time; its rows stay in L1 while the token groups of a block pass.
constexpr int kUnitRows = 16;
// Packed activations of one token block, sized to stay in L2 (1 MiB or more per core on the
// CPUs with AVX512-BF16) while a thread streams its rows past them.
constexpr int64_t kActBlockBytes = 512 * 1024;

inline __m512bh as_bf16(__m512i v) {
  return (__m512bh)v;  // NOLINT: a vector reinterpretation, no conversion
}

// Token rows [0, n_valid) of `in` (cols floats each) into dst[pairs][kLanes] pairs of BF16;
// missing tokens and the odd column's partner are zero.
void pack_token_group(const float* in, int64_t cols, int n_valid, uint32_t* dst) {
  const int64_t pairs = (cols + 1) / 2;
  thread_local std::vector<uint16_t> rows;
  rows.resize(static_cast<size_t>(kLanes * pairs * 2));
  for (int lane = 0; lane < n_valid; ++lane) {
    uint16_t* row = rows.data() + lane * pairs * 2;
    avx512bf16_convert_row(in + lane * cols, row, cols);
    if (cols % 2 != 0) row[cols] = 0;
  }
  // Gathers read one pair of each token: 16 row streams, each from the conversion above, in
  // cache. The packing is linear in tokens x cols; the products it feeds are cubic.
  const auto valid = static_cast<__mmask16>((1u << n_valid) - 1);
  __m512i index =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(pairs)));
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512i v =
        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, index, rows.data(), 4);
    _mm512_storeu_si512(dst + p * kLanes, v);
    index = _mm512_add_epi32(index, one);
  }
}

inline __m512bh broadcast_pair(const uint16_t* p) {
  uint32_t pair;
  std::memcpy(&pair, p, sizeof(pair));
  return as_bf16(_mm512_set1_epi32(static_cast<int>(pair)));
}

// results[r * kTokenVectors * kLanes + v * kLanes + i] = row r . token i of vector v, for the
// kRowTile rows `w` and the TV token vectors at `acts`, group_stride uint32 apart.
template <int TV>
void micro_kernel(const uint16_t* const* w, int64_t cols, const uint32_t* acts,
                  int64_t group_stride, float* results) {
  __m512 acc[kRowTile][TV];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  const int64_t full_pairs = cols / 2;
  for (int64_t p = 0; p < full_pairs; ++p) {
    __m512bh a[TV];
    for (int v = 0; v < TV; ++v)
      a[v] = as_bf16(_mm512_loadu_si512(acts + v * group_stride + p * kLanes));
    for (int r = 0; r < kRowTile; ++r) {
      const __m512bh wv = broadcast_pair(w[r] + 2 * p);
      for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], wv, a[v]);
    }
  }
  if (cols % 2 != 0) {  // the last column alone: its pair would read past the row
    __m512bh a[TV];
    for (int v = 0; v < TV; ++v) {
      a[v] = as_bf16(_mm512_loadu_si512(acts + v * group_stride + full_pairs * kLanes));
    }
    for (int r = 0; r < kRowTile; ++r) {
      const __m512bh wv = as_bf16(_mm512_set1_epi32(w[r][cols - 1]));
      for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], wv, a[v]);
    }
  }
  for (int r = 0; r < kRowTile; ++r) {
    for (int v = 0; v < TV; ++v) {
      _mm512_storeu_ps(results + (r * kTokenVectors + v) * kLanes, acc[r][v]);
    }
  }
}

}  // namespace

bool avx512bf16_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                     ThreadPool* pool) {
  if (w.type != TensorType::BF16 || w.layout != WeightLayout::kGguf) return false;
  const int64_t cols = w.cols;
  const int64_t rows = w.rows;
  const int64_t pairs = (cols + 1) / 2;
  const int64_t group_stride = pairs * kLanes;
  const int64_t token_groups = (n_tokens + kLanes - 1) / kLanes;
  // One buffer per calling thread, named through a reference: a thread_local named inside
  // the lambdas would be each worker's own (empty) instance.
  thread_local std::vector<uint32_t> acts_of_caller;
  std::vector<uint32_t>& acts = acts_of_caller;
  acts.resize(static_cast<size_t>(token_groups * group_stride));
  parallel_for(pool, token_groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tg = begin; tg < end; ++tg) {
      const int n_valid = static_cast<int>(std::min<int64_t>(kLanes, n_tokens - tg * kLanes));
      pack_token_group(in + tg * kLanes * cols, cols, n_valid, acts.data() + tg * group_stride);
    }
  });

  const auto* weights = static_cast<const uint16_t*>(w.data);
  const int64_t group_bytes = group_stride * static_cast<int64_t>(sizeof(uint32_t));
  const int64_t block = std::max<int64_t>(kTokenVectors, kActBlockBytes / group_bytes) /
                        kTokenVectors * kTokenVectors;
  const int64_t n_units = (rows + kUnitRows - 1) / kUnitRows;
  parallel_for(pool, n_units, 1, [&](int64_t unit_begin, int64_t unit_end) {
    alignas(64) float results[kUnitRows * kTokenVectors * kLanes];
    for (int64_t block_begin = 0; block_begin < token_groups; block_begin += block) {
      const int64_t block_end = std::min(token_groups, block_begin + block);
      for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
        const int64_t row0 = unit * kUnitRows;
        const int n_rows = static_cast<int>(std::min<int64_t>(kUnitRows, rows - row0));
        for (int64_t tg = block_begin; tg < block_end; tg += kTokenVectors) {
          const int tv = static_cast<int>(std::min<int64_t>(kTokenVectors, block_end - tg));
          const uint32_t* a = acts.data() + tg * group_stride;
          for (int tile = 0; tile * kRowTile < n_rows; ++tile) {
            // Rows past the matrix repeat its last row; their results are not stored.
            const uint16_t* tile_rows[kRowTile];
            for (int r = 0; r < kRowTile; ++r) {
              const int64_t row = row0 + std::min(tile * kRowTile + r, n_rows - 1);
              tile_rows[r] = weights + row * cols;
            }
            float* tile_results = results + tile * kRowTile * kTokenVectors * kLanes;
            if (tv == 2) {
              micro_kernel<2>(tile_rows, cols, a, group_stride, tile_results);
            } else {
              micro_kernel<1>(tile_rows, cols, a, group_stride, tile_results);
            }
          }
          const int64_t token0 = tg * kLanes;
          const int64_t n_out = std::min<int64_t>(tv * kLanes, n_tokens - token0);
          for (int64_t i = 0; i < n_out; ++i) {
            float* dst = out + (token0 + i) * rows + row0;
            for (int r = 0; r < n_rows; ++r) dst[r] = results[r * kTokenVectors * kLanes + i];
          }
        }
      }
    }
  });
  return true;
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

#else  // not x86-64: no AVX512-BF16 GEMM

namespace hearth {
bool avx512bf16_gemm(const WeightMatrix&, const float*, int64_t, float*, ThreadPool*) {
  return false;
}
}  // namespace hearth

#endif
