// AVX-512 VNNI row dots over split rows (split_layout.h): per unit of 128 weights, two
// vpdpbusd per token starting from the activation's offset term, then one conversion and two
// float operations per token. The weight scales of
// a unit are widened once and shared by every token of the tile. Only called after cpu.h
// confirmed AVX-512 F/BW/VL/VNNI; standard headers come before the target pragma, as in
// quant_dot_avx2.cpp.
#include <cassert>
#include <cstdint>
#include <cstring>

#include "engine/kernels/quant_dot.h"
#include "engine/kernels/split_layout.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512_begin.inc"

namespace hearth {
namespace {

__m512i load512(const void* p) {
  return _mm512_loadu_si512(p);
}

// Both formats give two 64-byte code vectors a unit, whose lane l belongs to block l / 4: the
// first meets activation codes 0..63, the second 64..127.
inline __m512 unit_scales(const uint16_t* scales, int64_t u) {
  const __m128 d = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales + 4 * u)));
  const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d));
}

struct UnitWeights {
  __m512i first;
  __m512i second;
  __m512 scales;
};

struct SplitQ8_0 {
  static constexpr int64_t kUnitBytes = 128;
  static UnitWeights load(const uint8_t* codes, const uint16_t* scales, int64_t u) {
    const uint8_t* unit = codes + kUnitBytes * u;
    return {load512(unit), load512(unit + 64), unit_scales(scales, u)};
  }
};

struct SplitQ4_0 {
  static constexpr int64_t kUnitBytes = 64;
  static UnitWeights load(const uint8_t* codes, const uint16_t* scales, int64_t u) {
    const __m512i packed = load512(codes + kUnitBytes * u);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    return {_mm512_and_si512(packed, nibble),
            _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble), unit_scales(scales, u)};
  }
};

inline __m512i lane_sums(const UnitWeights& w, const SplitAct& a) {
  const __m512i first = _mm512_dpbusd_epi32(load512(a.offset_sums), w.first, load512(a.codes));
  return _mm512_dpbusd_epi32(first, w.second, load512(a.codes + 64));
}

// chain[t] += the unit's products with token t (NT tokens).
template <int NT>
inline void accumulate(const UnitWeights& w, const SplitAct* const* a, int64_t u, __m512* chain) {
  for (int t = 0; t < NT; ++t) {
    const __m512 sums = _mm512_cvtepi32_ps(lane_sums(w, a[t][u]));
    const __m512 scale = _mm512_mul_ps(w.scales, _mm512_loadu_ps(a[t][u].scales));
    chain[t] = _mm512_fmadd_ps(sums, scale, chain[t]);
  }
}

// Runs step(u, c) for every unit, c cycling through C accumulator chains.
template <int C, class Step>
inline void for_units(int64_t n_units, Step&& step) {
  int64_t u = 0;
  for (; u + C <= n_units; u += C) {
    for (int c = 0; c < C; ++c) step(u + c, c);
  }
  for (; u < n_units; ++u) step(u, 0);
}

// How far ahead of its loads the one-row kernel requests weight lines.
constexpr int64_t kRowPrefetchBytes = 2048;

// Independent accumulator chains per token, so the FMA latency does not bound the loop.
template <int NT>
inline constexpr int kChains = NT == 1 ? 4 : (NT == 2 ? 2 : 1);

