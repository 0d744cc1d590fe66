// AVX-512 GEMM for many tokens (see gemm.h for the design). Only called after the chosen kernel
// table (kernel_table.h) confirmed AVX-512 F/BW/VL/VNNI. Standard headers come before the target
// pragma, as in quant_dot_avx2.cpp.
//
// Integer formats: each weight row is decoded into unsigned codes with one float scale (and,
// for formats with a min, one float min) per group of 16 or 32 elements:
//     value = scale * (code - offset) + min,   offset = 0 or a power of two.
// Activations are quantized to 8 bits exactly as the row-dot path does, then repacked so that
// bytes 4i..4i+3 of a 64-byte vector are four consecutive elements of token i. One
// vpdpbusd of a broadcast 4-byte weight chunk against that vector adds four products to each
// of 16 token lanes; a group's integer sum starts from -offset * sum(activation codes), so the
// offset costs nothing per row, and is scaled to float once per group.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <type_traits>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_offsets.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/quant_blocks.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512_begin.inc"

namespace hearth {
namespace {

constexpr int kRowTile = 4;       // weight rows per micro-kernel call
constexpr int kTokenVectors = 2;  // 16-token vectors per micro-kernel call
// 4 rows x 2 token vectors: 8 int32 + 8 float accumulators, 2 activation vectors and the
// broadcast weights fit the 32 zmm registers; each activation load feeds 4 vpdpbusd and
// each weight broadcast 2.

#include "engine/kernels/gemm_common_avx512.inc"

// ---- Micro-kernel: kRowTile decoded rows x TV token vectors over the whole row length.

// Where row r's 4 codes of step s of group g lie, from a tile's codes pointer.
template <class Format>
int64_t tile_code_offset(int r, int64_t g, int s, int64_t cols) {
  if constexpr (codes_in_place<Format>()) {
    return Format::code_offset(r, g, s);
  } else {
    return r * cols + g * Format::kGroup + 4 * s;
  }
}

struct DecodedTile {
  const uint8_t* codes;  // [kRowTile][cols], or the group's codes in place (codes_in_place)
  const float* scales;   // [kRowTile][groups]
  const float* mins;     // [kRowTile][groups]
};

// results[r * kTokenVectors * kLanes + i] = row r . token (16 * tg + i)
template <class Format, int TV>
void int_micro_kernel(const DecodedTile& w, const PackedActs& a, int64_t tg, Prefetch fetch,
                      float* results) {
  constexpr int kGroup = Format::kGroup;
  constexpr int kSteps = kGroup / 4;
  const int64_t cols = a.cols;
  const int64_t groups = a.groups;
  const uint8_t* qs[TV];
  const float* d[TV];
  const int32_t* start[TV];
  const float* d_sum[TV];
  for (int v = 0; v < TV; ++v) {
    qs[v] = a.qs_of(tg + v);
    d[v] = a.d_of(tg + v);
    start[v] = a.start_of(tg + v);
    d_sum[v] = a.d_sum_of(tg + v);
  }
  __m512 acc[kRowTile][TV];
  for (int r = 0; r < kRowTile; ++r) {
    for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  // Q8_K activations have one scale per 256 elements: there the groups' sums are scaled by
  // the weight scale only, and by the activation scale once per 256 (saving a multiply per
  // group and accumulator). Q8 activations change scale every 32, i.e. every group.
  constexpr int kGroupsPerActScale =
      Format::kAct == ActivationFormat::kQ8K ? kSuperBlock / kGroup : 1;
  const int64_t fetch_per_group = (fetch.lines + groups - 1) / groups;
  for (int64_t g0 = 0; g0 < groups; g0 += kGroupsPerActScale) {
    // A few requests per group: issued in bursts, they stalled on the miss buffers.
    for (int64_t i = g0 * fetch_per_group;
         i < std::min(fetch.lines, (g0 + kGroupsPerActScale) * fetch_per_group); ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(fetch.first + 64 * i), _MM_HINT_T0);
    }
    __m512 partial[kRowTile][TV];
    if constexpr (kGroupsPerActScale > 1) {
      for (int r = 0; r < kRowTile; ++r) {
        for (int v = 0; v < TV; ++v) partial[r][v] = _mm512_setzero_ps();
      }
    }
    for (int64_t g = g0; g < g0 + kGroupsPerActScale; ++g) {
      __m512i isum[kRowTile][TV];
      for (int v = 0; v < TV; ++v) {
        const __m512i first = Format::kOffsetShift >= 0 ? _mm512_loadu_si512(start[v] + g * kLanes)
                                                        : _mm512_setzero_si512();
        for (int r = 0; r < kRowTile; ++r) isum[r][v] = first;
      }
      for (int s = 0; s < kSteps; ++s) {
        __m512i act[TV];
        for (int v = 0; v < TV; ++v) act[v] = _mm512_loadu_si512(qs[v] + (g * kSteps + s) * 64);
        for (int r = 0; r < kRowTile; ++r) {
          int32_t chunk;
          std::memcpy(&chunk, w.codes + tile_code_offset<Format>(r, g, s, cols), 4);
          const __m512i wv = _mm512_set1_epi32(chunk);
          for (int v = 0; v < TV; ++v) isum[r][v] = _mm512_dpbusd_epi32(isum[r][v], wv, act[v]);
        }
      }
      if constexpr (kGroupsPerActScale > 1) {
        for (int r = 0; r < kRowTile; ++r) {
          const __m512 weight_scale = _mm512_set1_ps(w.scales[r * groups + g]);
          for (int v = 0; v < TV; ++v) {
            partial[r][v] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][v]), weight_scale, partial[r][v]);
          }
        }
      } else {
        __m512 act_scale[TV];
        for (int v = 0; v < TV; ++v) act_scale[v] = _mm512_loadu_ps(d[v] + g * kLanes);
        for (int r = 0; r < kRowTile; ++r) {
          const __m512 weight_scale = _mm512_set1_ps(w.scales[r * groups + g]);
          for (int v = 0; v < TV; ++v) {
            acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][v]),
                                        _mm512_mul_ps(act_scale[v], weight_scale), acc[r][v]);
          }
        }
      }
      if constexpr (Format::kHasMin) {
        __m512 act_sum[TV];
        for (int v = 0; v < TV; ++v) act_sum[v] = _mm512_loadu_ps(d_sum[v] + g * kLanes);
        for (int r = 0; r < kRowTile; ++r) {
          const __m512 min = _mm512_set1_ps(w.mins[r * groups + g]);
          for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_fmadd_ps(act_sum[v], min, acc[r][v]);
        }
      }
    }
    if constexpr (kGroupsPerActScale > 1) {
      for (int v = 0; v < TV; ++v) {
        const __m512 act_scale = _mm512_loadu_ps(d[v] + g0 * kLanes);
        for (int r = 0; r < kRowTile; ++r) {
          acc[r][v] = _mm512_fmadd_ps(partial[r][v], act_scale, acc[r][v]);
        }
      }
    }
  }
  for (int r = 0; r < kRowTile; ++r) {
    for (int v = 0; v < TV; ++v) {
      _mm512_storeu_ps(results + (r * kTokenVectors + v) * kLanes, acc[r][v]);
    }
  }
}

