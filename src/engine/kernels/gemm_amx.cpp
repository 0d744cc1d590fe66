// AMX GEMM for interleaved integer weights (see gemm.h). The interleaved layout keeps 16 rows'
// codes 4 bytes at a time, so a scale group's chunks are an AMX B tile (group / 4 rows of 64
// bytes: 4 codes of each of 16 weight rows), and 16 tokens' quantized activations in column
// order are an A tile. One TDPBSUD (signed activations x unsigned weight codes) gives the 16 x
// 16 integer sums of one scale group; they are stored and scaled exactly as the AVX-512
// micro-kernel scales its vpdpbusd sums (same operations, same order), so the two paths
// agree bit for bit.
//
// Tiles: 0 and 1 hold the sums of two groups, 2 and 3 their activations, 4 and 5 their
// weights, so the second group's loads and product overlap the first's.
//
// The kernel is a template over its tile operations: HardwareTiles issues the instructions,
// EmulatedTiles runs them on amx_emulator.h's model, which is how this file is tested on CPUs
// without AMX. The amx kernel table, at the end, is the AVX512-BF16 one with this GEMM first.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "engine/kernels/activation.h"
#include "engine/kernels/amx_emulator.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/interleave_offsets.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/quant_blocks.h"

#if defined(__x86_64__)
#include "engine/kernels/amx_begin.inc"

