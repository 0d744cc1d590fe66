// The split layout (split_layout.h): the rewrite loses nothing, its kernels give the GGUF
// kernels' integer sums exactly, and matmul over split rows (row dots and GEMM) agrees with
// matmul over the file's rows.
#include "engine/kernels/split_layout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/kernels/cpu.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/matmul_reference.h"
#include "engine/kernels/quant_dot.h"
#include "engine/runtime/thread_pool.h"
#include "engine/tensor/quant.h"
#include "support/test_weights.h"

namespace hearth {
namespace {

constexpr TensorType kSplitTypes[] = {TensorType::Q8_0, TensorType::Q4_0};

std::vector<uint8_t> split_copy(TensorType type, const std::vector<uint8_t>& gguf, int64_t rows,
                                int64_t cols) {
  std::vector<uint8_t> out(static_cast<size_t>(rows * split_row_bytes(type, cols)), 0xAB);
  split_rows(type, gguf.data(), rows, cols, out.data());
  return out;
}

TEST(SplitLayout, WhichShapesSplit) {
  EXPECT_TRUE(can_split(TensorType::Q8_0, 896));
  EXPECT_TRUE(can_split(TensorType::Q4_0, 4864));
  EXPECT_FALSE(can_split(TensorType::Q8_0, 96));  // not whole 128-weight units
  EXPECT_FALSE(can_split(TensorType::Q4_K, 1024));
  EXPECT_FALSE(can_split(TensorType::F16, 1024));
  EXPECT_EQ(split_row_bytes(TensorType::Q8_0, 896), 960);  // 896 codes + 56 scale bytes + pad
  EXPECT_EQ(split_row_bytes(TensorType::Q4_0, 896), 512);  // 448 + 56 + pad
}

TEST(SplitLayout, RowsDequantizeAsTheFileRows) {
  std::mt19937 rng(7);
  for (TensorType type : kSplitTypes) {
    SCOPED_TRACE(tensor_type_name(type));
    const int64_t rows = 3, cols = 384;
    // Random bytes: every code value, -128 included for Q8_0; random F16 scales.
    std::vector<uint8_t> gguf(static_cast<size_t>(rows * row_bytes(traits(type), cols)));
    for (auto& b : gguf) b = static_cast<uint8_t>(rng());
    const int64_t block_bytes = traits(type).type_size;
    for (size_t at = 0; at < gguf.size(); at += static_cast<size_t>(block_bytes)) {
      gguf[at + 1] &= 0x3B;  // finite, modest scales
    }
    const std::vector<uint8_t> split = split_copy(type, gguf, rows, cols);
    const WeightMatrix file{type, gguf.data(), rows, cols};
    const WeightMatrix rewritten{type, split.data(), rows, cols, WeightLayout::kSplit};
    std::vector<float> expected(cols), actual(cols);
    for (int64_t r = 0; r < rows; ++r) {
      get_row(file, r, expected.data());
      get_row(rewritten, r, actual.data());
      for (int64_t k = 0; k < cols; ++k) ASSERT_EQ(expected[k], actual[k]) << r << "," << k;
    }
  }
}

// Unit scales and small activation codes: every product is a small integer, so the split
// kernels at every level must reproduce the GGUF scalar kernel bit for bit.
TEST(SplitLayout, KernelsGiveTheFileKernelsSumsExactly) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-4, 4);
  for (TensorType type : kSplitTypes) {
    for (int64_t n : {128, 896, 1152}) {
      SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << " n=" << n);
      const std::vector<uint8_t> gguf = testing::unit_scale_weights(type, 1, n, rng);
      const std::vector<uint8_t> split = split_copy(type, gguf, 1, n);
      std::vector<BlockQ8Act> blocks(static_cast<size_t>(n / kLegacyBlock * kMaxTokenTile));
      for (auto& block : blocks) {
        int sum = 0;
        for (auto& q : block.qs) sum += (q = static_cast<int8_t>(small(rng)));
        block.d = 1.0f;
        block.ds = static_cast<float>(sum);
      }
      const size_t split_stride = split_activation_bytes(n);
      std::vector<uint8_t> acts(split_stride * kMaxTokenTile);
      for (int t = 0; t < kMaxTokenTile; ++t) {
        pack_split_activation(type, blocks.data() + t * n / kLegacyBlock, n,
                              reinterpret_cast<SplitAct*>(acts.data() + split_stride * t));
      }
      for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
        float expected[kMaxTokenTile], scalar[kMaxTokenTile], simd[kMaxTokenTile];
        scalar_row_dot(type)(n, gguf.data(), blocks.data(), n / kLegacyBlock * sizeof(BlockQ8Act),
                             n_act, expected);
        scalar_split_row_dot(type)(n, split.data(), acts.data(), split_stride, n_act, scalar);
        for (int t = 0; t < n_act; ++t) EXPECT_EQ(scalar[t], expected[t]) << "token " << t;
        if (RowDotFn fn = avx512_split_row_dot(type);
            fn && best_kernel_level(cpu_features()) >= KernelLevel::kAvx512) {
          fn(n, split.data(), acts.data(), split_stride, n_act, simd);
          for (int t = 0; t < n_act; ++t) EXPECT_EQ(simd[t], expected[t]) << "token " << t;
        }
      }
    }
  }
}

