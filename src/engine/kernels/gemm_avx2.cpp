// AVX2 + FMA GEMM for many tokens (see gemm.h), for CPUs without AVX-512 VNNI. Only called
// after the chosen kernel table (kernel_table.h) confirmed AVX2/FMA/F16C. Standard headers come
// before the target pragma, as in quant_dot_avx2.cpp.
//
// Unlike the AVX-512 kernel, weight rows (not tokens) go across the vector lanes: a unit of 16
// rows is decoded once into unsigned 8-bit codes laid out [k / 4][16 rows][4 codes], so one
// 32-byte load gives four consecutive codes of 8 rows, and a token's four activation codes are
// one broadcast dword straight from its quantized row. maddubs then sums code * activation
// pairs into int16 lanes. AVX2 has no 4-way byte dot product and only 16 registers, so:
//  - int16 sums are added up over as many steps as the code range allows without saturating
//    (2 * max_code * 127 per step and lane) before one madd widens them to int32, which saves
//    a madd and an add per step over the row-dot kernels' pattern;
//  - the K-quants' 6-bit sub-block scales multiply in that same madd, so the float work is
//    once per 256 elements;
//  - results come out row-contiguous per token, so they are stored without a transpose, and
//    the activations need no repacking.
// Q8_0 codes span the full signed byte range, where even one maddubs pair can saturate; it
// uses the row-dot kernels' sign trick (|w| * (a with w's sign)) and widens every step.
// Activations are quantized exactly as the row-dot path does; integer sums per scale group are
// exact, so results differ from the scalar kernels only by float rounding order.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/quant_blocks.h"

#if defined(__x86_64__)
#include "engine/kernels/avx2_begin.inc"

namespace hearth {
namespace {

constexpr int kUnitRows = 16;  // rows decoded together: two 8-lane vectors, one 64-byte line
// Tokens whose activations a thread runs past each decoded unit before moving to the next.
// Larger blocks decode each unit fewer times; past L2 (256 KiB - 1 MiB on AVX2 CPUs) the
// activations stream from L3 at about a byte per maddubs, which the prefetchers keep up with.
// 96 / 192 / 384 / 768 KiB measured 0.8 / 1 / 1.05 / 1.1 on 4864-column rows (1 MiB L2).
constexpr int64_t kActBlockBytes = 384 * 1024;

// Calls f(std::integral_constant<int, i>) for i < N. Loops over the tile's tokens and row
// vectors must index the accumulator arrays with constants from the start: GCC scalarizes the
// arrays into registers before it unrolls loops, and left them in memory otherwise, storing
// every accumulator on every step.
template <int N, class F>
[[gnu::always_inline]] inline void unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

inline float half_to_float(uint16_t h) {
  return _cvtsh_ss(h);
}
inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline void store32(void* p, __m256i v) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}
inline __m256i broadcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

// 16 packed bytes -> 32 codes: low nibbles are elements 0..15, high nibbles 16..31.
inline __m256i nibble_codes(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

// Byte i is 0x10 when bit i of the little-endian u32 at qh is set (Q5_0 / Q5_1 fifth bit).
inline __m256i fifth_bit_codes(const uint8_t* qh) {
  const __m256i spread = _mm256_shuffle_epi8(
      broadcast4(qh), _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                                         0x0303030303030303));
  const __m256i bit_of_byte = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i is_set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_of_byte), bit_of_byte);
  return _mm256_and_si256(is_set, _mm256_set1_epi8(0x10));
}