namespace hearth {
namespace {

#include "engine/kernels/gemm_common_avx512.inc"

// Tile numbers are part of the instruction encodings, so each role has its own literal ones.
struct HardwareTiles {
  static void configure(const TileConfig& config) { _tile_loadconfig(&config); }
  static void release() { _tile_release(); }
  template <int k>
  static void load_acts(const void* p, int64_t stride) {
    if constexpr (k == 0) {
      _tile_loadd(2, p, stride);
    } else {
      _tile_loadd(3, p, stride);
    }
  }
  template <int k>
  static void load_weights(const void* p, int64_t stride) {
    if constexpr (k == 0) {
      _tile_loadd(4, p, stride);
    } else {
      _tile_loadd(5, p, stride);
    }
  }
  template <int k>
  static void zero_sums() {
    if constexpr (k == 0) {
      _tile_zero(0);
    } else {
      _tile_zero(1);
    }
  }
  template <int k>
  static void dot() {
    if constexpr (k == 0) {
      _tile_dpbsud(0, 2, 4);
    } else {
      _tile_dpbsud(1, 3, 5);
    }
  }
  template <int k>
  static void store_sums(void* p, int64_t stride) {
    if constexpr (k == 0) {
      _tile_stored(0, p, stride);
    } else {
      _tile_stored(1, p, stride);
    }
  }
};

thread_local TileEmulator t_emulated_tiles;

struct EmulatedTiles {
  static void configure(const TileConfig& config) { t_emulated_tiles.configure(config); }
  static void release() { t_emulated_tiles.release(); }
  template <int k>
  static void load_acts(const void* p, int64_t stride) {
    t_emulated_tiles.load(2 + k, p, stride);
  }
  template <int k>
  static void load_weights(const void* p, int64_t stride) {
    t_emulated_tiles.load(4 + k, p, stride);
  }
  template <int k>
  static void zero_sums() {
    t_emulated_tiles.zero(k);
  }
  template <int k>
  static void dot() {
    t_emulated_tiles.dot_signed_unsigned(k, 2 + k, 4 + k);
  }
  template <int k>
  static void store_sums(void* p, int64_t stride) {
    t_emulated_tiles.store(k, p, stride);
  }
};

// group: elements per weight scale group (32, or 16 for Q6_K).
TileConfig gemm_tile_config(int group) {
  TileConfig config;
  config.palette_id = 1;
  for (int k = 0; k < 2; ++k) {
    config.rows[k] = 16;  // sums: 16 tokens x 16 weight rows of int32
    config.colsb[k] = 64;
    config.rows[2 + k] = 16;  // activations: 16 tokens x `group` codes
    config.colsb[2 + k] = static_cast<uint16_t>(group);
    config.rows[4 + k] = static_cast<uint8_t>(group / 4);  // weights: 4 codes x 16 rows per row
    config.colsb[4 + k] = 64;
  }
  return config;
}

// Where group g's B tile starts: in the weights themselves for Q8_0 (already q + 128 in
// chunk order), else in the unit's decoded codes.
template <class Format>
const uint8_t* weight_tile(const uint8_t* unit_weights, const uint8_t* codes, int64_t g) {
  if constexpr (codes_in_place<Format>()) {
    return unit_weights + Format::code_offset(0, g, 0);
  } else {
    return codes + 16 * Format::kGroup * g;
  }
}

// results[m * 16 + r] = weight row r of the unit . token 16 * tg + m. scales and mins are
// [group][16 rows] (decode_group_as<true>).
template <class Format, class Tiles>
void amx_micro_kernel(const uint8_t* unit_weights, const uint8_t* codes, const float* scales,
                      const float* mins, const PackedActs& a, int64_t tg, Prefetch fetch,
                      float* results) {
  constexpr int kGroup = Format::kGroup;
  // As in the AVX-512 micro-kernel: Q8_K activations have one scale per 256 elements, so the
  // groups' sums are scaled by the weight scales only and by the activation scale per 256.
  constexpr int kGroupsPerActScale =
      Format::kAct == ActivationFormat::kQ8K ? kSuperBlock / kGroup : 1;
  const int64_t cols = a.cols;
  const int64_t groups = a.groups;
  const uint8_t* acts = a.qs_of(tg);
  const float* d = a.d_of(tg);
  const int32_t* start = a.start_of(tg);
  const float* d_sum = a.d_sum_of(tg);

  __m512 acc[kLanes];      // token m's sums over the unit's 16 rows
  __m512 partial[kLanes];  // Q8_K: the current 256 elements, not yet times the activation scale
  for (int m = 0; m < kLanes; ++m) acc[m] = partial[m] = _mm512_setzero_ps();
  alignas(64) int32_t sums[2][kLanes * 16];

  const auto add_group = [&](const int32_t* group_sums, int64_t g) {
    const __m512 weight_scale = _mm512_loadu_ps(scales + g * 16);
    __m512 weight_min = _mm512_setzero_ps();
    if constexpr (Format::kHasMin) weight_min = _mm512_loadu_ps(mins + g * 16);
    for (int m = 0; m < kLanes; ++m) {
      __m512i isum = _mm512_load_si512(group_sums + m * 16);
      if constexpr (Format::kOffsetShift >= 0) {
        isum = _mm512_add_epi32(isum, _mm512_set1_epi32(start[g * kLanes + m]));
      }
      const __m512 sum = _mm512_cvtepi32_ps(isum);
      if constexpr (kGroupsPerActScale > 1) {
        partial[m] = _mm512_fmadd_ps(sum, weight_scale, partial[m]);
      } else {
        acc[m] = _mm512_fmadd_ps(
            sum, _mm512_mul_ps(_mm512_set1_ps(d[g * kLanes + m]), weight_scale), acc[m]);
      }
      if constexpr (Format::kHasMin) {
        acc[m] = _mm512_fmadd_ps(_mm512_set1_ps(d_sum[g * kLanes + m]), weight_min, acc[m]);
      }
    }
    if constexpr (kGroupsPerActScale > 1) {
      if ((g + 1) % kGroupsPerActScale == 0) {
        const int64_t first = g + 1 - kGroupsPerActScale;
        for (int m = 0; m < kLanes; ++m) {
          acc[m] = _mm512_fmadd_ps(partial[m], _mm512_set1_ps(d[first * kLanes + m]), acc[m]);
          partial[m] = _mm512_setzero_ps();
        }
      }
    }
  };

  const int64_t pairs = groups / 2;
  const int64_t fetch_per_pair = (fetch.lines + pairs - 1) / pairs;
  for (int64_t g = 0; g < groups; g += 2) {
    for (int64_t i = g / 2 * fetch_per_pair;
         i < std::min(fetch.lines, (g / 2 + 1) * fetch_per_pair); ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(fetch.first + 64 * i), _MM_HINT_T0);
    }
    Tiles::template load_acts<0>(acts + g * kGroup, cols);
    Tiles::template load_weights<0>(weight_tile<Format>(unit_weights, codes, g), 64);
    Tiles::template zero_sums<0>();
    Tiles::template dot<0>();
    Tiles::template load_acts<1>(acts + (g + 1) * kGroup, cols);
    Tiles::template load_weights<1>(weight_tile<Format>(unit_weights, codes, g + 1), 64);
    Tiles::template zero_sums<1>();
    Tiles::template dot<1>();
    Tiles::template store_sums<0>(sums[0], 64);
    Tiles::template store_sums<1>(sums[1], 64);
    add_group(sums[0], g);
    add_group(sums[1], g + 1);
  }
  for (int m = 0; m < kLanes; ++m) _mm512_store_ps(results + m * 16, acc[m]);
}

template <class Format, class Tiles>
void gemm_amx(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
              std::span<float* const> outs, ThreadPool* pool) {
  const int64_t cols = ws[0]->cols;
  const int64_t groups = cols / Format::kGroup;
  const int64_t token_groups = (n_tokens + kLanes - 1) / kLanes;
  thread_local PackedActs acts_of_caller;  // named by reference below, as in gemm_avx512.cpp
  PackedActs& acts = acts_of_caller;
  acts.resize(cols, groups, token_groups);
  parallel_for(pool, token_groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tg = begin; tg < end; ++tg) {
      const int n_valid = static_cast<int>(std::min<int64_t>(kLanes, n_tokens - tg * kLanes));
      pack_token_group(Format::kAct, Format::kGroup, Format::kOffsetShift, in, tg * kLanes, n_valid,
                       acts, tg, ActsLayout::kTokenRows);
    }
  });

  const int64_t unit_bytes = kUnitRows * weight_row_stride(*ws[0]);
  const int64_t block = std::max<int64_t>(1, kActBlockBytes / (cols * kLanes));
  int64_t first_unit[kMaxGemmMatrices + 1] = {};
  for (size_t m = 0; m < ws.size(); ++m) {
    first_unit[m + 1] = first_unit[m] + (ws[m]->rows + kUnitRows - 1) / kUnitRows;
  }
  const TileConfig config = gemm_tile_config(Format::kGroup);
  parallel_for(pool, first_unit[ws.size()], 1, [&](int64_t unit_begin, int64_t unit_end) {
    thread_local std::vector<uint8_t> codes;
    thread_local std::vector<float> scales, mins;
    codes.resize(static_cast<size_t>(kUnitRows * cols));
    scales.resize(static_cast<size_t>(kUnitRows * groups));
    mins.resize(scales.size());
    alignas(64) float results[kLanes * 16];
    Tiles::configure(config);
    for (size_t m = 0; m < ws.size(); ++m) {
      const int64_t begin = std::max(unit_begin, first_unit[m]) - first_unit[m];
      const int64_t end = std::min(unit_end, first_unit[m + 1]) - first_unit[m];
      if (begin >= end) continue;
      const WeightMatrix& w = *ws[m];
      const auto* weights = static_cast<const uint8_t*>(w.data);
      for (int64_t block_begin = 0; block_begin < token_groups; block_begin += block) {
        const int64_t block_end = std::min(token_groups, block_begin + block);
        for (int64_t unit = begin; unit < end; ++unit) {
          const int64_t row0 = unit * kUnitRows;
          const int n_rows = static_cast<int>(std::min<int64_t>(kUnitRows, w.rows - row0));
          const uint8_t* unit_weights = weights + unit * unit_bytes;
          Format::template decode_group_as<true>(unit_weights, cols, codes.data(), scales.data(),
                                                 mins.data());
          // The next unit's weights, requested a little during each call (see run_units).
          const int64_t next_lines = unit + 1 < end ? unit_bytes / 64 : 0;
          const int64_t calls = block_end - block_begin;
          const int64_t lines_per_call = (next_lines + calls - 1) / calls;
          const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
          for (int64_t tg = block_begin; tg < block_end; ++tg) {
            const int64_t done = (tg - block_begin) * lines_per_call;
            const Prefetch fetch{unit_weights + unit_bytes + 64 * done,
                                 std::clamp<int64_t>(next_lines - done, 0, lines_per_call)};
            amx_micro_kernel<Format, Tiles>(unit_weights, codes.data(), scales.data(), mins.data(),
                                            acts, tg, fetch, results);
            const int64_t n_valid = std::min<int64_t>(kLanes, n_tokens - tg * kLanes);
            for (int64_t t = 0; t < n_valid; ++t) {
              _mm512_mask_storeu_ps(outs[m] + (tg * kLanes + t) * w.rows + row0, mask,
                                    _mm512_load_ps(results + t * 16));
            }
          }
        }
      }
    }
    Tiles::release();
  });
}