template <class Format, int NT>
void run(int64_t n, const void* weight_row, const void* act, size_t stride, float* out) {
  constexpr int C = kChains<NT>;
  const auto* codes = static_cast<const uint8_t*>(weight_row);
  const auto* scales =
      reinterpret_cast<const uint16_t*>(codes + n / kSplitUnit * Format::kUnitBytes);
  const SplitAct* a[NT];
  __m512 acc[C][NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = reinterpret_cast<const SplitAct*>(static_cast<const uint8_t*>(act) + stride * t);
    for (int c = 0; c < C; ++c) acc[c][t] = _mm512_setzero_ps();
  }
  const auto step = [&](int64_t u, __m512* chain) {
    // The hardware prefetcher alone left qwen2.5-0.5b Q4_0 decoding at 68-69 tok/s; asking
    // for the lines 2 KiB ahead (into the next rows) gave 75-78 (1 and 4 KiB: 69-74).
    for (int64_t line = 0; line < Format::kUnitBytes; line += 64) {
      _mm_prefetch(
          reinterpret_cast<const char*>(codes + u * Format::kUnitBytes + kRowPrefetchBytes + line),
          _MM_HINT_T0);
    }
    accumulate<NT>(Format::load(codes, scales, u), a, u, chain);
  };
  for_units<C>(n / kSplitUnit, [&](int64_t u, int c) { step(u, acc[c]); });
  for (int t = 0; t < NT; ++t) {
    __m512 total = acc[0][t];
    for (int c = 1; c < C; ++c) total = _mm512_add_ps(total, acc[c][t]);
    out[t] = _mm512_reduce_add_ps(total);
  }
}

template <class Format>
void tiled(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
           float* out) {
  switch (n_act) {
    case 1: return run<Format, 1>(n, weight_row, act, stride, out);
    case 2: return run<Format, 2>(n, weight_row, act, stride, out);
    case 3: return run<Format, 3>(n, weight_row, act, stride, out);
    default: return run<Format, 4>(n, weight_row, act, stride, out);
  }
}

// Sums of the 16 lanes of each of v[0..3], in lanes 0..3.
inline __m128 reduce4(const __m512* v) {
  __m256 half[4];
  for (int r = 0; r < 4; ++r) {
    half[r] = _mm256_add_ps(_mm512_castps512_ps256(v[r]),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[r]), 1)));
  }
  // hadd(a, b) = a0+a1 a2+a3 b0+b1 b2+b3 | the same for the upper 128 bits.
  const __m256 pairs =
      _mm256_hadd_ps(_mm256_hadd_ps(half[0], half[1]), _mm256_hadd_ps(half[2], half[3]));
  return _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
}

// Units ahead of the loads that run_rows requests (past a row's end is the next row's start).
constexpr int64_t kPrefetchUnits = 16;

// NT tokens against 4 consecutive rows: each activation unit is loaded once for the 4 rows,
// each weight unit once for the NT tokens, and the 4 rows' horizontal sums share one
// reduction. A lone token (decode) alternates between two accumulator chains. (Two pairs of
// rows for 3-4 tokens, to avoid spilling 16 accumulators, measured slower.)
template <class Format, int NT>
void run_rows(int64_t n, const uint8_t* rows, int64_t row_stride, const uint8_t* act,
              size_t act_stride, float* out, int64_t out_stride) {
  constexpr int R = 4;
  constexpr int C = NT == 1 ? 2 : 1;
  const int64_t scales_at = n / kSplitUnit * Format::kUnitBytes;
  const SplitAct* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const SplitAct*>(act + act_stride * t);
  __m512 acc[C][R][NT];
  for (auto& chain : acc) {
    for (auto& row : chain) {
      for (auto& v : row) v = _mm512_setzero_ps();
    }
  }
  const auto step = [&](int64_t u, __m512(*chain)[NT]) {
    for (int r = 0; r < R; ++r) {
      const uint8_t* codes = rows + r * row_stride;
      // Four rows read side by side are four interleaved streams, which the hardware
      // prefetcher follows poorly from DRAM: ask for each row's lines ahead.
      for (int64_t line = 0; line < Format::kUnitBytes; line += 64) {
        _mm_prefetch(
            reinterpret_cast<const char*>(codes + (u + kPrefetchUnits) * Format::kUnitBytes + line),
            _MM_HINT_T0);
      }
      const UnitWeights w =
          Format::load(codes, reinterpret_cast<const uint16_t*>(codes + scales_at), u);
      accumulate<NT>(w, a, u, chain[r]);
    }
  };
  for_units<C>(n / kSplitUnit, [&](int64_t u, int c) { step(u, acc[c]); });
  for (int t = 0; t < NT; ++t) {
    __m512 total[R];
    for (int r = 0; r < R; ++r) {
      total[r] = acc[0][r][t];
      for (int c = 1; c < C; ++c) total[r] = _mm512_add_ps(total[r], acc[c][r][t]);
    }
    _mm_storeu_ps(out + t * out_stride, reduce4(total));
  }
}