// Writes a row unit's results (results[row][token], kUnitRows rows) to the token-major
// output: one 64-byte store per token instead of 16 scattered ones, which stalled on the
// output lines' ownership requests.
void store_unit(const float* results, int64_t row0, int n_rows, int64_t token0,
                int64_t n_tokens_here, int64_t out_rows, float* out) {
  const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
  for (int v = 0; v * kLanes < n_tokens_here; ++v) {
    __m512 lines[kLanes];
    for (int r = 0; r < kUnitRows; ++r) {
      lines[r] = _mm512_load_ps(results + (r * kTokenVectors + v) * kLanes);
    }
    transpose16(lines);
    const int64_t n = std::min<int64_t>(kLanes, n_tokens_here - v * kLanes);
    for (int64_t i = 0; i < n; ++i) {
      _mm512_mask_storeu_ps(out + (token0 + v * kLanes + i) * out_rows + row0, mask, lines[i]);
    }
  }
}

int64_t token_groups_per_block(int64_t bytes_per_token_group) {
  const int64_t n = std::max<int64_t>(kTokenVectors, kActBlockBytes / bytes_per_token_group);
  return n / kTokenVectors * kTokenVectors;
}

// Runs row units [unit_begin, unit_end) against every token. decode_unit(row0, n_rows) decodes
// the unit's rows (padding rows beyond n_rows with zero scales, so their discarded results
// stay finite); tile_kernel(tile, tg, tv, fetch, results) requests the lines in `fetch` and
// runs the micro-kernel for rows 4 * tile .. 4 * tile + 3 of the unit against token vectors
// tg .. tg + tv - 1.
template <class DecodeUnit, class TileKernel>
void run_units(int64_t unit_begin, int64_t unit_end, int64_t rows, int64_t n_tokens, int64_t block,
               const uint8_t* weights, int64_t stride, float* out, DecodeUnit&& decode_unit,
               TileKernel&& tile_kernel) {
  const int64_t token_groups = (n_tokens + kLanes - 1) / kLanes;
  alignas(64) float results[kUnitRows * kTokenVectors * kLanes] = {};
  for (int64_t block_begin = 0; block_begin < token_groups; block_begin += block) {
    const int64_t block_end = std::min(token_groups, block_begin + block);
    const int64_t calls_per_unit =
        (block_end - block_begin + kTokenVectors - 1) / kTokenVectors * (kUnitRows / kRowTile);
    for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
      const int64_t row0 = unit * kUnitRows;
      const int n_rows = static_cast<int>(std::min<int64_t>(kUnitRows, rows - row0));
      decode_unit(row0, n_rows);
      // The next unit's weights come straight from DRAM; the micro-kernel calls request
      // them a little at a time. Without this, decoding stalled on every line.
      const uint8_t* fetch = weights + (row0 + n_rows) * stride;
      const uint8_t* fetch_end =
          unit + 1 < unit_end ? weights + std::min(rows, row0 + 2 * kUnitRows) * stride : fetch;
      const int64_t lines_per_call = ((fetch_end - fetch) / 64 + calls_per_unit) / calls_per_unit;
      const int n_tiles = (n_rows + kRowTile - 1) / kRowTile;
      for (int64_t tg = block_begin; tg < block_end; tg += kTokenVectors) {
        const int tv = static_cast<int>(std::min<int64_t>(kTokenVectors, block_end - tg));
        for (int tile = 0; tile < n_tiles; ++tile) {
          const int64_t lines = std::clamp<int64_t>((fetch_end - fetch) / 64, 0, lines_per_call);
          tile_kernel(tile, tg, tv, Prefetch{fetch, lines},
                      results + tile * kRowTile * kTokenVectors * kLanes);
          fetch += 64 * lines;
        }
        const int64_t token0 = tg * kLanes;
        store_unit(results, row0, n_rows, token0, std::min<int64_t>(tv * kLanes, n_tokens - token0),
                   rows, out);
      }
    }
  }
}