template <class Tiles>
bool amx_gemm_many_with(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                        std::span<float* const> outs, ThreadPool* pool) {
  if (!one_gemm_shape(ws, outs) || ws[0]->layout != WeightLayout::kInterleaved) return false;
  return with_interleaved_decoder(ws[0]->type, [&]<class Decoder>() {
    gemm_amx<Decoder, Tiles>(ws, in, n_tokens, outs, pool);
  });
}

// One product of each shape the GEMM configures, on both tile states.
template <class Tiles>
void tile_probe(int group, const int8_t* a, const uint8_t* b, int32_t* c) {
  Tiles::configure(gemm_tile_config(group));
  Tiles::template load_acts<0>(a, 64);
  Tiles::template load_weights<0>(b, 64);
  Tiles::template zero_sums<0>();
  Tiles::template dot<0>();
  Tiles::template dot<0>();  // accumulates onto the first product
  Tiles::template store_sums<0>(c, 64);
  Tiles::release();
}

// A deterministic generator for the self-test's data (no <random> inside the target region).
struct Lcg {
  uint32_t state;
  uint32_t next() {
    state = state * 1664525u + 1013904223u;
    return state;
  }
  float uniform() { return static_cast<float>(next() >> 8) / 8388608.0f - 1.0f; }  // [-1, 1)
};

