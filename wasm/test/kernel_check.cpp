// Checks the wasm_simd128 kernel table against the portable one inside the wasm build (the
// native unit tests cannot run these kernels): for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K rows of random
// bytes and random scales (Q4_K/Q5_K: random packed 6-bit scales and mins, random high bits),
// against activation rows quantized from random floats, and for F32 rows and F16 rows (every finite
// half bit pattern: zeros, subnormals, normals; also infinities) against F32 activations, every row
// dot must be bit-identical to the scalar kernel's, for 1..kMaxTokenTile tokens; so must every
// result of the table's four-row kernels (Q8_0, Q4_0, Q6_K), row by row. Also checks that the
// registry prefers the SIMD table in this build. The table's attention tile is compared with the
// portable one (its exp and its sums' order differ, so within 2e-5, the native tests' bound against
// a double reference): F32, F16 and Q8_0 caches, head sizes 8/40/64/96, 1..4 query heads per KV
// head, prompts and single tokens, with and without a sliding window, normalized results and the
// partial softmax state. The table's F32/F16 GEMM is checked against a double-precision product
// within the rounding bound of its summation order, and must decline quantized weights and short
// prompts. Prints what it compared; exit status 1 on any difference. Run by
// wasm/test/kernels.test.mjs.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "engine/kernels/attention_tile.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/quant_blocks.h"

namespace {

using namespace hearth;

// F32: normally distributed values. F16: random bit patterns without the all-ones exponent
// (NaN payloads through arithmetic are not fixed by the wasm spec), so every zero, subnormal
// and normal half occurs; a few rows get infinities of one sign (below).
std::vector<uint8_t> random_float_row(TensorType type, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row(static_cast<size_t>(n) * (type == TensorType::F32 ? 4 : 2));
  if (type == TensorType::F32) {
    std::normal_distribution<float> value(0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i) {
      const float v = value(rng);
      std::memcpy(row.data() + 4 * i, &v, 4);
    }
    return row;
  }
  std::uniform_int_distribution<int> bits(0, 0xFFFF);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h = static_cast<uint16_t>(bits(rng));
    if ((h & 0x7C00) == 0x7C00) h &= 0xBFFF;  // exponent 0x1F -> 0x0F
    std::memcpy(row.data() + 2 * i, &h, 2);
  }
  return row;
}

// Random bytes (every code, every Q6_K scale and high-bit pattern), then a random F16 scale
// `d` in each block.
std::vector<uint8_t> random_row(TensorType type, int64_t n, std::mt19937& rng) {
  if (type == TensorType::F32 || type == TensorType::F16) return random_float_row(type, n, rng);
  size_t block_bytes = sizeof(BlockQ4_0), block_elems = kLegacyBlock, d_offset = 0;
  if (type == TensorType::Q8_0) block_bytes = sizeof(BlockQ8_0);
  if (type == TensorType::Q6_K) {
    block_bytes = sizeof(BlockQ6_K);
    block_elems = kSuperBlock;
    d_offset = offsetof(BlockQ6_K, d);
  }
  if (type == TensorType::Q4_K || type == TensorType::Q5_K) {
    block_bytes = type == TensorType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K);
    block_elems = kSuperBlock;
  }
  std::vector<uint8_t> row(block_bytes * static_cast<size_t>(n) / block_elems);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (size_t off = 0; off < row.size(); off += block_bytes) {
    const uint16_t d = fp32_to_fp16(scale(rng));
    std::memcpy(row.data() + off + d_offset, &d, sizeof d);
    if (type == TensorType::Q4_K || type == TensorType::Q5_K) {  // dmin follows d
      const uint16_t dmin = fp32_to_fp16(scale(rng));
      std::memcpy(row.data() + off + d_offset + 2, &dmin, sizeof dmin);
    }
  }
  return row;
}