// The AVX-512 quantizer must give the scalar quantizer's codes and scales bit for bit, for
// ordinary values, ties (x.5 after scaling), an all-zero block and one huge element.
TEST(SplitLayout, VectorQuantizerMatchesScalar) {
  if (best_kernel_level(cpu_features()) < KernelLevel::kAvx512) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  const int64_t n = 512;
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  for (int i = 32; i < 64; ++i) x[i] = 0.0f;
  for (int i = 64; i < 96; ++i) x[i] = static_cast<float>(i - 80) * 0.5f;  // ties
  x[100] = 1e30f;
  for (TensorType type : kSplitTypes) {
    SCOPED_TRACE(tensor_type_name(type));
    std::vector<SplitAct> scalar(n / kSplitUnit), simd(n / kSplitUnit);
    quantize_split_activation(type, x.data(), n, scalar.data(), KernelLevel::kScalar);
    quantize_split_activation(type, x.data(), n, simd.data(), KernelLevel::kAvx512);
    for (int64_t u = 0; u < n / kSplitUnit; ++u) {
      for (int i = 0; i < kSplitUnit; ++i) ASSERT_EQ(simd[u].codes[i], scalar[u].codes[i]) << u;
      for (int l = 0; l < kSplitLanes; ++l) {
        ASSERT_EQ(simd[u].offset_sums[l], scalar[u].offset_sums[l]) << u;
        ASSERT_EQ(simd[u].scales[l], scalar[u].scales[l]) << u;
      }
    }
  }
}

// Realistic data through matmul: decode tiles (1-4 tokens), odd token counts and the GEMM
// (from kGemmMinTokens), at every level this CPU has, against the float reference.
TEST(SplitLayout, MatmulAgreesWithTheFileLayout) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(2);
  std::vector<KernelLevel> levels = {KernelLevel::kScalar};
  if (best_kernel_level(cpu_features()) >= KernelLevel::kAvx512) {
    levels.push_back(KernelLevel::kAvx512);
  }
  for (TensorType type : kSplitTypes) {
    const int64_t rows = 42, cols = 896;  // 4-row groups and leftover rows
    const testing::QuantizedMatrix m = testing::random_quantized_matrix(type, rows, cols, rng);
    const std::vector<uint8_t> split = split_copy(type, m.bytes, rows, cols);
    const WeightMatrix file{type, m.bytes.data(), rows, cols};
    const WeightMatrix rewritten{type, split.data(), rows, cols, WeightLayout::kSplit};
    for (int64_t n_tokens : {1, 2, 3, 4, 5, 7, 19}) {
      std::vector<float> in(static_cast<size_t>(n_tokens * cols));
      for (auto& v : in) v = dist(rng);
      std::vector<float> expected(static_cast<size_t>(n_tokens * rows));
      matmul_reference(file, in.data(), n_tokens, expected.data(), nullptr);
      for (KernelLevel level : levels) {
        SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << " tokens=" << n_tokens
                                          << " level=" << kernel_level_name(level));
        std::vector<float> file_out(expected.size()), split_out(expected.size());
        matmul_at_level(file, in.data(), n_tokens, file_out.data(), &pool, level);
        matmul_at_level(rewritten, in.data(), n_tokens, split_out.data(), &pool, level);
        for (size_t i = 0; i < expected.size(); ++i) {
          // Both layouts quantize the activations identically, so they must agree up to
          // float summation order; the F32 reference differs by the 8-bit activation
          // rounding (about 0.006 per element here, random in sign: 0.17 over 896).
          const double scale = std::sqrt(static_cast<double>(cols));
          ASSERT_NEAR(split_out[i], file_out[i], 2e-5 * scale) << i;
          ASSERT_NEAR(split_out[i], expected[i], 0.05 * scale) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth
