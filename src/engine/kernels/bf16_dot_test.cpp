// The AVX512-BF16 level (BF16 weights against BF16 activations, row dots and GEMM) against
// scalar references that round the activations the same way.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/fp16.h"

namespace hearth {
namespace {

// The table under test; the registry has it on x86 only.
const KernelTable& bf16_kernels() {
  return *find_kernels("avx512bf16");
}

bool has_bf16() {
  return runnable_kernels("avx512bf16") != nullptr;
}

// Row-dot tiles (1..4 tokens) and the GEMM (5 and more), with partial token vectors.
constexpr int64_t kTokenCounts[] = {1, 2, 3, 4, 5, 16, 17, 37};

std::vector<uint16_t> to_bf16_row(const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = fp32_to_bf16(x[i]);
  return out;
}

TEST(Bf16, ScalarConversionIsHardwareRounding) {
  EXPECT_EQ(to_bf16_like_hardware(1.0f), 0x3F80);
  // Ties go to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
  EXPECT_EQ(to_bf16_like_hardware(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(to_bf16_like_hardware(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(to_bf16_like_hardware(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  // Subnormal inputs become zero of the same sign.
  EXPECT_EQ(to_bf16_like_hardware(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(to_bf16_like_hardware(-0x1p-130f), 0x8000);
  EXPECT_EQ(to_bf16_like_hardware(std::numeric_limits<float>::max()), 0x7F80);  // rounds up
  EXPECT_EQ(to_bf16_like_hardware(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(to_bf16_like_hardware(std::bit_cast<float>(0x7F800001u)), 0x7FC0);  // stays NaN
}

// The vector converter gives the scalar one's bits for every kind of input and row length.
TEST(Bf16, VectorConversionMatchesScalar) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937 rng(7);
  std::vector<float> x;
  for (int i = 0; i < 2000; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  for (uint32_t low : {0x8000u, 0x7FFFu, 0x8001u}) {  // ties and near-ties, odd and even
    for (uint32_t high : {0x3F80u, 0x3F81u, 0xC2FFu, 0x7F7Fu, 0x0080u}) {
      x.push_back(std::bit_cast<float>((high << 16) | low));
    }
  }
  for (uint32_t bits : {0x00000001u, 0x807FFFFFu, 0x00000000u, 0x80000000u, 0x7F800000u,
                        0xFF800000u, 0x7FC00000u, 0xFF800001u, 0x7F7FFFFFu}) {
    x.push_back(std::bit_cast<float>(bits));
  }
  for (int64_t n : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{31}, int64_t{33},
                    static_cast<int64_t>(x.size())}) {
    for (int64_t offset : {int64_t{0}, static_cast<int64_t>(x.size()) - n}) {
      std::vector<uint16_t> scalar(n + 1, 0xABCD), simd(n + 1, 0xABCD);
      kPortableKernels.quantize_activation_row(ActivationFormat::kBF16, x.data() + offset,
                                               scalar.data(), n);
      bf16_kernels().quantize_activation_row(ActivationFormat::kBF16, x.data() + offset,
                                             simd.data(), n);
      for (int64_t i = 0; i <= n; ++i) {
        ASSERT_EQ(simd[i], scalar[i]) << "n " << n << " element " << i << " input bits 0x"
                                      << std::hex << std::bit_cast<uint32_t>(x[offset + i]);
      }
    }
  }
}

TEST(Bf16, FormatAndKernelFollowTheTable) {
  if (!find_kernels("avx512bf16")) GTEST_SKIP() << "no AVX512-BF16 table on this architecture";
  EXPECT_EQ(activation_format(TensorType::BF16, bf16_kernels()), ActivationFormat::kBF16);
  EXPECT_EQ(activation_format(TensorType::BF16, *find_kernels("avx512")), ActivationFormat::kF32);
  EXPECT_EQ(activation_format(TensorType::BF16, kPortableKernels), ActivationFormat::kF32);
  EXPECT_EQ(activation_format(TensorType::F16, bf16_kernels()), ActivationFormat::kF32);
  EXPECT_EQ(activation_format(TensorType::Q8_0, bf16_kernels()), ActivationFormat::kQ8);
  EXPECT_EQ(activation_row_bytes(ActivationFormat::kBF16, 33), 66u);
  EXPECT_EQ(avx512bf16_row_dot(TensorType::F16), nullptr);
  EXPECT_EQ(scalar_bf16_act_row_dot(TensorType::F32), nullptr);
}

// Small integers times activations whose rounding to BF16 gives small integers: every product
// and partial sum is an integer F32 holds exactly, so the vector row dots must equal the
// scalar reference bit for bit, whatever the addition order.
TEST(Bf16, RowDotEqualsScalarExactly) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> small(-8, 8);
  for (int64_t n : {1, 7, 31, 32, 33, 64, 100, 128, 129, 512, 1000}) {
    std::vector<float> wf(n), x(n * kMaxTokenTile);
    for (auto& v : wf) v = static_cast<float>(small(rng));
    for (auto& v : x) v = static_cast<float>(small(rng));
    const std::vector<uint16_t> w = to_bf16_row(wf);
    const size_t stride = activation_row_bytes(ActivationFormat::kBF16, n);
    std::vector<uint8_t> acts(stride * kMaxTokenTile);
    for (int t = 0; t < kMaxTokenTile; ++t) {
      bf16_kernels().quantize_activation_row(ActivationFormat::kBF16, x.data() + t * n,
                                             acts.data() + stride * t, n);
    }
    for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
      float expected[kMaxTokenTile], got[kMaxTokenTile];
      scalar_bf16_act_row_dot(TensorType::BF16)(n, w.data(), acts.data(), stride, n_act, expected);
      avx512bf16_row_dot(TensorType::BF16)(n, w.data(), acts.data(), stride, n_act, got);
      for (int t = 0; t < n_act; ++t) {
        double exact = 0;
        for (int64_t k = 0; k < n; ++k) exact += double{wf[k]} * x[t * n + k];
        ASSERT_EQ(expected[t], exact) << "n " << n << " token " << t;
        ASSERT_EQ(got[t], expected[t]) << "n " << n << " tile " << n_act << " token " << t;
      }
    }
  }
}

// Whole matmuls at the BF16 level, row dots and GEMM, odd shapes, with and without a pool.
// Activations are integers plus a part below BF16 precision (none for |x| < 2, where it would
// be representable): the level must round it away, giving exactly the integer sums.
TEST(Bf16, MatmulEqualsExactSumsOfRoundedActivations) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  ThreadPool pool(2);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> small(-8, 8);
  std::uniform_int_distribution<int> fraction(-3, 3);
  for (int64_t cols : {33, 64, 250, 896}) {
    for (int64_t rows : {1, 7, 16, 45}) {
      std::vector<float> wf(rows * cols);
      for (auto& v : wf) v = static_cast<float>(small(rng));
      const std::vector<uint16_t> w = to_bf16_row(wf);
      const WeightMatrix matrix{TensorType::BF16, w.data(), rows, cols};
      for (int64_t n_tokens : kTokenCounts) {
        std::vector<float> x(n_tokens * cols), rounded(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          rounded[i] = static_cast<float>(small(rng));
          x[i] = rounded[i] + (std::fabs(rounded[i]) >= 2 ? fraction(rng) * 0x1p-10f : 0.0f);
        }
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> got(n_tokens * rows, NAN);
          matmul_with_kernels(matrix, x.data(), n_tokens, got.data(), p, bf16_kernels());
          for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              double exact = 0;
              for (int64_t k = 0; k < cols; ++k) {
                exact += double{wf[r * cols + k]} * rounded[t * cols + k];
              }
              ASSERT_EQ(got[t * rows + r], exact)
                  << "cols " << cols << " rows " << rows << " tokens " << n_tokens << " token " << t
                  << " row " << r << (p ? " pool" : "");
            }
          }
        }
      }
    }
  }
}

// Realistic data: the BF16 level against the F32 products. Rounding each activation to BF16
// moves it by at most 2^-9 of itself, so a sum by at most 2^-9 of sum |w * x|; the bound
// 2^-8 leaves the other half for F32 accumulation.
TEST(Bf16, MatmulWithinActivationRoundingOfF32) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  ThreadPool pool(2);
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t cols : {64, 896, 4097}) {
    const int64_t rows = 37;
    std::vector<float> wf(rows * cols);
    for (auto& v : wf) v = bf16_to_fp32(fp32_to_bf16(dist(rng)));
    const std::vector<uint16_t> w = to_bf16_row(wf);
    const WeightMatrix matrix{TensorType::BF16, w.data(), rows, cols};
    for (int64_t n_tokens : kTokenCounts) {
      std::vector<float> x(n_tokens * cols);
      for (auto& v : x) v = dist(rng);
      std::vector<float> got(n_tokens * rows, NAN);
      matmul_with_kernels(matrix, x.data(), n_tokens, got.data(), &pool, bf16_kernels());
      double worst = 0;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0, magnitude = 0;
          for (int64_t k = 0; k < cols; ++k) {
            const double product = double{wf[r * cols + k]} * x[t * cols + k];
            exact += product;
            magnitude += std::fabs(product);
          }
          const double error = std::fabs(got[t * rows + r] - exact);
          ASSERT_LE(error, 0x1p-8 * magnitude)
              << "cols " << cols << " tokens " << n_tokens << " token " << t << " row " << r;
          worst = std::max(worst, error / magnitude);
        }
      }
      // Not plain F32 math by mistake: rounding the activations does show.
      EXPECT_GT(worst, 1e-6) << "cols " << cols << " tokens " << n_tokens;
    }
  }
}

// The GEMM (a whole prompt) and the row dots (one token at a time) round the activations
// alike, so on the same data they differ only by the order of F32 additions.
TEST(Bf16, GemmEqualsRowDotsUpToAdditionOrder) {
  if (!has_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937 rng(13);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t rows = 45, cols = 897, n_tokens = 37;
  std::vector<float> wf(rows * cols), x(n_tokens * cols);
  for (auto& v : wf) v = bf16_to_fp32(fp32_to_bf16(dist(rng)));
  for (auto& v : x) v = dist(rng);
  const std::vector<uint16_t> w = to_bf16_row(wf);
  const WeightMatrix matrix{TensorType::BF16, w.data(), rows, cols};
  std::vector<float> batched(n_tokens * rows), stepped(n_tokens * rows);
  matmul_with_kernels(matrix, x.data(), n_tokens, batched.data(), nullptr, bf16_kernels());
  for (int64_t t = 0; t < n_tokens; ++t) {
    matmul_with_kernels(matrix, x.data() + t * cols, 1, stepped.data() + t * rows, nullptr,
                        bf16_kernels());
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0;
      for (int64_t k = 0; k < cols; ++k) magnitude += std::fabs(wf[r * cols + k] * x[t * cols + k]);
      ASSERT_NEAR(batched[t * rows + r], stepped[t * rows + r], 1e-5 * magnitude)
          << "token " << t << " row " << r;
    }
  }
}

}  // namespace
}  // namespace hearth