// Every matrix in ws has Format's type and the same column count: the activations are packed
// once, and one parallel loop runs over the row units of all of them (q/k/v or gate/up are
// one job instead of three, and the small k/v matrices no longer each pay a pool round trip).
template <class Format>
void gemm_quantized(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                    std::span<float* const> outs, ThreadPool* pool) {
  const int64_t cols = ws[0]->cols;
  const int64_t groups = cols / Format::kGroup;
  const int64_t token_groups = (n_tokens + kLanes - 1) / kLanes;
  // One buffer per calling thread; the lambdas below must name it through a reference, since
  // a thread_local named inside them would be each worker's own (empty) instance.
  thread_local PackedActs acts_of_caller;
  PackedActs& acts = acts_of_caller;
  acts.resize(cols, groups, token_groups);
  parallel_for(pool, token_groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tg = begin; tg < end; ++tg) {
      const int n_valid = static_cast<int>(std::min<int64_t>(kLanes, n_tokens - tg * kLanes));
      pack_token_group(Format::kAct, Format::kGroup, Format::kOffsetShift, in, tg * kLanes, n_valid,
                       acts, tg);
    }
  });

  const int64_t stride = weight_row_stride(*ws[0]);
  const int64_t block = token_groups_per_block(cols * kLanes);
  int64_t first_unit[kMaxGemmMatrices + 1] = {};
  for (size_t m = 0; m < ws.size(); ++m) {
    first_unit[m + 1] = first_unit[m] + (ws[m]->rows + kUnitRows - 1) / kUnitRows;
  }
  parallel_for(pool, first_unit[ws.size()], 1, [&](int64_t unit_begin, int64_t unit_end) {
    thread_local std::vector<uint8_t> codes;
    thread_local std::vector<float> scales, mins;
    codes.resize(static_cast<size_t>(kUnitRows * cols));
    scales.resize(static_cast<size_t>(kUnitRows * groups));
    mins.resize(scales.size());
    for (size_t m = 0; m < ws.size(); ++m) {
      const int64_t begin = std::max(unit_begin, first_unit[m]) - first_unit[m];
      const int64_t end = std::min(unit_end, first_unit[m + 1]) - first_unit[m];
      if (begin >= end) continue;
      const auto* weights = static_cast<const uint8_t*>(ws[m]->data);
      const uint8_t* unit_weights = weights;
      const auto decode_unit = [&](int64_t row0, int n_rows) {
        unit_weights = weights + row0 * stride;
        if constexpr (requires { &Format::decode_group; }) {
          assert(row0 % kUnitRows == 0);  // padded to whole groups: 16 rows to decode
          Format::decode_group(unit_weights, cols, codes.data(), scales.data(), mins.data());
          return;
        }
        for (int r = 0; r < kUnitRows; ++r) {
          if (r < n_rows) {
            Format::decode(weights + (row0 + r) * stride, cols, codes.data() + r * cols,
                           scales.data() + r * groups, mins.data() + r * groups);
          } else {
            std::fill_n(codes.data() + r * cols, cols, 0);
            std::fill_n(scales.data() + r * groups, groups, 0.0f);
            std::fill_n(mins.data() + r * groups, groups, 0.0f);
          }
        }
      };
      const auto tile_kernel = [&](int tile, int64_t tg, int tv, Prefetch fetch, float* results) {
        const int64_t first = static_cast<int64_t>(tile) * kRowTile;
        // In place, a tile's rows are 4 bytes apart within each step's vector.
        const uint8_t* tile_codes =
            codes_in_place<Format>() ? unit_weights + 4 * first : codes.data() + first * cols;
        const DecodedTile decoded{tile_codes, scales.data() + first * groups,
                                  mins.data() + first * groups};
        if (tv == 2) {
          int_micro_kernel<Format, 2>(decoded, acts, tg, fetch, results);
        } else {
          int_micro_kernel<Format, 1>(decoded, acts, tg, fetch, results);
        }
      };
      run_units(begin, end, ws[m]->rows, n_tokens, block, weights, stride, outs[m], decode_unit,
                tile_kernel);
    }
  });
}

