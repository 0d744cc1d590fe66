// AVX-512 VNNI kernels over interleaved 16-row groups (interleave_layout.h). Per 32-column
// block: the 8 code vectors are loaded (Q4_0, Q5_0 and Q4_K: 4, split into nibbles) and the 16
// rows' scales widened once for all the tokens (Q4_K: unpacked from their 6-bit fields once
// per super-block); then per token 8 vpdpbusd against its broadcast codes, starting from its
// offset term, one conversion and two float operations. Only called through
// the avx512 kernel table or those above it; standard headers come before the target pragma, as in
// quant_dot_avx2.cpp.
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/interleave_offsets.h"

#if defined(__x86_64__)
#include "engine/kernels/avx512_begin.inc"

namespace hearth {
namespace {

#include "engine/kernels/interleave_avx512.inc"

constexpr int kSteps = 8;
// No software prefetch in the legacy-format kernels (Q4_K/Q5_K have one: prefetch_lines):
// a thread's groups are one sequential stream, which the hardware prefetcher follows. Requests 2, 8
// and 16 KiB ahead were measured (qwen2.5-0.5b Q8_0, `hearth bench -p 4,4 -n 16`, alternating):
// decode 56.5-59.6 tok/s against 61.6-61.9 without, 4-token steps 178-219 against 212-219.

// Each format's block codes: kBlockBytes per 16 rows, load() fills the 8 step vectors, and
// kHasMin says the pair carries mins after its scales (Q4_1 / Q5_1: no code offset).
struct CodesQ8_0 {
  static constexpr bool kHasMin = false;
  static constexpr int64_t kBlockBytes = interleave::kQ8_0BlockCodes;
  static void load(const uint8_t* codes, __m512i* w) {
    for (int s = 0; s < kSteps; ++s) w[s] = _mm512_loadu_si512(codes + 64 * s);
  }
};

struct CodesQ4_0 {
  static constexpr bool kHasMin = false;
  static constexpr int64_t kBlockBytes = interleave::kQ4_0BlockCodes;
  static void load(const uint8_t* codes, __m512i* w) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    for (int s = 0; s < kSteps / 2; ++s) {
      const __m512i packed = _mm512_loadu_si512(codes + 64 * s);
      w[s] = _mm512_and_si512(packed, nibble);
      w[s + kSteps / 2] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
    }
  }
};

// Q5_0: the nibbles as Q4_0's, then 16 added to the bytes that step's mask of fifth bits
// selects (codes 0..31).
struct CodesQ5_0 {
  static constexpr bool kHasMin = false;
  static constexpr int64_t kBlockBytes = interleave::kQ5_0BlockCodes;
  static void load(const uint8_t* codes, __m512i* w) {
    CodesQ4_0::load(codes + interleave::kQ5_0FifthBits, w);
    const __m512i sixteen = _mm512_set1_epi8(0x10);
    for (int s = 0; s < kSteps; ++s) {
      uint64_t bits;
      std::memcpy(&bits, codes + 8 * s, sizeof(bits));
      w[s] = _mm512_mask_add_epi8(w[s], bits, w[s], sixteen);
    }
  }
};

struct CodesQ4_1 : CodesQ4_0 {
  static constexpr bool kHasMin = true;
};
struct CodesQ5_1 : CodesQ5_0 {
  static constexpr bool kHasMin = true;
};

// acc + w . (4 activation codes at p, broadcast). GCC keeps the broadcast as a separate
// vpbroadcastd; the embedded-broadcast operand form folds it into the load.
inline __m512i dpbusd_broadcast(__m512i acc, __m512i w, const int8_t* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(w), "m"(*reinterpret_cast<const int32_t*>(p)));
  return acc;
}

