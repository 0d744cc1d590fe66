// The AVX2 GEMM (called directly, for any token count) against the scalar row-dot kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/fp16.h"
#include "engine/tensor/quant.h"
#include "support/test_weights.h"

namespace hearth {
namespace {

constexpr TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                    TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                    TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                                    TensorType::Q5_K, TensorType::Q6_K};

bool has_avx2() {
  return runnable_kernels("avx2") != nullptr;
}

using testing::unit_scale_weights;

// Extreme codes included (Q8_0's -128, 6-bit 63, activations of +-127 next to each other, which
// saturate a careless maddubs), with both activation scales exactly 1: integer sums that float
// holds exactly, so the GEMM and the scalar kernels must agree bit for bit.
TEST(GemmAvx2, IntegerSumsEqualScalarExactly) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  ThreadPool pool(2);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-4, 4);
  for (TensorType type : kAllTypes) {
    if (activation_format(type) == ActivationFormat::kF32) continue;
    const int64_t cols = 512;
    for (int64_t rows : {1, 7, 16, 33}) {
      std::vector<uint8_t> weights = unit_scale_weights(type, rows, cols, rng);
      if (type == TensorType::Q8_0) {  // all -128 in the first block: the worst case for maddubs
        std::memset(weights.data() + 2, 0x80, kLegacyBlock);
      }
      const WeightMatrix w{type, weights.data(), rows, cols};
      for (int64_t n_tokens : {1, 5, 8, 16, 37}) {
        std::vector<float> x(static_cast<size_t>(n_tokens * cols));
        for (auto& v : x) v = static_cast<float>(small(rng));
        for (size_t i = 0; i < x.size(); i += 32) {
          x[i + rng() % 32] = (rng() & 1) ? 127.0f : -127.0f;
        }
        for (size_t i = 0; i < 32; ++i) x[i] = (i % 3 == 0) ? 127.0f : -127.0f;
        std::vector<float> expected(n_tokens * rows), got(n_tokens * rows, NAN);
        matmul_with_kernels(w, x.data(), n_tokens, expected.data(), nullptr, kPortableKernels);
        ASSERT_TRUE(avx2_gemm(w, x.data(), n_tokens, got.data(), &pool));
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], expected[i]) << tensor_type_name(type) << " rows " << rows << " tokens "
                                         << n_tokens << " index " << i;
        }
      }
    }
  }
}

// The largest codes of every format against activations of +-127 throughout: any int16 sum
// that saturated would be off by thousands. The sums pass 2^24, so float rounding may differ
// a little; a relative 1e-6 is far below what one saturated pair would cost.
TEST(GemmAvx2, ExtremeCodesDoNotSaturate) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(7);
  const int64_t rows = 9, cols = 512, n_tokens = 5;
  for (TensorType type : kAllTypes) {
    if (activation_format(type) == ActivationFormat::kF32) continue;
    std::vector<uint8_t> weights = unit_scale_weights(type, rows, cols, rng);
    const size_t block_bytes = static_cast<size_t>(traits(type).type_size);
    for (size_t b = 0; b < weights.size() / block_bytes; ++b) {
      uint8_t* block = weights.data() + b * block_bytes;
      const bool negative = b % 2 == 1;
      switch (type) {  // every code byte at its extreme; scales stay as drawn
        case TensorType::Q8_0: std::memset(block + 2, negative ? 0x80 : 0x7F, 32); break;
        case TensorType::Q4_0: std::memset(block + 2, 0xFF, 16); break;
        case TensorType::Q4_1: std::memset(block + 4, 0xFF, 16); break;
        case TensorType::Q5_0: std::memset(block + 2, 0xFF, 20); break;
        case TensorType::Q5_1: std::memset(block + 4, 0xFF, 20); break;
        case TensorType::Q4_K: std::memset(block + offsetof(BlockQ4_K, qs), 0xFF, 128); break;
        case TensorType::Q5_K: std::memset(block + offsetof(BlockQ5_K, qh), 0xFF, 160); break;
        case TensorType::Q6_K: std::memset(block, 0xFF, offsetof(BlockQ6_K, scales)); break;
        default: break;
      }
    }
    const WeightMatrix w{type, weights.data(), rows, cols};
    std::vector<float> x(static_cast<size_t>(n_tokens * cols));
    for (int64_t i = 0; i < cols; ++i) {
      x[i] = 127.0f;
      x[cols + i] = -127.0f;
      x[2 * cols + i] = (i % 2) ? 127.0f : -127.0f;
      x[3 * cols + i] = (i / 4 % 2) ? 127.0f : -127.0f;
      x[4 * cols + i] = (rng() & 1) ? 127.0f : -127.0f;
    }
    std::vector<float> expected(n_tokens * rows), got(n_tokens * rows, NAN);
    matmul_with_kernels(w, x.data(), n_tokens, expected.data(), nullptr, kPortableKernels);
    ASSERT_TRUE(avx2_gemm(w, x.data(), n_tokens, got.data(), nullptr));
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-6 * std::fabs(expected[i]) + 1e-3)
          << tensor_type_name(type) << " index " << i;
    }
  }
}