// Transposes an 8x8 matrix of 32-bit elements held in 8 vectors.
inline void transpose8(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

// ---- Decoded weights of one unit (16 rows; rows past the matrix have zero codes and scales).

struct Unit {
  int64_t cols = 0;
  std::vector<uint8_t> linear;  // [16][cols], one decoded row after another
  std::vector<uint8_t> codes;   // [cols / 4][16][4]
  std::vector<float> scale;     // legacy: [group][16] d;  K-quants: [super-block][16] d
  std::vector<float> min;       // legacy: [group][16] m;  Q4_K / Q5_K: [super-block][16] dmin
  std::vector<int16_t> sc16;    // K-quants: [group][16][2] sub-block scale, twice
  std::vector<int16_t> pair16;  // Q4_K / Q5_K: [sb][4][16][2] mins 2p, 2p + 1; Q6_K: scales

  void resize(int64_t n_cols, int64_t n_groups, int64_t n_scales, int64_t n_pairs) {
    cols = n_cols;
    linear.resize(static_cast<size_t>(kUnitRows * cols));
    codes.resize(linear.size());
    scale.resize(static_cast<size_t>(kUnitRows * n_scales));
    min.resize(scale.size());
    sc16.resize(static_cast<size_t>(2 * kUnitRows * n_groups));
    pair16.resize(static_cast<size_t>(2 * kUnitRows * n_pairs));
  }

  void clear() {
    std::ranges::fill(linear, 0);
    std::ranges::fill(scale, 0.0f);
    std::ranges::fill(min, 0.0f);
    std::ranges::fill(sc16, 0);
    std::ranges::fill(pair16, 0);
  }

  // Rearranges `linear` into `codes`: every 32 columns of 8 rows is an 8x8 dword transpose.
  void interleave() {
    for (int64_t c = 0; c < cols; c += 32) {
      for (int v = 0; v < 2; ++v) {
        __m256 m[8];
        for (int r = 0; r < 8; ++r) {
          m[r] = _mm256_castsi256_ps(load32(linear.data() + (8 * v + r) * cols + c));
        }
        transpose8(m);
        for (int i = 0; i < 8; ++i) {
          store32(codes.data() + (c / 4 + i) * 64 + 32 * v, _mm256_castps_si256(m[i]));
        }
      }
    }
  }
};

// Two int16 in one dword, as madd pairs them: lo with the even lane, hi with the odd one.
inline int32_t pack_pair(int32_t lo, int32_t hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(hi) << 16) | static_cast<uint16_t>(lo));
}

// ---- Weight formats. decode(row, r, unit) fills row r's codes in unit.linear and its lane of
// the scale arrays. fill_ints(sums16, cols, d, d_sum, ints) derives a token's broadcast
// integers (n_ints(cols) of them) from the sums of every 16 activation codes.

// Q4_0 (offset 8), Q4_1 (min), Q5_0 (offset 16), Q5_1 (min): one float scale per 32.
template <class Block, int kOffset, bool kMin, bool kFiveBit>
struct Legacy {
  static constexpr ActivationFormat kAct = ActivationFormat::kQ8;
  static constexpr int kGroup = 32;
  static constexpr int kStepsPerWiden = kFiveBit ? 4 : 8;  // 2 * 31 * 127 * 4 < 32768
  // Tokens per kernel call: with 4, GCC spilled an int16 sum inside the step loop, and the
  // store-to-load chain through it took twice the time of the step's arithmetic.
  static constexpr int kTile = 3;
  static void decode(const void* row, int r, Unit& u) {
    const auto* b = static_cast<const Block*>(row);
    uint8_t* codes = u.linear.data() + r * u.cols;
    for (int64_t i = 0; i < u.cols / kLegacyBlock; ++i) {
      __m256i c = nibble_codes(b[i].qs);
      if constexpr (kFiveBit) c = _mm256_or_si256(c, fifth_bit_codes(b[i].qh));
      store32(codes + kLegacyBlock * i, c);
      u.scale[i * kUnitRows + r] = half_to_float(b[i].d);
      if constexpr (kMin) u.min[i * kUnitRows + r] = half_to_float(b[i].m);
    }
  }
  // Per 32: -offset * sum(a), the start of the integer sum; d * sum(a) for the min term.
  static int64_t n_ints(int64_t cols) { return cols / 32; }
  static void fill_ints(const int32_t* sums16, int64_t cols, const float* d, float* d_sum,
                        int32_t* ints) {
    for (int64_t g = 0; g < cols / 32; ++g) {
      const int32_t sum = sums16[2 * g] + sums16[2 * g + 1];
      ints[g] = -kOffset * sum;
      d_sum[g] = d[g] * static_cast<float>(sum);
    }
  }
};

// Q8_0: codes are the signed weights themselves.
struct Q8_0 {
  static constexpr ActivationFormat kAct = ActivationFormat::kQ8;
  static constexpr int kGroup = 32;
  static constexpr int kTile = 4;
  static void decode(const void* row, int r, Unit& u) {
    const auto* b = static_cast<const BlockQ8_0*>(row);
    uint8_t* codes = u.linear.data() + r * u.cols;
    for (int64_t i = 0; i < u.cols / kLegacyBlock; ++i) {
      store32(codes + kLegacyBlock * i, load32(b[i].qs));
      u.scale[i * kUnitRows + r] = half_to_float(b[i].d);
    }
  }
  static int64_t n_ints(int64_t) { return 0; }
  static void fill_ints(const int32_t*, int64_t, const float*, float*, int32_t*) {}
};