// ---- Float weights (F32, F16, BF16): F32 FMA, activations repacked as [cols][16 tokens].

template <int kFormat>  // 0: F32, 1: F16, 2: BF16
void decode_float_row(const void* row, int64_t cols, float* dst) {
  if constexpr (kFormat == 0) {
    std::memcpy(dst, row, static_cast<size_t>(cols) * sizeof(float));
  } else {
    const auto* h = static_cast<const uint16_t*>(row);
    int64_t k = 0;
    for (; k + 16 <= cols; k += 16) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + k));
      if constexpr (kFormat == 1) {
        _mm512_storeu_ps(dst + k, _mm512_cvtph_ps(v));
      } else {
        _mm512_storeu_ps(dst + k,
                         _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)));
      }
    }
    for (; k < cols; ++k) {
      if constexpr (kFormat == 1) {
        dst[k] = half_to_float(h[k]);
      } else {
        const uint32_t bits = static_cast<uint32_t>(h[k]) << 16;
        std::memcpy(dst + k, &bits, sizeof(float));
      }
    }
  }
}

// Transposes n_valid token rows of `cols` floats into dst[cols][kLanes], zero-filling the
// missing tokens: 16 x 16 blocks through registers instead of one scalar per element.
void pack_float_token_group(const float* in, int64_t cols, int n_valid, float* dst) {
  for (int64_t k0 = 0; k0 < cols; k0 += kLanes) {
    const int n_cols = static_cast<int>(std::min<int64_t>(kLanes, cols - k0));
    const auto mask = static_cast<__mmask16>((1u << n_cols) - 1);
    __m512 lines[kLanes];
    for (int lane = 0; lane < kLanes; ++lane) {
      lines[lane] =
          lane < n_valid ? _mm512_maskz_loadu_ps(mask, in + lane * cols + k0) : _mm512_setzero_ps();
    }
    transpose16(lines);
    for (int c = 0; c < n_cols; ++c) _mm512_storeu_ps(dst + (k0 + c) * kLanes, lines[c]);
  }
}