// The integer sums of one block and one token for the 16 rows. One token alone splits the 8
// dependent vpdpbusd into two chains, so their latency overlaps.
template <bool kTwoChains>
inline __m512i block_sums(const __m512i* w, const int8_t* qs, __m512i start) {
  if constexpr (kTwoChains) {
    __m512i even = start;
    __m512i odd = _mm512_setzero_si512();
    for (int s = 0; s < kSteps; s += 2) {
      even = dpbusd_broadcast(even, w[s], qs + 4 * s);
      odd = dpbusd_broadcast(odd, w[s + 1], qs + 4 * s + 4);
    }
    return _mm512_add_epi32(even, odd);
  } else {
    __m512i sum = start;
    for (int s = 0; s < kSteps; ++s) sum = dpbusd_broadcast(sum, w[s], qs + 4 * s);
    return sum;
  }
}

// Pointers to the activation blocks of tokens 0..NT-1 (rows act_stride bytes apart).
template <class Act, int NT>
void token_rows(const void* act, size_t act_stride, const Act* (&rows)[NT]) {
  for (int t = 0; t < NT; ++t) {
    rows[t] = reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + act_stride * t);
  }
}

template <class Codes, int NT>
void dot_group(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
               int64_t out_stride) {
  constexpr int64_t kHeaderBytes =
      Codes::kHasMin ? interleave::kPairScalesMinsBytes : interleave::kPairScalesBytes;
  constexpr int64_t kPairBytes = kHeaderBytes + 2 * Codes::kBlockBytes;
  const auto* base = static_cast<const uint8_t*>(group);
  const InterleavedAct* a[NT];
  token_rows(act, act_stride, a);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const int64_t n_pairs = cols / 64;
  for (int64_t p = 0; p < n_pairs; ++p) {
    const uint8_t* pair = base + p * kPairBytes;
    const __m512i scales = _mm512_loadu_si512(pair);
    __m512i mins = _mm512_setzero_si512();
    if constexpr (Codes::kHasMin) mins = _mm512_loadu_si512(pair + interleave::kPairMinsAt);
    for (int j = 0; j < 2; ++j) {
      const __m512 dw = _mm512_cvtph_ps(j == 0 ? _mm512_castsi512_si256(scales)
                                               : _mm512_extracti64x4_epi64(scales, 1));
      __m512i w[kSteps];
      Codes::load(pair + kHeaderBytes + j * Codes::kBlockBytes, w);
      const int64_t b = 2 * p + j;
      for (int t = 0; t < NT; ++t) {
        const InterleavedAct& block = a[t][b];
        const __m512i start =
            Codes::kHasMin ? _mm512_setzero_si512() : _mm512_set1_epi32(block.offset_sum);
        const __m512i sums = block_sums<NT == 1>(w, block.qs, start);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums),
                                 _mm512_mul_ps(dw, _mm512_set1_ps(block.d)), acc[t]);
        if constexpr (Codes::kHasMin) {
          const __m512 mw = _mm512_cvtph_ps(j == 0 ? _mm512_castsi512_si256(mins)
                                                   : _mm512_extracti64x4_epi64(mins, 1));
          acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(block.ds), acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

using interleave::kQ4KBytes;
using interleave::kQ4KDAt;
using interleave::kQ4KDminAt;
using interleave::kQ4KScalesAt;

// The 8 code vectors of sub-block kJ (< 8) of a Q4_K super-block, or with kFiveBit Q5_K's.
template <int kJ, bool kFiveBit>
inline void q45_k_codes(const uint8_t* super_block, __m512i* w) {
  const uint8_t* pair = q45_k_pair<kFiveBit>(super_block, kJ / 2);
  for (int s = 0; s < kSteps; ++s) {
    const __m512i packed = _mm512_loadu_si512(pair + kQ45KMaskBytes<kFiveBit> + 64 * s);
    w[s] = q45_k_step<kJ % 2 == 1, kFiveBit>(pair, s, packed);
  }
}

// The 6-bit scale (kMin false) or min of sub-block kJ for the 16 rows, from the 3 vectors of
// packed bytes: sub-blocks 0-3 are the low 6 bits of bytes kJ (scale) and 4 + kJ (min); 4-7
// the nibbles of byte 8 + kJ - 4 with the top 2 bits of bytes kJ - 4 (scale) and kJ (min)
// above them.
template <int kJ, bool kMin>
inline __m512i q45_k_scale_bits(__m512i packed_a, __m512i packed_b, __m512i packed_c) {
  const __m512i low = kMin ? packed_b : packed_a;
  if constexpr (kJ < 4) {
    return _mm512_and_si512(_mm512_srli_epi32(low, 8 * kJ), _mm512_set1_epi32(63));
  } else {
    constexpr int k = kJ - 4;
    const __m512i nibble = _mm512_and_si512(_mm512_srli_epi32(packed_c, 8 * k + (kMin ? 4 : 0)),
                                            _mm512_set1_epi32(0x0F));
    const __m512i top = _mm512_and_si512(_mm512_srli_epi32(low, 8 * k + 6), _mm512_set1_epi32(3));
    return _mm512_or_si512(nibble, _mm512_slli_epi32(top, 4));
  }
}

// Requests the 64-byte lines of [p, p + bytes) into L1. The Q4_K/Q5_K kernel asks for the
// super-block two ahead of the one it starts: it spends more instructions per cache line
// than the Q8_0/Q4_0 kernels (Q5_K about 6, after 8 with a masked add), so the out-of-order
// window covers fewer lines ahead, and one thread's stream from DRAM fell short of the
// hardware prefetcher's pace. Phi-4-mini shape Q5_K_M, 2 threads (docs/performance-log.md):
// 59-75% of the probed bandwidth without, 90-114% with 2 or 4 super-blocks ahead; Llama-3.2-1B
// shape Q4_K_M 81-89% -> 92-95%. The Q6_K kernel had the same request once (1B shape: tg32
// 1.01-1.21x faster in 5 pairs); on 2026-12-07 it made that file 1.6-1.7x slower (31.8-32.1
// against 49.8-54.7 tok/s, 3 of 3 pairs) and the 7B shape's Q6_K file 1.2-1.3x (the pairs
// whose memory state held), so it has none.
inline void prefetch_lines(const uint8_t* p, int64_t bytes) {
  for (int64_t line = 0; line < bytes; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + line), _MM_HINT_T0);
  }
}
constexpr int kPrefetchSuperBlocks = 2;

// Q4_K, or with kFiveBit Q5_K: the same super-block with each sub-block pair's fifth-bit masks
// before its codes, added as 16 to the bytes they select.
template <int NT, bool kFiveBit>
void dot_group_q45_k(int64_t cols, const void* group, const void* act, size_t act_stride,
                     float* out, int64_t out_stride) {
  constexpr int64_t kSuperBlockBytes = kFiveBit ? interleave::kQ5KBytes : kQ4KBytes;
  const auto* base = static_cast<const uint8_t*>(group);
  const InterleavedActK* a[NT];
  token_rows(act, act_stride, a);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < cols / 256; ++sb) {
    const uint8_t* super_block = base + sb * kSuperBlockBytes;
    prefetch_lines(super_block + kPrefetchSuperBlocks * kSuperBlockBytes, kSuperBlockBytes);
    const __m512i packed_a = _mm512_loadu_si512(super_block + kQ4KScalesAt);
    const __m512i packed_b = _mm512_loadu_si512(super_block + kQ4KScalesAt + 64);
    const __m512i packed_c = _mm512_loadu_si512(super_block + kQ4KScalesAt + 128);
    const __m512 d = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(super_block + kQ4KDAt)));
    const __m512 dmin = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(super_block + kQ4KDminAt)));
    __m512 partial[NT];
    for (int t = 0; t < NT; ++t) partial[t] = _mm512_setzero_ps();
    const auto sub_block = [&]<int kJ>(std::integral_constant<int, kJ>) {
      const __m512 scale = _mm512_mul_ps(
          d, _mm512_cvtepi32_ps(q45_k_scale_bits<kJ, false>(packed_a, packed_b, packed_c)));
      const __m512 min = _mm512_mul_ps(
          dmin, _mm512_cvtepi32_ps(q45_k_scale_bits<kJ, true>(packed_a, packed_b, packed_c)));
      __m512i w[kSteps];
      q45_k_codes<kJ, kFiveBit>(super_block, w);
      for (int t = 0; t < NT; ++t) {
        const __m512i sums = block_sums<NT == 1>(w, a[t][sb].qs + 32 * kJ, _mm512_setzero_si512());
        partial[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scale, partial[t]);
        partial[t] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a[t][sb].sub_sums[kJ]), partial[t]);
      }
    };
    [&]<int... kJ>(std::integer_sequence<int, kJ...>) {
      (sub_block(std::integral_constant<int, kJ>{}), ...);
    }
    (std::make_integer_sequence<int, 8>{});
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm512_fmadd_ps(partial[t], _mm512_set1_ps(a[t][sb].d), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// Sub-blocks in the order the layout stores them (each part's 4 quarters, part by part), so
// the super-block is read front to back; d is applied once per super-block.
template <int NT>
void dot_group_q6_k(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
                    int64_t out_stride) {
  const auto* base = static_cast<const uint8_t*>(group);
  const InterleavedActK* a[NT];
  token_rows(act, act_stride, a);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < cols / 256; ++sb) {
    const uint8_t* super_block = base + sb * kQ6SuperBlockBytes;
    __m512 partial[NT];
    for (int t = 0; t < NT; ++t) partial[t] = _mm512_setzero_ps();
    for (int hp = 0; hp < 4; ++hp) {
      for (int m = 0; m < 4; ++m) {
        const int s = 8 * (hp / 2) + 2 * m + hp % 2;
        const __m512 scale = q6_k_scales(super_block, s);
        __m512i w[4];
        q6_k_steps(super_block, s, w);
        for (int t = 0; t < NT; ++t) {
          const int8_t* qs = a[t][sb].qs + 16 * s;
          __m512i sums = _mm512_set1_epi32(a[t][sb].offset_sums[s]);
          for (int k = 0; k < 4; ++k) {
            sums = dpbusd_broadcast(sums, w[k], qs + 4 * k);
          }
          partial[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scale, partial[t]);
        }
      }
    }
    const __m512 d =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(super_block + kQ6DAt)));
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm512_fmadd_ps(partial[t], _mm512_mul_ps(d, _mm512_set1_ps(a[t][sb].d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// Calls kernel<NT>(...) for the token count n_act.
template <template <int> class Kernel>
void by_token_count(int n_act, int64_t cols, const void* group, const void* act, size_t act_stride,
                    float* out, int64_t out_stride) {
  static_assert(kInterleaveMaxTokens == 8);
  switch (n_act) {
    case 1: return Kernel<1>::run(cols, group, act, act_stride, out, out_stride);
    case 2: return Kernel<2>::run(cols, group, act, act_stride, out, out_stride);
    case 3: return Kernel<3>::run(cols, group, act, act_stride, out, out_stride);
    case 4: return Kernel<4>::run(cols, group, act, act_stride, out, out_stride);
    case 5: return Kernel<5>::run(cols, group, act, act_stride, out, out_stride);
    case 6: return Kernel<6>::run(cols, group, act, act_stride, out, out_stride);
    case 7: return Kernel<7>::run(cols, group, act, act_stride, out, out_stride);
    case 8: return Kernel<8>::run(cols, group, act, act_stride, out, out_stride);
    default: break;
  }
}

template <int NT>
struct Q4KKernel {
  static void run(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
                  int64_t out_stride) {
    dot_group_q45_k<NT, false>(cols, group, act, act_stride, out, out_stride);
  }
};

template <int NT>
struct Q5KKernel {
  static void run(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
                  int64_t out_stride) {
    dot_group_q45_k<NT, true>(cols, group, act, act_stride, out, out_stride);
  }
};

template <int NT>
struct Q6KKernel {
  static void run(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
                  int64_t out_stride) {
    dot_group_q6_k<NT>(cols, group, act, act_stride, out, out_stride);
  }
};

// One token of Q4_0, the decode case: the high nibbles are masked in place (16 times their
// code) instead of shifted down, one operation fewer per code vector, and the low sums are
// shifted up once per block to match: sum16 = 16 * (low + offset) + 16 * high. Scaled by
// dw * (d / 16) it gives dot_group's float result exactly (16 * sum and d / 16 are exact).
// Alternating with dot_group in one process: 87.9% against 87.3% of the probed bandwidth in
// the fast memory state, 97.0% against 95.6% in the slow one (Qwen2.5-0.5B Q4_0).
void dot_group_q4_0_one_token(int64_t cols, const void* group, const void* act, float* out) {
  constexpr int64_t kPairBytes = interleave::kPairScalesBytes + 2 * CodesQ4_0::kBlockBytes;
  const auto* base = static_cast<const uint8_t*>(group);
  const auto* a = static_cast<const InterleavedAct*>(act);
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  const __m512i high_mask = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t p = 0; p < cols / 64; ++p) {
    const uint8_t* pair = base + p * kPairBytes;
    const __m512i scales = _mm512_loadu_si512(pair);
    for (int j = 0; j < 2; ++j) {
      const __m512 dw = _mm512_cvtph_ps(j == 0 ? _mm512_castsi512_si256(scales)
                                               : _mm512_extracti64x4_epi64(scales, 1));
      const uint8_t* codes = pair + interleave::kPairScalesBytes + j * CodesQ4_0::kBlockBytes;
      const InterleavedAct& block = a[2 * p + j];
      __m512i low = _mm512_set1_epi32(block.offset_sum);
      __m512i high = _mm512_setzero_si512();
      for (int s = 0; s < 4; ++s) {
        const __m512i packed = _mm512_loadu_si512(codes + 64 * s);
        low = dpbusd_broadcast(low, _mm512_and_si512(packed, low_mask), block.qs + 4 * s);
        high = dpbusd_broadcast(high, _mm512_and_si512(packed, high_mask), block.qs + 16 + 4 * s);
      }
      const __m512i sums16 = _mm512_add_epi32(_mm512_slli_epi32(low, 4), high);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums16),
                            _mm512_mul_ps(dw, _mm512_set1_ps(block.d * 0.0625f)), acc);
    }
  }
  _mm512_storeu_ps(out, acc);
}