// Q4_K / Q5_K: 6-bit scale and min per 32 elements, float d and dmin per 256.
template <class Block, bool kFiveBit>
struct K45 {
  static constexpr ActivationFormat kAct = ActivationFormat::kQ8K;
  static constexpr int kGroup = 32;
  static constexpr int kStepsPerWiden = kFiveBit ? 4 : 8;
  static constexpr int kTile = 4;
  static void decode(const void* row, int r, Unit& u) {
    const auto* blocks = static_cast<const Block*>(row);
    const __m256i low_nibble = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    for (int64_t sb = 0; sb < u.cols / kSuperBlock; ++sb) {
      const Block& b = blocks[sb];
      u.scale[sb * kUnitRows + r] = half_to_float(b.d);
      u.min[sb * kUnitRows + r] = half_to_float(b.dmin);
      for (int j = 0; j < 8; ++j) {
        uint8_t scale, min;
        unpack_scale_min_k(b.scales, j, &scale, &min);
        int16_t* sc = u.sc16.data() + 2 * ((8 * sb + j) * kUnitRows + r);
        sc[0] = sc[1] = scale;
        u.pair16[2 * ((4 * sb + j / 2) * kUnitRows + r) + j % 2] = min;
      }
      __m256i high_bits;
      if constexpr (kFiveBit) high_bits = load32(b.qh);
      uint8_t* dst = u.linear.data() + r * u.cols + kSuperBlock * sb;
      for (int pair = 0; pair < 4; ++pair) {  // sub-blocks 2 * pair (low) and 2 * pair + 1
        const __m256i packed = load32(b.qs + 32 * pair);
        __m256i lo = _mm256_and_si256(packed, low_nibble);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibble);
        if constexpr (kFiveBit) {
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(high_bits, one), 4));
          high_bits = _mm256_srli_epi16(high_bits, 1);
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(high_bits, one), 4));
          high_bits = _mm256_srli_epi16(high_bits, 1);
        }
        store32(dst + 64 * pair, lo);
        store32(dst + 64 * pair + 32, hi);
      }
    }
  }
  // Per pair of 32-element sub-blocks: their activation sums, against two mins in one madd.
  static int64_t n_ints(int64_t cols) { return cols / 64; }
  static void fill_ints(const int32_t* sums16, int64_t cols, const float*, float*, int32_t* ints) {
    for (int64_t p = 0; p < cols / 64; ++p) {
      ints[p] = pack_pair(sums16[4 * p] + sums16[4 * p + 1], sums16[4 * p + 2] + sums16[4 * p + 3]);
    }
  }
};

// Q6_K: 6-bit codes with offset 32, int8 scale per 16 elements, float d per 256.
struct Q6K {
  static constexpr ActivationFormat kAct = ActivationFormat::kQ8K;
  static constexpr int kGroup = 16;
  static constexpr int kStepsPerWiden = 2;  // 2 * 63 * 127 * 2 < 32768
  static constexpr int kTile = 4;
  static void decode(const void* row, int r, Unit& u) {
    const auto* blocks = static_cast<const BlockQ6_K*>(row);
    const __m256i low_nibble = _mm256_set1_epi8(0x0F);
    const __m256i bits_45 = _mm256_set1_epi8(0x30);
    for (int64_t sb = 0; sb < u.cols / kSuperBlock; ++sb) {
      const BlockQ6_K& b = blocks[sb];
      u.scale[sb * kUnitRows + r] = half_to_float(b.d);
      for (int j = 0; j < 16; ++j) {
        int16_t* sc = u.sc16.data() + 2 * ((16 * sb + j) * kUnitRows + r);
        sc[0] = sc[1] = b.scales[j];
        u.pair16[2 * ((8 * sb + j / 2) * kUnitRows + r) + j % 2] = b.scales[j];
      }
      uint8_t* dst = u.linear.data() + r * u.cols + kSuperBlock * sb;
      for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = load32(b.ql + 64 * half);
        const __m256i ql1 = load32(b.ql + 64 * half + 32);
        const __m256i qh = load32(b.qh + 32 * half);
        uint8_t* out = dst + 128 * half;
        store32(out, _mm256_or_si256(_mm256_and_si256(ql0, low_nibble),
                                     _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits_45)));
        store32(out + 32, _mm256_or_si256(_mm256_and_si256(ql1, low_nibble),
                                          _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits_45)));
        store32(out + 64, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_nibble),
                                          _mm256_and_si256(qh, bits_45)));
        store32(out + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_nibble),
                                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits_45)));
      }
    }
  }
  // Per pair of 16-element sub-blocks: their activation sums, against two scales in one madd.
  static int64_t n_ints(int64_t cols) { return cols / 32; }
  static void fill_ints(const int32_t* sums16, int64_t cols, const float*, float*, int32_t* ints) {
    for (int64_t p = 0; p < cols / 32; ++p) ints[p] = pack_pair(sums16[2 * p], sums16[2 * p + 1]);
  }
};

