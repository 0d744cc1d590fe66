// AVX-512 VNNI kernels over interleaved 16-row groups (interleave_layout.h). Per 32-column
// block: the 8 code vectors are loaded (Q4_0: 4, split into nibbles) and the 16 rows' scales
// widened once for all the tokens; then per token 8 vpdpbusd against its broadcast codes,
// starting from its offset term, one conversion and two float operations. Only called after
// cpu.h confirmed AVX-512 F/BW/VL/VNNI; standard headers come before the target pragma, as in
// quant_dot_avx2.cpp.
#include <cstdint>
#include <cstring>

#include "engine/kernels/interleave_layout.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512_begin.inc"

namespace hearth {
namespace {

constexpr int kSteps = 8;
// How far ahead of the pair being multiplied its successors are requested. The rows of a
// thread's groups are one sequential stream, which the hardware prefetcher follows, but it
// does not run far enough ahead to cover DRAM latency at full bandwidth on its own.
constexpr int64_t kPrefetchBytes = 2048;

struct CodesQ8_0 {
  static constexpr int64_t kBlockBytes = kSteps * 64;
  static void load(const uint8_t* codes, __m512i* w) {
    for (int s = 0; s < kSteps; ++s) w[s] = _mm512_loadu_si512(codes + 64 * s);
  }
};

struct CodesQ4_0 {
  static constexpr int64_t kBlockBytes = kSteps / 2 * 64;
  static void load(const uint8_t* codes, __m512i* w) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int s = 0; s < kSteps / 2; ++s) {
      const __m512i packed = _mm512_loadu_si512(codes + 64 * s);
      w[s] = _mm512_and_si512(packed, nibble);
      w[s + kSteps / 2] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
    }
  }
};

inline __m512i broadcast_codes(const int8_t* p) {
  int32_t four;
  std::memcpy(&four, p, sizeof(four));
  return _mm512_set1_epi32(four);
}

// The integer sums of one block and one token for the 16 rows. One token alone splits the 8
// dependent vpdpbusd into two chains, so their latency overlaps.
template <bool kTwoChains>
inline __m512i block_sums(const __m512i* w, const InterleavedAct& a) {
  if constexpr (kTwoChains) {
    __m512i even = _mm512_set1_epi32(a.offset_sum);
    __m512i odd = _mm512_setzero_si512();
    for (int s = 0; s < kSteps; s += 2) {
      even = _mm512_dpbusd_epi32(even, w[s], broadcast_codes(a.qs + 4 * s));
      odd = _mm512_dpbusd_epi32(odd, w[s + 1], broadcast_codes(a.qs + 4 * s + 4));
    }
    return _mm512_add_epi32(even, odd);
  } else {
    __m512i sum = _mm512_set1_epi32(a.offset_sum);
    for (int s = 0; s < kSteps; ++s) {
      sum = _mm512_dpbusd_epi32(sum, w[s], broadcast_codes(a.qs + 4 * s));
    }
    return sum;
  }
}

template <class Codes, int NT>
void dot_group(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
               int64_t out_stride) {
  constexpr int64_t kPairBytes = 2 * Codes::kBlockBytes + 64;
  const auto* base = static_cast<const uint8_t*>(group);
  const InterleavedAct* a[NT];
  for (int t = 0; t < NT; ++t) {
    a[t] =
        reinterpret_cast<const InterleavedAct*>(static_cast<const uint8_t*>(act) + act_stride * t);
  }
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const int64_t n_pairs = cols / 64;
  for (int64_t p = 0; p < n_pairs; ++p) {
    const uint8_t* pair = base + p * kPairBytes;
    for (int64_t line = 0; line < kPairBytes; line += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(pair + kPrefetchBytes + line), _MM_HINT_T0);
    }
    const __m512i scales = _mm512_loadu_si512(pair + 2 * Codes::kBlockBytes);
    for (int j = 0; j < 2; ++j) {
      const __m512 dw = _mm512_cvtph_ps(j == 0 ? _mm512_castsi512_si256(scales)
                                               : _mm512_extracti64x4_epi64(scales, 1));
      __m512i w[kSteps];
      Codes::load(pair + j * Codes::kBlockBytes, w);
      const int64_t b = 2 * p + j;
      for (int t = 0; t < NT; ++t) {
        const InterleavedAct& block = a[t][b];
        const __m512i sums = block_sums<NT == 1>(w, block);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums),
                                 _mm512_mul_ps(dw, _mm512_set1_ps(block.d)), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

template <class Codes>
void dot(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act, float* out,
         int64_t out_stride) {
  static_assert(kInterleaveMaxTokens == 8);
  switch (n_act) {
    case 1: return dot_group<Codes, 1>(cols, group, act, act_stride, out, out_stride);
    case 2: return dot_group<Codes, 2>(cols, group, act, act_stride, out, out_stride);
    case 3: return dot_group<Codes, 3>(cols, group, act, act_stride, out, out_stride);
    case 4: return dot_group<Codes, 4>(cols, group, act, act_stride, out, out_stride);
    case 5: return dot_group<Codes, 5>(cols, group, act, act_stride, out, out_stride);
    case 6: return dot_group<Codes, 6>(cols, group, act, act_stride, out, out_stride);
    case 7: return dot_group<Codes, 7>(cols, group, act, act_stride, out, out_stride);
    case 8: return dot_group<Codes, 8>(cols, group, act, act_stride, out, out_stride);
    default: break;
  }
}

}  // namespace

InterleavedDotFn avx512_interleaved_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return dot<CodesQ8_0>;
    case TensorType::Q4_0: return dot<CodesQ4_0>;
    default: return nullptr;
  }
}

}  // namespace hearth

#include "engine/kernels/avx512_end.inc"

#else  // not x86-64

namespace hearth {
InterleavedDotFn avx512_interleaved_dot(TensorType) {
  return nullptr;
}
}  // namespace hearth

#endif