// kMaxTokenTile activation rows of n random floats (normal, sd 2; |x| + 0.5 with `positive`),
// quantized into the format the row dots of `type` take. Returns the rows and sets *stride.
std::vector<uint8_t> random_activations(TensorType type, int64_t n, std::mt19937& rng,
                                        bool positive, size_t* stride) {
  const ActivationFormat format = activation_format(type);
  *stride = activation_row_bytes(format, n);
  std::vector<uint8_t> acts(*stride * kMaxTokenTile);
  std::normal_distribution<float> value(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int t = 0; t < kMaxTokenTile; ++t) {
    for (float& v : x) v = positive ? std::fabs(value(rng)) + 0.5f : value(rng);
    quantize_activation_row(format, x.data(), acts.data() + *stride * t, n);
  }
  return acts;
}

int check(TensorType type, const char* name, const KernelTable& simd, int64_t n, uint32_t seed,
          int* compared, uint16_t infinity = 0) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> row = random_row(type, n, rng);
  if (infinity != 0) {
    // One infinity every 5 elements (same sign everywhere: no inf - inf, hence no NaN).
    for (int64_t i = 0; i < n; i += 5) std::memcpy(row.data() + 2 * i, &infinity, 2);
  }
  // Positive activations where the row holds infinities, so that their products keep one sign.
  size_t stride = 0;
  const std::vector<uint8_t> acts = random_activations(type, n, rng, infinity != 0, &stride);
  const RowDotFn reference = scalar_row_dot(type);
  const RowDotFn candidate = simd.row_dot(type);
  if (candidate == nullptr) {
    std::printf("FAIL %s: the wasm_simd128 table has no row dot\n", name);
    return 1;
  }
  int failures = 0;
  for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
    float expected[kMaxTokenTile] = {};
    float got[kMaxTokenTile] = {};
    reference(n, row.data(), acts.data(), stride, n_act, expected);
    candidate(n, row.data(), acts.data(), stride, n_act, got);
    ++*compared;
    if (std::memcmp(expected, got, sizeof(float) * static_cast<size_t>(n_act)) != 0) {
      ++failures;
      std::printf("FAIL %s n=%lld seed=%u n_act=%d: scalar %.9g, simd128 %.9g\n", name,
                  static_cast<long long>(n), seed, n_act, expected[0], got[0]);
    }
  }
  return failures;
}

// Four random rows of `type` side by side (with `gap` spare bytes after each, so that the row
// stride is not the row size), through the table's four-row kernel with out_stride 5: each
// result must be the scalar row dot's.
int check_4rows(TensorType type, const char* name, const KernelTable& simd, int64_t n,
                uint32_t seed, int* compared) {
  std::mt19937 rng(seed);
  const size_t gap = 12;
  std::vector<std::vector<uint8_t>> rows;
  for (int r = 0; r < 4; ++r) rows.push_back(random_row(type, n, rng));
  const size_t row_stride = rows[0].size() + gap;
  std::vector<uint8_t> packed(row_stride * 4);
  for (int r = 0; r < 4; ++r)
    std::memcpy(packed.data() + row_stride * r, rows[r].data(), rows[r].size());
  size_t stride = 0;
  const std::vector<uint8_t> acts = random_activations(type, n, rng, false, &stride);
  const RowDot4Fn candidate = simd.row_dot_4rows ? simd.row_dot_4rows(type) : nullptr;
  if (candidate == nullptr) {
    std::printf("FAIL %s: the wasm_simd128 table has no four-row kernel\n", name);
    return 1;
  }
  constexpr int64_t kOutStride = 5;
  int failures = 0;
  for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
    float got[kMaxTokenTile * kOutStride + 4] = {};
    candidate(n, packed.data(), static_cast<int64_t>(row_stride), acts.data(), stride, n_act, got,
              kOutStride);
    for (int r = 0; r < 4; ++r) {
      float expected[kMaxTokenTile] = {};
      scalar_row_dot(type)(n, rows[r].data(), acts.data(), stride, n_act, expected);
      ++*compared;
      for (int t = 0; t < n_act; ++t) {
        if (std::memcmp(&expected[t], &got[t * kOutStride + r], sizeof(float)) != 0) {
          ++failures;
          std::printf(
              "FAIL %s four rows n=%lld seed=%u n_act=%d row %d token %d: scalar %.9g, "
              "simd128 %.9g\n",
              name, static_cast<long long>(n), seed, n_act, r, t, expected[t],
              got[t * kOutStride + r]);
        }
      }
    }
  }
  return failures;
}