// ---- Activations: each token's row quantized as the row-dot path does, kept row-major.

struct Acts {
  int64_t cols = 0;
  int64_t n_scales = 0;       // per token: Q8 blocks of 32 or Q8_K blocks of 256
  int64_t n_ints = 0;         // per token: see fill_ints
  std::vector<int8_t> qs;     // [token][cols]
  std::vector<float> d;       // [token][n_scales]
  std::vector<float> d_sum;   // [token][n_scales] d * sum of codes (legacy formats with a min)
  std::vector<int32_t> ints;  // [token][n_ints]

  const int8_t* qs_of(int64_t t) const { return qs.data() + t * cols; }
  const float* d_of(int64_t t) const { return d.data() + t * n_scales; }
  const float* d_sum_of(int64_t t) const { return d_sum.data() + t * n_scales; }
  const int32_t* ints_of(int64_t t) const { return ints.data() + t * n_ints; }
};

// Quantizes x[0, n) in blocks of `block` (32 or 256) exactly as quantize_q8_act and
// quantize_row_q8_k do: d = absmax / 127, q = clamp(nearbyint(x * (127 / absmax)), -127, 127).
// Also writes the sum of every 16 codes. The scalar quantizer's nearbyint per element would
// cost about as much as the GEMM itself on small matrices.
void quantize_row_8bit(const float* x, int64_t n, int block, int8_t* codes, float* d,
                       int32_t* sums16) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i lowest = _mm256_set1_epi8(-127);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    __m256 absmax_v = _mm256_setzero_ps();
    for (int i = 0; i < block; i += 8) {
      absmax_v = _mm256_max_ps(absmax_v, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + b0 + i)));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(absmax_v), _mm256_extractf128_ps(absmax_v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float absmax = _mm_cvtss_f32(m);
    const __m256 inverse = _mm256_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
    for (int i = 0; i < block; i += 32) {
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {
        // cvtps rounds to nearest even under the default MXCSR, as nearbyint does.
        q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + b0 + i + 8 * j), inverse));
      }
      const __m256i words = _mm256_packs_epi32(q[0], q[1]);
      const __m256i bytes = _mm256_packs_epi16(words, _mm256_packs_epi32(q[2], q[3]));
      const __m256i ordered = _mm256_max_epi8(_mm256_permutevar8x32_epi32(bytes, order), lowest);
      store32(codes + b0 + i, ordered);
      // Sums of 8 biased (unsigned) codes per 64-bit lane.
      const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(ordered, flip), _mm256_setzero_si256());
      alignas(32) int64_t s[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(s), sad);
      sums16[(b0 + i) / 16] = static_cast<int32_t>(s[0] + s[1]) - 16 * 128;
      sums16[(b0 + i) / 16 + 1] = static_cast<int32_t>(s[2] + s[3]) - 16 * 128;
    }
    d[b0 / block] = absmax / 127.0f;
  }
}

// Quantizes every token's row. F::fill_ints adds the per-token integers its kernel
// broadcasts, from the sums of every 16 codes.
template <class F>
void quantize_acts(const float* in, int64_t n_tokens, Acts& acts, ThreadPool* pool) {
  const int64_t cols = acts.cols;
  const int block = F::kAct == ActivationFormat::kQ8 ? kLegacyBlock : kSuperBlock;
  acts.n_scales = cols / block;
  acts.n_ints = F::n_ints(cols);
  acts.qs.resize(static_cast<size_t>(n_tokens * cols));
  acts.d.resize(static_cast<size_t>(n_tokens * acts.n_scales));
  acts.d_sum.resize(acts.d.size());
  acts.ints.resize(static_cast<size_t>(n_tokens * acts.n_ints));
  parallel_for(pool, n_tokens, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<int32_t> sums16;
    sums16.resize(static_cast<size_t>(cols / 16));
    for (int64_t t = begin; t < end; ++t) {
      float* d = acts.d.data() + t * acts.n_scales;
      quantize_row_8bit(in + t * cols, cols, block, acts.qs.data() + t * cols, d, sums16.data());
      F::fill_ints(sums16.data(), cols, d, acts.d_sum.data() + t * acts.n_scales,
                   acts.ints.data() + t * acts.n_ints);
    }
  });
}

// ---- Micro-kernels: the unit's 16 rows x NT tokens over the whole row length. out points at
// the first token's first row; rows at and past n_rows are not written (store_rows).
inline void store_rows(float* dst, int v, __m256 x, int n_rows) {
  if (n_rows >= 8 * (v + 1)) {
    _mm256_storeu_ps(dst + 8 * v, x);
  } else if (n_rows > 8 * v) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(dst + 8 * v, _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows - 8 * v), lane),
                        x);
  }
}