template <int TV>
void float_micro_kernel(const float* w, int64_t cols, const float* acts, int64_t tg, Prefetch fetch,
                        float* results) {
  const float* a[TV];
  for (int v = 0; v < TV; ++v) a[v] = acts + (tg + v) * cols * kLanes;
  __m512 acc[kRowTile][TV];
  for (int r = 0; r < kRowTile; ++r) {
    for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  // One request every `every` columns: issued in a burst, they stalled on the miss buffers.
  const int64_t every = fetch.lines > 0 ? std::max<int64_t>(1, cols / fetch.lines) : cols;
  int64_t line = 0;
  for (int64_t k0 = 0; k0 < cols; k0 += every) {
    if (line < fetch.lines) {
      _mm_prefetch(reinterpret_cast<const char*>(fetch.first + 64 * line), _MM_HINT_T0);
      ++line;
    }
    const int64_t k1 = std::min(cols, k0 + every);
    for (int64_t k = k0; k < k1; ++k) {
      __m512 act[TV];
      for (int v = 0; v < TV; ++v) act[v] = _mm512_loadu_ps(a[v] + k * kLanes);
      for (int r = 0; r < kRowTile; ++r) {
        const __m512 wv = _mm512_set1_ps(w[r * cols + k]);
        for (int v = 0; v < TV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, act[v], acc[r][v]);
      }
    }
  }
  for (; line < fetch.lines; ++line) {
    _mm_prefetch(reinterpret_cast<const char*>(fetch.first + 64 * line), _MM_HINT_T0);
  }
  for (int r = 0; r < kRowTile; ++r) {
    for (int v = 0; v < TV; ++v) {
      _mm512_storeu_ps(results + (r * kTokenVectors + v) * kLanes, acc[r][v]);
    }
  }
}

template <int kFormat>
void gemm_float(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                ThreadPool* pool) {
  const int64_t cols = w.cols;
  const int64_t token_groups = (n_tokens + kLanes - 1) / kLanes;
  thread_local std::vector<float> acts_of_caller;  // named by reference, as in gemm_quantized
  std::vector<float>& acts = acts_of_caller;
  acts.resize(static_cast<size_t>(token_groups * cols * kLanes));
  parallel_for(pool, token_groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tg = begin; tg < end; ++tg) {
      pack_float_token_group(in + tg * kLanes * cols, cols,
                             static_cast<int>(std::min<int64_t>(kLanes, n_tokens - tg * kLanes)),
                             acts.data() + tg * cols * kLanes);
    }
  });

  const int64_t stride = row_bytes(traits(w.type), cols);
  const auto* weights = static_cast<const uint8_t*>(w.data);
  // Long rows (the FFN down projection) would leave a block of one token pair, whose decoded
  // rows (16 x cols floats) then pushed the activations out of L2 once per pair. With at least
  // 8 token groups per block, each unit is decoded a quarter as often and the activations are
  // read from L3, which measured faster for 4864 columns at 128 and 512 tokens.
  constexpr int64_t kMinFloatBlock = 8;
  const int64_t block = std::max(
      kMinFloatBlock, token_groups_per_block(cols * kLanes * static_cast<int64_t>(sizeof(float))));
  const int64_t n_units = (w.rows + kUnitRows - 1) / kUnitRows;
  parallel_for(pool, n_units, 1, [&](int64_t unit_begin, int64_t unit_end) {
    thread_local std::vector<float> decoded;
    decoded.resize(static_cast<size_t>(kUnitRows * cols));
    const auto decode_unit = [&](int64_t row0, int n_rows) {
      for (int r = 0; r < kUnitRows; ++r) {
        if (r < n_rows) {
          decode_float_row<kFormat>(weights + (row0 + r) * stride, cols, decoded.data() + r * cols);
        } else {
          std::fill_n(decoded.data() + r * cols, cols, 0.0f);
        }
      }
    };
    const auto tile_kernel = [&](int tile, int64_t tg, int tv, Prefetch fetch, float* results) {
      const float* rows = decoded.data() + static_cast<int64_t>(tile) * kRowTile * cols;
      if (tv == 2) {
        float_micro_kernel<2>(rows, cols, acts.data(), tg, fetch, results);
      } else {
        float_micro_kernel<1>(rows, cols, acts.data(), tg, fetch, results);
      }
    };
    run_units(unit_begin, unit_end, w.rows, n_tokens, block, weights, stride, out, decode_unit,
              tile_kernel);
  });
}

}  // namespace