// Realistic data and odd shapes: rows off the 16-row unit, token counts off the 3- and 4-token
// tiles, rows long enough to split the tokens into several cache blocks, with and without a
// pool. Float weights only take the shapes the GEMM accepts for them.
// Only float rounding order differs from the scalar path: within 1e-5 of sum |w_k * x_k|.
TEST(GemmAvx2, MatchesScalarOnOddShapes) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  ThreadPool pool(3);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  struct Shape {
    int64_t rows, cols, tokens;
  };
  const Shape shapes[] = {{1, 256, 1},   {5, 512, 3},   {17, 256, 9},
                          {37, 768, 33}, {70, 256, 50}, {19, 8192, 81}};
  for (TensorType type : kAllTypes) {
    for (const Shape& s : shapes) {
      const testing::QuantizedMatrix m =
          testing::random_quantized_matrix(type, s.rows, s.cols, rng);
      const std::vector<float>& dequantized = m.dequantized;
      const WeightMatrix w{type, m.bytes.data(), s.rows, s.cols};
      std::vector<float> x(static_cast<size_t>(s.tokens * s.cols));
      for (auto& v : x) v = dist(rng);
      std::vector<float> expected(s.tokens * s.rows);
      matmul_with_kernels(w, x.data(), s.tokens, expected.data(), nullptr, kPortableKernels);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<float> got(s.tokens * s.rows, NAN);
        if (!avx2_gemm(w, x.data(), s.tokens, got.data(), p)) {
          ASSERT_EQ(activation_format(type), ActivationFormat::kF32) << tensor_type_name(type);
          ASSERT_TRUE(s.tokens < kAvx2FloatGemmMinTokens || s.cols > kAvx2FloatGemmMaxCols);
          continue;
        }
        for (int64_t t = 0; t < s.tokens; ++t) {
          for (int64_t r = 0; r < s.rows; ++r) {
            double magnitude = 0;
            for (int64_t k = 0; k < s.cols; ++k) {
              magnitude += std::fabs(dequantized[r * s.cols + k] * x[t * s.cols + k]);
            }
            ASSERT_NEAR(got[t * s.rows + r], expected[t * s.rows + r], 1e-5 * magnitude + 1e-6)
                << tensor_type_name(type) << " " << s.rows << "x" << s.cols << " tokens "
                << s.tokens << " token " << t << " row " << r << (p ? " pooled" : "");
          }
        }
      }
    }
  }
}

// Float weights may have any row length; the GEMM handles the columns past the last 8.
TEST(GemmAvx2, FloatWeightsWithOddRowLength) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t rows = 21, cols = 45, n_tokens = kAvx2FloatGemmMinTokens + 3;
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    const int64_t stride = row_bytes(traits(type), cols);
    std::vector<uint8_t> weights(static_cast<size_t>(rows * stride));
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = dist(rng);
      quantize_row(type, row.data(), weights.data() + r * stride, cols);
    }
    const WeightMatrix w{type, weights.data(), rows, cols};
    std::vector<float> x(static_cast<size_t>(n_tokens * cols));
    for (auto& v : x) v = dist(rng);
    std::vector<float> expected(n_tokens * rows), got(n_tokens * rows, NAN);
    matmul_with_kernels(w, x.data(), n_tokens, expected.data(), nullptr, kPortableKernels);
    ASSERT_TRUE(avx2_gemm(w, x.data(), n_tokens, got.data(), nullptr));
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-4) << tensor_type_name(type) << " index " << i;
    }
  }
}

// matmul at the AVX2 level routes prompts (kAvx2GemmMinTokens or more) to the GEMM.
TEST(GemmAvx2, MatmulUsesItForPrompts) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t rows = 24, cols = 256, n_tokens = kAvx2GemmMinTokens + 3;
  const TensorType type = TensorType::Q4_K;
  const int64_t stride = row_bytes(traits(type), cols);
  std::vector<uint8_t> weights(static_cast<size_t>(rows * stride));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    quantize_row(type, row.data(), weights.data() + r * stride, cols);
  }
  const WeightMatrix w{type, weights.data(), rows, cols};
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (auto& v : x) v = dist(rng);
  std::vector<float> direct(n_tokens * rows), routed(n_tokens * rows, NAN);
  ASSERT_TRUE(avx2_gemm(w, x.data(), n_tokens, direct.data(), nullptr));
  matmul_with_kernels(w, x.data(), n_tokens, routed.data(), nullptr, *runnable_kernels("avx2"));
  EXPECT_EQ(std::memcmp(direct.data(), routed.data(), direct.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace hearth