// Calls f(v, t) for the tile's two row vectors and NT tokens, as integral constants.
template <int NT, class F>
[[gnu::always_inline]] inline void for_tile(F&& f) {
  unroll<2>([&](auto v) { unroll<NT>([&](auto t) { f(v, t); }); });
}

// acc16 += code * activation pair sums over kSteps steps of 4 columns from column k.
template <int NT, int kSteps>
[[gnu::always_inline]] inline void dot_steps(const uint8_t* codes, const int8_t* const (&a)[NT],
                                             int64_t k, __m256i (&acc16)[2][NT]) {
  // A rolled loop: fully unrolled, GCC spills the int16 sums around it instead of the float
  // accumulators outside it, which are touched once per group.
#pragma GCC unroll 1
  for (int s = 0; s < kSteps; ++s) {
    const __m256i w[2] = {load32(codes + (k / 4 + s) * 64), load32(codes + (k / 4 + s) * 64 + 32)};
    unroll<NT>([&](auto t) {
      const __m256i av = broadcast4(a[t] + k + 4 * s);
      acc16[0][t] = _mm256_add_epi16(acc16[0][t], _mm256_maddubs_epi16(w[0], av));
      acc16[1][t] = _mm256_add_epi16(acc16[1][t], _mm256_maddubs_epi16(w[1], av));
    });
  }
}

template <int NT>
[[gnu::always_inline]] inline void store_tile(const __m256 (&acc)[2][NT], float* out,
                                              int64_t out_rows, int n_rows) {
  for_tile<NT>([&](auto v, auto t) { store_rows(out + t * out_rows, v, acc[v][t], n_rows); });
}

template <class F, int NT>
struct Kernel;

template <class Block, int kOffset, bool kMin, bool kFiveBit, int NT>
struct Kernel<Legacy<Block, kOffset, kMin, kFiveBit>, NT> {
  using F = Legacy<Block, kOffset, kMin, kFiveBit>;
  static void run(const Unit& u, const Acts& a, int64_t t0, float* out, int64_t out_rows,
                  int n_rows) {
    const int8_t* q[NT];
    unroll<NT>([&](auto t) { q[t] = a.qs_of(t0 + t); });
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2][NT] = {};
    for (int64_t g = 0; g < u.cols / 32; ++g) {
      __m256i isum[2][NT] = {};
      for (int k = 0; k < 32; k += 4 * F::kStepsPerWiden) {
        __m256i acc16[2][NT] = {};
        dot_steps<NT, F::kStepsPerWiden>(u.codes.data(), q, 32 * g + k, acc16);
        for_tile<NT>([&](auto v, auto t) {
          isum[v][t] = _mm256_add_epi32(isum[v][t], _mm256_madd_epi16(acc16[v][t], ones));
        });
      }
      for_tile<NT>([&](auto v, auto t) {
        const __m256 ws = _mm256_loadu_ps(u.scale.data() + g * kUnitRows + 8 * v);
        const __m256 scale = _mm256_mul_ps(ws, _mm256_set1_ps(a.d_of(t0 + t)[g]));
        const __m256i start = _mm256_set1_epi32(a.ints_of(t0 + t)[g]);
        acc[v][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(isum[v][t], start)), scale,
                                    acc[v][t]);
        if constexpr (kMin) {
          const __m256 wm = _mm256_loadu_ps(u.min.data() + g * kUnitRows + 8 * v);
          acc[v][t] = _mm256_fmadd_ps(wm, _mm256_set1_ps(a.d_sum_of(t0 + t)[g]), acc[v][t]);
        }
      });
    }
    store_tile<NT>(acc, out, out_rows, n_rows);
  }
};

template <int NT>
struct Kernel<Q8_0, NT> {
  static void run(const Unit& u, const Acts& a, int64_t t0, float* out, int64_t out_rows,
                  int n_rows) {
    const int8_t* q[NT];
    unroll<NT>([&](auto t) { q[t] = a.qs_of(t0 + t); });
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2][NT] = {};
    for (int64_t g = 0; g < u.cols / 32; ++g) {
      __m256i isum[2][NT] = {};
#pragma GCC unroll 1
      for (int s = 0; s < 8; ++s) {
        const uint8_t* codes = u.codes.data() + (8 * g + s) * 64;
        const __m256i w[2] = {load32(codes), load32(codes + 32)};
        const __m256i mag[2] = {_mm256_abs_epi8(w[0]), _mm256_abs_epi8(w[1])};
        unroll<NT>([&](auto t) {
          const __m256i av = broadcast4(q[t] + 32 * g + 4 * s);
          unroll<2>([&](auto v) {
            const __m256i pairs = _mm256_maddubs_epi16(mag[v], _mm256_sign_epi8(av, w[v]));
            isum[v][t] = _mm256_add_epi32(isum[v][t], _mm256_madd_epi16(pairs, ones));
          });
        });
      }
      for_tile<NT>([&](auto v, auto t) {
        const __m256 ws = _mm256_loadu_ps(u.scale.data() + g * kUnitRows + 8 * v);
        const __m256 scale = _mm256_mul_ps(ws, _mm256_set1_ps(a.d_of(t0 + t)[g]));
        acc[v][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[v][t]), scale, acc[v][t]);
      });
    }
    store_tile<NT>(acc, out, out_rows, n_rows);
  }
};

// K-quants: per super-block, isum = sum_j sc_j * dot_j (+ the Q6_K offset term), and for
// Q4_K / Q5_K min = sum_j m_j * asum_j; then acc += d * d_a * isum - dmin * d_a * min, as the
// scalar kernels compute it.
template <class F, int NT>
struct KKernel {
  static constexpr bool kSixBit = F::kGroup == 16;
  static void run(const Unit& u, const Acts& a, int64_t t0, float* out, int64_t out_rows,
                  int n_rows) {
    constexpr int kGroups = kSuperBlock / F::kGroup;
    constexpr int kPairs = kGroups / 2;
    const int8_t* q[NT];
    unroll<NT>([&](auto t) { q[t] = a.qs_of(t0 + t); });
    __m256 acc[2][NT] = {};
    for (int64_t sb = 0; sb < u.cols / kSuperBlock; ++sb) {
      // The pair terms: Q6_K's sum_j sc_j * asum_j (times -32), or Q4_K / Q5_K's mins.
      __m256i pair_sum[2][NT] = {};
      for (int p = 0; p < kPairs; ++p) {
        const int16_t* w = u.pair16.data() + 2 * (kPairs * sb + p) * kUnitRows;
        for_tile<NT>([&](auto v, auto t) {
          const __m256i asum = _mm256_set1_epi32(a.ints_of(t0 + t)[kPairs * sb + p]);
          pair_sum[v][t] =
              _mm256_add_epi32(pair_sum[v][t], _mm256_madd_epi16(load32(w + 16 * v), asum));
        });
      }
      __m256i isum[2][NT];
      for_tile<NT>([&](auto v, auto t) {
        isum[v][t] =
            kSixBit ? _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(pair_sum[v][t], 5))
                    : _mm256_setzero_si256();
      });
      for (int j = 0; j < kGroups; ++j) {
        const int64_t g = kGroups * sb + j;
        const int16_t* sc = u.sc16.data() + 2 * g * kUnitRows;
        for (int k = 0; k < F::kGroup; k += 4 * F::kStepsPerWiden) {
          __m256i acc16[2][NT] = {};
          dot_steps<NT, F::kStepsPerWiden>(u.codes.data(), q, F::kGroup * g + k, acc16);
          for_tile<NT>([&](auto v, auto t) {
            isum[v][t] =
                _mm256_add_epi32(isum[v][t], _mm256_madd_epi16(acc16[v][t], load32(sc + 16 * v)));
          });
        }
      }
      for_tile<NT>([&](auto v, auto t) {
        const __m256 da = _mm256_set1_ps(a.d_of(t0 + t)[sb]);
        const __m256 d = _mm256_loadu_ps(u.scale.data() + sb * kUnitRows + 8 * v);
        acc[v][t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[v][t]), _mm256_mul_ps(d, da), acc[v][t]);
        if constexpr (!kSixBit) {
          const __m256 dmin = _mm256_loadu_ps(u.min.data() + sb * kUnitRows + 8 * v);
          acc[v][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(pair_sum[v][t]), _mm256_mul_ps(dmin, da),
                                       acc[v][t]);
        }
      });
    }
    store_tile<NT>(acc, out, out_rows, n_rows);
  }
};

// ---- Driver: threads split the units; each runs its units past blocks of tokens.

// Calls f(std::integral_constant<int, nt>) for a tile of nt = 1..4 tokens.
template <class F>
void with_tile(int nt, F&& f) {
  switch (nt) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    default: return f(std::integral_constant<int, 4>{});
  }
}

// Asks for the next unit's weights while the kernels work on this one: the unit is read once
// per token block, mostly straight from DRAM.
void prefetch_rows(const uint8_t* first, int64_t n_rows, int64_t stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t byte = 0; byte < stride; byte += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(first + r * stride + byte), _MM_HINT_T1);
    }
  }
}