template <class Tiles>
bool tiles_agree_with_emulator() {
  alignas(64) int8_t a[16 * 64];
  alignas(64) uint8_t b[16 * 64];
  Lcg rng{12345};
  for (auto& x : a) x = static_cast<int8_t>(rng.next() >> 24);
  for (auto& x : b) x = static_cast<uint8_t>(rng.next() >> 24);
  for (int group : {16, 32}) {
    alignas(64) int32_t tiles[16 * 16];
    alignas(64) int32_t emulated[16 * 16];
    tile_probe<Tiles>(group, a, b, tiles);
    tile_probe<EmulatedTiles>(group, a, b, emulated);
    if (std::memcmp(tiles, emulated, sizeof(tiles)) != 0) return false;
  }
  return true;
}

// The whole kernel over Tiles against the AVX-512 GEMM on small random matrices of one format
// per decoder family (in place, 32-element groups with a min, 16-element groups), with a
// padded last row group and a partial token group.
template <class Tiles>
bool gemm_reproduces_avx512() {
  constexpr int64_t kRows = 40, kCols = 256, kTokens = 21;
  Lcg rng{777};
  std::vector<float> x(static_cast<size_t>(kTokens * kCols));
  for (auto& v : x) v = rng.uniform();
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t stride = row_bytes(traits(type), kCols);
    std::vector<uint8_t> file(static_cast<size_t>(kRows * stride));
    std::vector<float> row(static_cast<size_t>(kCols));
    for (int64_t r = 0; r < kRows; ++r) {
      for (auto& v : row) v = rng.uniform();
      quantize_row(type, row.data(), file.data() + r * stride, kCols);
    }
    std::vector<uint8_t> interleaved(static_cast<size_t>(interleaved_bytes(type, kRows, kCols)));
    interleave_rows(type, file.data(), kRows, kCols, interleaved.data());
    const WeightMatrix w{type, interleaved.data(), kRows, kCols, WeightLayout::kInterleaved};
    std::vector<float> want(static_cast<size_t>(kTokens * kRows), 0.0f);
    std::vector<float> got(want.size(), -1.0f);
    const WeightMatrix* ws[] = {&w};
    float* want_out[] = {want.data()};
    float* got_out[] = {got.data()};
    if (!avx512_gemm_many(ws, x.data(), kTokens, want_out, nullptr) ||
        !amx_gemm_many_with<Tiles>(ws, x.data(), kTokens, got_out, nullptr) ||
        std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

template <class Tiles>
bool self_test() {
  const int64_t faults = TileEmulator::fault_count();
  return tiles_agree_with_emulator<Tiles>() && gemm_reproduces_avx512<Tiles>() &&
         TileEmulator::fault_count() == faults;
}

}  // namespace

bool amx_gemm_many(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                   std::span<float* const> outs, ThreadPool* pool) {
  return amx_gemm_many_with<HardwareTiles>(ws, in, n_tokens, outs, pool);
}

bool amx_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
              ThreadPool* pool) {
  const WeightMatrix* one = &w;
  return amx_gemm_many(std::span(&one, 1), in, n_tokens, std::span(&out, 1), pool);
}