// One tile (attention_tile.h) through the portable and the wasm_simd128 kernels, on random
// keys, values and queries: every output within 2e-5 (state: relative, its sums grow with
// the keys).
int check_attention(KvCacheType type, int64_t hd, int64_t group, int64_t n_tok, int64_t n_past,
                    int64_t n_swa, bool state, uint32_t seed, const KernelTable& simd,
                    int* compared) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n_keys = n_past + n_tok;
  const size_t row_bytes = type == KvCacheType::kF32   ? static_cast<size_t>(hd) * 4
                           : type == KvCacheType::kF16 ? static_cast<size_t>(hd) * 2
                                                       : static_cast<size_t>(hd / 32) * 34;
  std::vector<uint8_t> k(row_bytes * static_cast<size_t>(n_keys));
  std::vector<uint8_t> v(k.size());
  std::vector<float> x(static_cast<size_t>(hd));
  for (auto* cache : {&k, &v}) {
    for (int64_t j = 0; j < n_keys; ++j) {
      for (float& e : x) e = normal(rng);
      uint8_t* row = cache->data() + row_bytes * static_cast<size_t>(j);
      if (type == KvCacheType::kF32) {
        std::memcpy(row, x.data(), row_bytes);
      } else if (type == KvCacheType::kF16) {
        for (int64_t i = 0; i < hd; ++i) {
          const uint16_t h = fp32_to_fp16(x[static_cast<size_t>(i)]);
          std::memcpy(row + 2 * i, &h, 2);
        }
      } else {
        quantize_row(TensorType::Q8_0, x.data(), row, hd);
      }
    }
  }
  std::vector<float> q(static_cast<size_t>(n_tok * group * hd));
  for (float& e : q) e = normal(rng);
  const int64_t rows = n_tok * group;
  const int64_t width = state ? 2 * group + group * hd : group * hd;
  std::vector<float> expected(static_cast<size_t>(n_tok * width), NAN);
  std::vector<float> got(expected.size(), NAN);
  std::vector<float> work(attn::tile_work_floats(rows, hd));
  attn::TileSpan span{.k = k.data(),
                      .v = v.data(),
                      .row_bytes = row_bytes,
                      .key_base = 0,
                      .type = type,
                      .q = q.data(),
                      .q_stride = group * hd,
                      .n_tok = n_tok,
                      .group = group,
                      .hd = hd,
                      .pos0 = n_past,
                      .begin = 0,
                      .end = n_keys,
                      .n_swa = n_swa,
                      .scale = 1.0f / std::sqrt(static_cast<float>(hd)),
                      .work = work.data()};
  auto run = [&](void (*attend)(const attn::TileSpan&), std::vector<float>& out) {
    if (state) {
      span.state = out.data();
      span.state_stride = width;
    } else {
      span.out = out.data();
      span.out_stride = width;
    }
    attend(span);
  };
  run(attn::attend_tile_scalar, expected);
  run(simd.attend_tile, got);
  ++*compared;
  for (size_t i = 0; i < got.size(); ++i) {
    const float bound = state ? 2e-5f * std::max(1.0f, std::fabs(expected[i])) : 2e-5f;
    if (std::fabs(got[i] - expected[i]) <= bound) continue;
    std::printf(
        "FAIL attention type %d hd %lld group %lld n_tok %lld n_past %lld swa %lld "
        "state %d seed %u, element %zu: scalar %.9g, simd128 %.9g\n",
        static_cast<int>(type), static_cast<long long>(hd), static_cast<long long>(group),
        static_cast<long long>(n_tok), static_cast<long long>(n_past),
        static_cast<long long>(n_swa), state ? 1 : 0, seed, i, expected[i], got[i]);
    return 1;
  }
  return 0;
}