// Runs units [unit_begin, unit_end) against every token. decode_unit(row0, n_rows) decodes a
// unit; tile(row0, n_rows, t0, nt) runs the kernel for tokens t0 .. t0 + nt - 1.
template <int kTokenTile, class DecodeUnit, class Tile>
void run_units(int64_t unit_begin, int64_t unit_end, int64_t rows, int64_t n_tokens,
               int64_t bytes_per_token, const uint8_t* weights, int64_t stride, float* out,
               DecodeUnit&& decode_unit, Tile&& tile) {
  const int64_t block =
      std::max<int64_t>(kTokenTile, kActBlockBytes / bytes_per_token / kTokenTile * kTokenTile);
  for (int64_t block_begin = 0; block_begin < n_tokens; block_begin += block) {
    const int64_t block_end = std::min(n_tokens, block_begin + block);
    for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
      const int64_t row0 = unit * kUnitRows;
      const int n_rows = static_cast<int>(std::min<int64_t>(kUnitRows, rows - row0));
      decode_unit(row0, n_rows);
      if (unit + 1 < unit_end) {
        prefetch_rows(weights + (row0 + kUnitRows) * stride,
                      std::min<int64_t>(kUnitRows, rows - row0 - kUnitRows), stride);
      }
      for (int64_t t0 = block_begin; t0 < block_end; t0 += kTokenTile) {
        // The next tile's output lines: each is written once, and its store would otherwise
        // wait for the line to arrive (about a tenth of the time on large outputs).
        for (int64_t t = t0 + kTokenTile; t < std::min(block_end, t0 + 2 * kTokenTile); ++t) {
          _mm_prefetch(reinterpret_cast<const char*>(out + t * rows + row0), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(out + t * rows + row0 + n_rows - 1),
                       _MM_HINT_T0);
        }
        tile(row0, n_rows, t0, static_cast<int>(std::min<int64_t>(kTokenTile, block_end - t0)));
      }
    }
  }
}

template <class F, template <class, int> class K>
void gemm_quantized(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                    ThreadPool* pool) {
  const int64_t cols = w.cols;
  // One buffer per calling thread; the lambdas below must name it through a reference, since
  // a thread_local named inside them would be each worker's own (empty) instance.
  thread_local Acts acts_of_caller;
  Acts& acts = acts_of_caller;
  acts.cols = cols;
  quantize_acts<F>(in, n_tokens, acts, pool);

  const int64_t stride = row_bytes(traits(w.type), cols);
  const auto* weights = static_cast<const uint8_t*>(w.data);
  const int64_t n_units = (w.rows + kUnitRows - 1) / kUnitRows;
  const int64_t scale_block = F::kAct == ActivationFormat::kQ8 ? kLegacyBlock : kSuperBlock;
  parallel_for(pool, n_units, 1, [&](int64_t unit_begin, int64_t unit_end) {
    thread_local Unit unit;
    unit.resize(cols, cols / F::kGroup, cols / scale_block, F::n_ints(cols));
    const auto decode_unit = [&](int64_t row0, int n_rows) {
      if (n_rows < kUnitRows) unit.clear();  // the unused lanes' discarded results stay finite
      for (int r = 0; r < n_rows; ++r) F::decode(weights + (row0 + r) * stride, r, unit);
      unit.interleave();
    };
    const auto tile = [&](int64_t row0, int n_rows, int64_t t0, int nt) {
      with_tile(nt, [&](auto n) {
        K<F, n>::run(unit, acts, t0, out + t0 * w.rows + row0, w.rows, n_rows);
      });
    };
    run_units<F::kTile>(unit_begin, unit_end, w.rows, n_tokens, cols, weights, stride, out,
                        decode_unit, tile);
  });
}

// ---- Float weights (F32, F16, BF16): rows decoded to F32 as [cols][16], activations
// broadcast straight from the input.

template <int kFormat>  // 0: F32, 1: F16, 2: BF16
void decode_float_row(const void* row, int64_t cols, float* dst) {
  if constexpr (kFormat == 0) {
    std::memcpy(dst, row, static_cast<size_t>(cols) * sizeof(float));
  } else {
    const auto* h = static_cast<const uint16_t*>(row);
    int64_t k = 0;
    for (; k + 8 <= cols; k += 8) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + k));
      if constexpr (kFormat == 1) {
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(v));
      } else {
        _mm256_storeu_ps(dst + k,
                         _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16)));
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

// [16][cols] -> [cols][16].
void interleave_floats(const float* linear, int64_t cols, float* dst) {
  int64_t k = 0;
  for (; k + 8 <= cols; k += 8) {
    for (int v = 0; v < 2; ++v) {
      __m256 m[8];
      for (int r = 0; r < 8; ++r) m[r] = _mm256_loadu_ps(linear + (8 * v + r) * cols + k);
      transpose8(m);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (k + i) * kUnitRows + 8 * v, m[i]);
    }
  }
  for (; k < cols; ++k) {
    for (int r = 0; r < kUnitRows; ++r) dst[k * kUnitRows + r] = linear[r * cols + k];
  }
}