bool amx_gemm_many_emulated(std::span<const WeightMatrix* const> ws, const float* in,
                            int64_t n_tokens, std::span<float* const> outs, ThreadPool* pool) {
  return amx_gemm_many_with<EmulatedTiles>(ws, in, n_tokens, outs, pool);
}

bool amx_self_test() {
  return self_test<HardwareTiles>();
}

bool amx_self_test_emulated() {
  return self_test<EmulatedTiles>();
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

namespace hearth {
namespace {

// Interleaved integer weights go to the AMX GEMM; everything else as at AVX512-BF16.
bool amx_gemm_first(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                    ThreadPool* pool) {
  return amx_gemm(w, in, n_tokens, out, pool) ||
         kAvx512Bf16Kernels.gemm(w, in, n_tokens, out, pool);
}

bool amx_gemm_many_first(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                         std::span<float* const> outs, ThreadPool* pool) {
  return amx_gemm_many(ws, in, n_tokens, outs, pool) ||
         kAvx512Bf16Kernels.gemm_many(ws, in, n_tokens, outs, pool);
}

}  // namespace

// AMX only changes the prompt GEMM of interleaved integer weights; chosen only after
// amx_self_test() passed.
const KernelTable kAmxKernels = {
    .name = "amx",
    .required = {.avx2 = true,
                 .fma = true,
                 .f16c = true,
                 .avx512f = true,
                 .avx512bw = true,
                 .avx512vl = true,
                 .avx512vnni = true,
                 .avx512bf16 = true,
                 .amx_tile = true,
                 .amx_int8 = true},
    .fallback = &kAvx512Bf16Kernels,
    .self_test = amx_self_test,
    .bf16_activations = true,
    .quantize_activation_row = avx512bf16_quantize_activation_row,
    .row_dot_4rows = avx512_row_dot_4rows,
    .row_dot_4rows_min_tokens = kAvx512RowDot4MinTokens,
    .interleaved_weights = true,
    .gemm = amx_gemm_first,
    .gemm_many = amx_gemm_many_first,
    .swiglu = swiglu_avx512,
    .copy_finite = copy_finite_avx512,
    .max_value = max_value_avx512,
    .exp_shifted = exp_shifted_avx512,
    .attend_tile = attn::attend_tile_avx512,
};

}  // namespace hearth

#else  // not x86-64: no AMX

namespace hearth {
bool amx_gemm(const WeightMatrix&, const float*, int64_t, float*, ThreadPool*) {
  return false;
}
bool amx_gemm_many(std::span<const WeightMatrix* const>, const float*, int64_t,
                   std::span<float* const>, ThreadPool*) {
  return false;
}
bool amx_gemm_many_emulated(std::span<const WeightMatrix* const>, const float*, int64_t,
                            std::span<float* const>, ThreadPool*) {
  return false;
}
bool amx_self_test() {
  return false;
}
bool amx_self_test_emulated() {
  return false;
}
}  // namespace hearth

#endif