// The table's GEMM (F32 and F16 weights) against a double-precision product. Its sums run in
// column order with a rounding per product and per addition, so each output is within
// (cols + 1) * 2^-24 * sum_k |w a| of the exact one (the classic bound for recursive
// summation, to first order); the doubles' own error is far below that. Shapes cover row
// counts that are not a multiple of the 8-row panel, column counts not a multiple of 4,
// token counts not a multiple of the 4-token tile, and more tokens than one 64-token block.
// Also: the GEMM declines quantized weights and prompts shorter than its minimum, leaving the
// output untouched.
int check_gemm(TensorType type, const char* name, const KernelTable& simd, int64_t rows,
               int64_t cols, int64_t n_tokens, uint32_t seed, int* compared) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> weights;
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<uint8_t> row = random_float_row(type, cols, rng);
    weights.insert(weights.end(), row.begin(), row.end());
  }
  std::normal_distribution<float> value(0.0f, 2.0f);
  std::vector<float> in(static_cast<size_t>(n_tokens * cols));
  for (float& v : in) v = value(rng);
  const WeightMatrix w{.type = type, .data = weights.data(), .rows = rows, .cols = cols};
  std::vector<float> out(static_cast<size_t>(n_tokens * rows), NAN);
  if (simd.gemm == nullptr || !simd.gemm(w, in.data(), n_tokens, out.data(), nullptr)) {
    std::printf("FAIL %s GEMM %lldx%lld, %lld tokens: declined\n", name,
                static_cast<long long>(rows), static_cast<long long>(cols),
                static_cast<long long>(n_tokens));
    return 1;
  }
  ++*compared;
  std::vector<float> row_f32(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, weights.data() + weights.size() / rows * r, row_f32.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double exact = 0.0, magnitude = 0.0;
      for (int64_t k = 0; k < cols; ++k) {
        const double product = static_cast<double>(row_f32[k]) * in[t * cols + k];
        exact += product;
        magnitude += std::fabs(product);
      }
      const double bound = static_cast<double>(cols + 1) * 0x1p-24 * magnitude;
      const float got = out[t * rows + r];
      if (std::fabs(got - exact) <= bound) continue;
      std::printf(
          "FAIL %s GEMM %lldx%lld, %lld tokens, seed %u, row %lld token %lld: %.9g, "
          "exact %.9g, bound %.3g\n",
          name, static_cast<long long>(rows), static_cast<long long>(cols),
          static_cast<long long>(n_tokens), seed, static_cast<long long>(r),
          static_cast<long long>(t), got, exact, bound);
      return 1;
    }
  }
  return 0;
}

// What the GEMM must leave to the row dots: it returns false and writes nothing.
int check_gemm_declines(const KernelTable& simd, TensorType type, int64_t n_tokens, int* compared) {
  const int64_t rows = 8, cols = 256;
  std::mt19937 rng(7);
  const std::vector<uint8_t> row = random_row(type, cols, rng);
  std::vector<uint8_t> weights;
  for (int64_t r = 0; r < rows; ++r) weights.insert(weights.end(), row.begin(), row.end());
  const std::vector<float> in(static_cast<size_t>(n_tokens * cols), 1.0f);
  std::vector<float> out(static_cast<size_t>(n_tokens * rows), 42.0f);
  const WeightMatrix w{.type = type, .data = weights.data(), .rows = rows, .cols = cols};
  ++*compared;
  const bool taken = simd.gemm != nullptr && simd.gemm(w, in.data(), n_tokens, out.data(), nullptr);
  bool untouched = true;
  for (float v : out) untouched = untouched && v == 42.0f;
  if (!taken && untouched) return 0;
  std::printf("FAIL GEMM on type %d with %lld tokens: %s\n", static_cast<int>(type),
              static_cast<long long>(n_tokens), taken ? "taken" : "declined but wrote output");
  return 1;
}

}  // namespace