template <class Codes>
struct LegacyKernel {
  template <int NT>
  struct With {
    static void run(int64_t cols, const void* group, const void* act, size_t act_stride, float* out,
                    int64_t out_stride) {
      if constexpr (NT == 1 && std::is_same_v<Codes, CodesQ4_0>) {
        dot_group_q4_0_one_token(cols, group, act, out);
      } else {
        dot_group<Codes, NT>(cols, group, act, act_stride, out, out_stride);
      }
    }
  };
};

template <class Codes>
void dot_legacy(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
                float* out, int64_t out_stride) {
  by_token_count<LegacyKernel<Codes>::template With>(n_act, cols, group, act, act_stride, out,
                                                     out_stride);
}

void dot_q4_k(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
              float* out, int64_t out_stride) {
  by_token_count<Q4KKernel>(n_act, cols, group, act, act_stride, out, out_stride);
}

void dot_q5_k(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
              float* out, int64_t out_stride) {
  by_token_count<Q5KKernel>(n_act, cols, group, act, act_stride, out, out_stride);
}

void dot_q6_k(int64_t cols, const void* group, const void* act, size_t act_stride, int n_act,
              float* out, int64_t out_stride) {
  by_token_count<Q6KKernel>(n_act, cols, group, act, act_stride, out, out_stride);
}

}  // namespace

InterleavedDotFn avx512_interleaved_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return dot_legacy<CodesQ8_0>;
    case TensorType::Q4_0: return dot_legacy<CodesQ4_0>;
    case TensorType::Q5_0: return dot_legacy<CodesQ5_0>;
    case TensorType::Q4_1: return dot_legacy<CodesQ4_1>;
    case TensorType::Q5_1: return dot_legacy<CodesQ5_1>;
    case TensorType::Q4_K: return dot_q4_k;
    case TensorType::Q5_K: return dot_q5_k;
    case TensorType::Q6_K: return dot_q6_k;
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