bool avx512_gemm_many(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                      std::span<float* const> outs, ThreadPool* pool) {
  if (!one_gemm_shape(ws, outs)) return false;
  const WeightMatrix& w = *ws[0];
  if (w.layout == WeightLayout::kInterleaved) {
    return with_interleaved_decoder(
        w.type, [&]<class Decoder>() { gemm_quantized<Decoder>(ws, in, n_tokens, outs, pool); });
  }
  switch (w.type) {
    case TensorType::Q4_0:
      gemm_quantized<DecodeLegacy<BlockQ4_0, 3, false, false>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q4_1:
      gemm_quantized<DecodeLegacy<BlockQ4_1, -1, true, false>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q5_0:
      gemm_quantized<DecodeLegacy<BlockQ5_0, 4, false, true>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q5_1:
      gemm_quantized<DecodeLegacy<BlockQ5_1, -1, true, true>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q8_0: gemm_quantized<DecodeQ8_0>(ws, in, n_tokens, outs, pool); return true;
    case TensorType::Q4_K:
      gemm_quantized<DecodeQ45K<BlockQ4_K, false>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q5_K:
      gemm_quantized<DecodeQ45K<BlockQ5_K, true>>(ws, in, n_tokens, outs, pool);
      return true;
    case TensorType::Q6_K: gemm_quantized<DecodeQ6K>(ws, in, n_tokens, outs, pool); return true;
    default: break;
  }
  if (ws.size() != 1) return false;
  switch (w.type) {
    case TensorType::F32: gemm_float<0>(w, in, n_tokens, outs[0], pool); return true;
    case TensorType::F16: gemm_float<1>(w, in, n_tokens, outs[0], pool); return true;
    case TensorType::BF16: gemm_float<2>(w, in, n_tokens, outs[0], pool); return true;
    default: return false;
  }
}

bool avx512_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                 ThreadPool* pool) {
  const WeightMatrix* one = &w;
  return avx512_gemm_many(std::span(&one, 1), in, n_tokens, std::span(&out, 1), pool);
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

#else  // not x86-64: no AVX-512 GEMM

namespace hearth {
bool avx512_gemm(const WeightMatrix&, const float*, int64_t, float*, ThreadPool*) {
  return false;
}
bool avx512_gemm_many(std::span<const WeightMatrix* const>, const float*, int64_t,
                      std::span<float* const>, ThreadPool*) {
  return false;
}
}  // namespace hearth

#endif