template <int NT>
void float_kernel(const float* w, int64_t cols, const float* x, float* out, int64_t out_rows,
                  int n_rows) {
  __m256 acc[2][NT] = {};
  for (int64_t k = 0; k < cols; ++k) {
    const __m256 w0 = _mm256_loadu_ps(w + k * kUnitRows);
    const __m256 w1 = _mm256_loadu_ps(w + k * kUnitRows + 8);
    unroll<NT>([&](auto t) {
      const __m256 xv = _mm256_broadcast_ss(x + t * cols + k);
      acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
      acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
    });
  }
  store_tile<NT>(acc, out, out_rows, n_rows);
}

template <int kFormat>
void gemm_float(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                ThreadPool* pool) {
  const int64_t cols = w.cols;
  const int64_t stride = row_bytes(traits(w.type), cols);
  const auto* weights = static_cast<const uint8_t*>(w.data);
  const int64_t n_units = (w.rows + kUnitRows - 1) / kUnitRows;
  parallel_for(pool, n_units, 1, [&](int64_t unit_begin, int64_t unit_end) {
    thread_local std::vector<float> linear, decoded;
    linear.resize(static_cast<size_t>(kUnitRows * cols));
    decoded.resize(linear.size());
    const auto decode_unit = [&](int64_t row0, int n_rows) {
      for (int r = 0; r < kUnitRows; ++r) {
        if (r < n_rows) {
          decode_float_row<kFormat>(weights + (row0 + r) * stride, cols, linear.data() + r * cols);
        } else {
          std::fill_n(linear.data() + r * cols, cols, 0.0f);
        }
      }
      interleave_floats(linear.data(), cols, decoded.data());
    };
    const auto tile = [&](int64_t row0, int n_rows, int64_t t0, int nt) {
      const float* x = in + t0 * cols;
      float* o = out + t0 * w.rows + row0;
      with_tile(nt, [&](auto n) { float_kernel<n>(decoded.data(), cols, x, o, w.rows, n_rows); });
    };
    run_units<4>(unit_begin, unit_end, w.rows, n_tokens, cols * static_cast<int64_t>(sizeof(float)),
                 weights, stride, out, decode_unit, tile);
  });
}

}  // namespace

bool avx2_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
               ThreadPool* pool) {
  if (w.layout != WeightLayout::kGguf) return false;  // rewritten layouts exist only at AVX-512
  // Float weights: the row dots are as fast below ~32 tokens, and faster on long rows, where
  // the decoded F32 unit (64 bytes per column) no longer stays in L2 across a token block.
  if (activation_format(w.type) == ActivationFormat::kF32 &&
      (n_tokens < kAvx2FloatGemmMinTokens || w.cols > kAvx2FloatGemmMaxCols)) {
    return false;
  }
  switch (w.type) {
    case TensorType::F32: gemm_float<0>(w, in, n_tokens, out, pool); return true;
    case TensorType::F16: gemm_float<1>(w, in, n_tokens, out, pool); return true;
    case TensorType::BF16: gemm_float<2>(w, in, n_tokens, out, pool); return true;
    case TensorType::Q4_0:
      gemm_quantized<Legacy<BlockQ4_0, 8, false, false>, Kernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q4_1:
      gemm_quantized<Legacy<BlockQ4_1, 0, true, false>, Kernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q5_0:
      gemm_quantized<Legacy<BlockQ5_0, 16, false, true>, Kernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q5_1:
      gemm_quantized<Legacy<BlockQ5_1, 0, true, true>, Kernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q8_0: gemm_quantized<Q8_0, Kernel>(w, in, n_tokens, out, pool); return true;
    case TensorType::Q4_K:
      gemm_quantized<K45<BlockQ4_K, false>, KKernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q5_K:
      gemm_quantized<K45<BlockQ5_K, true>, KKernel>(w, in, n_tokens, out, pool);
      return true;
    case TensorType::Q6_K: gemm_quantized<Q6K, KKernel>(w, in, n_tokens, out, pool); return true;
    default: return false;
  }
}

}  // namespace hearth

#include "engine/kernels/avx2_end.inc"

#else  // not x86-64: no AVX2 GEMM

namespace hearth {
bool avx2_gemm(const WeightMatrix&, const float*, int64_t, float*, ThreadPool*) {
  return false;
}
}  // namespace hearth

#endif