template <class Format>
void rows_tiled(int64_t n, const uint8_t* rows, int64_t row_stride, const uint8_t* act,
                size_t act_stride, int n_act, float* out, int64_t out_stride) {
  switch (n_act) {
    case 1: return run_rows<Format, 1>(n, rows, row_stride, act, act_stride, out, out_stride);
    case 2: return run_rows<Format, 2>(n, rows, row_stride, act, act_stride, out, out_stride);
    case 3: return run_rows<Format, 3>(n, rows, row_stride, act, act_stride, out, out_stride);
    default: return run_rows<Format, 4>(n, rows, row_stride, act, act_stride, out, out_stride);
  }
}

}  // namespace

void avx512_split_dot_4rows(TensorType weight_type, int64_t n, const void* rows, int64_t row_stride,
                            const void* act, size_t act_stride, int n_act, float* out,
                            int64_t out_stride) {
  assert(split_four_rows_pays(weight_type, n_act));  // the only case measured to gain
  (void)weight_type;
  rows_tiled<SplitQ4_0>(n, static_cast<const uint8_t*>(rows), row_stride,
                        static_cast<const uint8_t*>(act), act_stride, n_act, out, out_stride);
}

void avx512_quantize_split_activation(TensorType weight_type, const float* x, int64_t n,
                                      SplitAct* dst) {
  const __m512i lo = _mm512_set1_epi32(-127);
  const __m512i hi = _mm512_set1_epi32(127);
  const __m512i ones = _mm512_set1_epi8(1);
  const int shift = weight_type == TensorType::Q8_0 ? 7 : 3;  // offset 128 or 8
  for (int64_t u = 0; u < n / kSplitUnit; ++u, x += kSplitUnit) {
    SplitAct& unit = dst[u];
    for (int j = 0; j < 4; ++j) {
      // The same operations as the scalar quantizer, so the codes and d are identical.
      const __m512 first = _mm512_loadu_ps(x + 32 * j);
      const __m512 second = _mm512_loadu_ps(x + 32 * j + 16);
      const float absmax =
          _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(first), _mm512_abs_ps(second)));
      const __m512 inverse = _mm512_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
      const auto codes = [&](__m512 v) {
        const __m512 rounded = _mm512_roundscale_ps(_mm512_mul_ps(v, inverse),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        return _mm512_cvtepi32_epi8(
            _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(rounded), lo), hi));
      };
      _mm_storeu_si128(reinterpret_cast<__m128i*>(unit.codes + 16 * j), codes(first));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(unit.codes + 64 + 16 * j), codes(second));
      _mm_storeu_ps(unit.scales + 4 * j, _mm_set1_ps(absmax / 127.0f));
    }
    // Lane l's codes are bytes 4l..4l+3 of both halves: vpdpbusd with ones sums them.
    const __m512i sums =
        _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, load512(unit.codes)),
                            ones, load512(unit.codes + 64));
    _mm512_storeu_si512(unit.offset_sums,
                        _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, shift)));
  }
}

RowDotFn avx512_split_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return tiled<SplitQ8_0>;
    case TensorType::Q4_0: return tiled<SplitQ4_0>;
    default: return nullptr;
  }
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

#else  // not x86-64

namespace hearth {
RowDotFn avx512_split_row_dot(TensorType) {
  return nullptr;
}
void avx512_quantize_split_activation(TensorType, const float*, int64_t, SplitAct*) {}
void avx512_split_dot_4rows(TensorType, int64_t, const void*, int64_t, const void*, size_t, int,
                            float*, int64_t) {}
}  // namespace hearth

#endif