int main() {
  const KernelTable* simd = find_kernels("wasm_simd128");
  if (simd == nullptr) {
    std::printf("FAIL: no wasm_simd128 table registered (built without -msimd128?)\n");
    return 1;
  }
  if (active_kernels().name != "wasm_simd128") {
    std::printf("FAIL: the active table is %.*s, not wasm_simd128\n",
                static_cast<int>(active_kernels().name.size()), active_kernels().name.data());
    return 1;
  }
  int failures = 0;
  int compared = 0;
  for (int64_t n : {32, 64, 256, 4096 + 32}) {
    for (uint32_t seed = 0; seed < 8; ++seed) {
      failures += check(TensorType::Q8_0, "Q8_0", *simd, n, seed, &compared);
      failures += check(TensorType::Q4_0, "Q4_0", *simd, n, seed, &compared);
      failures += check_4rows(TensorType::Q8_0, "Q8_0", *simd, n, seed, &compared);
      failures += check_4rows(TensorType::Q4_0, "Q4_0", *simd, n, seed, &compared);
    }
  }
  for (int64_t n : {256, 512, 4096}) {
    for (uint32_t seed = 0; seed < 8; ++seed) {
      failures += check(TensorType::Q6_K, "Q6_K", *simd, n, seed, &compared);
      failures += check_4rows(TensorType::Q6_K, "Q6_K", *simd, n, seed, &compared);
      failures += check(TensorType::Q4_K, "Q4_K", *simd, n, seed, &compared);
      failures += check(TensorType::Q5_K, "Q5_K", *simd, n, seed, &compared);
    }
  }
  // F32/F16: lengths with and without a tail shorter than the eight running sums.
  for (int64_t n : {1, 7, 8, 33, 256, 4096 + 5}) {
    for (uint32_t seed = 0; seed < 8; ++seed) {
      failures += check(TensorType::F32, "F32", *simd, n, seed, &compared);
      failures += check(TensorType::F16, "F16", *simd, n, seed, &compared);
    }
    failures += check(TensorType::F16, "F16 +inf", *simd, n, 100, &compared, 0x7C00);
    failures += check(TensorType::F16, "F16 -inf", *simd, n, 101, &compared, 0xFC00);
  }
  int gemms = 0;
  for (const auto& [type, name] :
       {std::pair{TensorType::F32, "F32"}, std::pair{TensorType::F16, "F16"}}) {
    for (const auto& [rows, cols, n_tokens] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 8},
                                               {3, 5, 9},
                                               {8, 64, 8},
                                               {13, 64, 13},
                                               {64, 64, 128},
                                               {172, 64, 130},
                                               {64, 172, 67},
                                               {40, 257, 11},
                                               {512, 64, 33}}) {
      for (uint32_t gemm_seed = 0; gemm_seed < 2; ++gemm_seed) {
        failures += check_gemm(type, name, *simd, rows, cols, n_tokens, gemm_seed, &gemms);
      }
    }
  }
  failures += check_gemm_declines(*simd, TensorType::Q8_0, 128, &gemms);
  failures += check_gemm_declines(*simd, TensorType::F32, kWasmFloatGemmMinTokens - 1, &gemms);
  std::printf("%d GEMM calls checked against a double-precision product\n", gemms);
  int tiles = 0;
  uint32_t seed = 0;
  for (const auto& [type, hd] :
       {std::pair{KvCacheType::kF32, int64_t{8}}, std::pair{KvCacheType::kF32, int64_t{40}},
        std::pair{KvCacheType::kF16, int64_t{64}}, std::pair{KvCacheType::kQ8_0, int64_t{96}}}) {
    for (const int64_t group : {1, 4}) {
      for (const int64_t n_swa : {0, 37}) {
        for (const auto& [n_tok, n_past] :
             {std::pair{int64_t{1}, int64_t{0}}, {1, 300}, {9, 0}, {65, 70}}) {
          for (const bool state : {false, true}) {
            failures += check_attention(type, hd, group, n_tok, n_past, n_swa, state, seed++, *simd,
                                        &tiles);
          }
        }
      }
    }
  }
  std::printf("%d attention tiles compared with the portable tile\n", tiles);
  std::printf("%d row-dot calls compared with the scalar kernels, %d differ\n", compared, failures);
  return failures == 0 ? 0 : 1;
}
