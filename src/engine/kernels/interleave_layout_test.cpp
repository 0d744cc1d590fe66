// The interleaved layout (interleave_layout.h): the rewrite loses nothing, its kernels give
// the file kernels' integer sums exactly, the AVX-512 kernel equals the portable one bit for
// bit, and matmul over interleaved groups (kernel calls and GEMM) agrees with the file layout.
#include "engine/kernels/interleave_layout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/kernels/matmul_reference.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"
#include "support/test_weights.h"

namespace hearth {
namespace {

constexpr TensorType kTypes[] = {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1,
                                 TensorType::Q5_0, TensorType::Q5_1, TensorType::Q4_K,
                                 TensorType::Q5_K, TensorType::Q6_K};

bool is_k_quant(TensorType type) {
  return type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
}

// A realistic row length each type can interleave (K-quants: whole 256-element blocks).
int64_t cols_for(TensorType type) {
  return is_k_quant(type) ? 1024 : 896;
}

bool has_avx512() {
  return runnable_kernels("avx512") != nullptr;
}

std::vector<uint8_t> interleaved_copy(TensorType type, const std::vector<uint8_t>& gguf,
                                      int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(static_cast<size_t>(interleaved_bytes(type, rows, cols)), 0xAB);
  interleave_rows(type, gguf.data(), rows, cols, out.data());
  return out;
}

TEST(InterleaveLayout, WhichShapesInterleave) {
  EXPECT_TRUE(can_interleave(TensorType::Q8_0, 896, 896));
  EXPECT_TRUE(can_interleave(TensorType::Q4_0, 151936, 896));
  EXPECT_TRUE(can_interleave(TensorType::Q8_0, 42, 896));  // the last group padded
  EXPECT_EQ(interleaved_bytes(TensorType::Q8_0, 42, 896), 48 * 28 * 34);
  EXPECT_EQ(interleaved_bytes(TensorType::Q4_0, 32, 896), 32 * 28 * 18);
  EXPECT_TRUE(can_interleave(TensorType::Q5_0, 4864, 896));
  EXPECT_EQ(interleaved_bytes(TensorType::Q5_0, 20, 896), 32 * 28 * 22);
  EXPECT_TRUE(can_interleave(TensorType::Q5_1, 64, 896));
  EXPECT_EQ(interleaved_bytes(TensorType::Q5_1, 20, 896), 32 * 28 * 24);
  EXPECT_EQ(interleaved_bytes(TensorType::Q4_1, 16, 64), 16 * 2 * 20);
  EXPECT_FALSE(can_interleave(TensorType::Q4_1, 64, 96));
  EXPECT_FALSE(can_interleave(TensorType::Q8_0, 64, 96));  // not whole block pairs
  EXPECT_TRUE(can_interleave(TensorType::Q4_K, 64, 1024));
  EXPECT_FALSE(can_interleave(TensorType::Q4_K, 64, 896));  // not whole super-blocks
  EXPECT_TRUE(can_interleave(TensorType::Q6_K, 64, 1024));
  EXPECT_TRUE(can_interleave(TensorType::Q5_K, 64, 1024));
  EXPECT_FALSE(can_interleave(TensorType::Q5_K, 64, 896));
  EXPECT_EQ(interleaved_bytes(TensorType::Q5_K, 20, 512), 32 * 2 * 176);
  EXPECT_EQ(interleaved_bytes(TensorType::Q6_K, 16, 256), 16 * 210);
  EXPECT_EQ(interleaved_bytes(TensorType::Q4_K, 20, 512), 32 * 2 * 144);
  EXPECT_FALSE(can_interleave(TensorType::F16, 64, 1024));
}

TEST(InterleaveLayout, RowsDequantizeAsTheFileRows) {
  std::mt19937 rng(7);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(tensor_type_name(type));
    const int64_t rows = 45, cols = is_k_quant(type) ? 512 : 192;  // 2 groups + padded
    // Random bytes: every code value, -128 included for Q8_0; random F16 scales.
    std::vector<uint8_t> gguf(static_cast<size_t>(rows * row_bytes(traits(type), cols)));
    for (auto& b : gguf) b = static_cast<uint8_t>(rng());
    const auto block_bytes = static_cast<size_t>(traits(type).type_size);
    for (size_t at = 0; at < gguf.size(); at += block_bytes) {
      if (type == TensorType::Q6_K) {  // finite, modest d, which comes last
        gguf[at + block_bytes - 1] &= 0x3B;
        continue;
      }
      gguf[at + 1] &= 0x3B;  // finite, modest d
      // and the second F16: dmin (Q4_K, Q5_K) or m (Q4_1, Q5_1)
      if (type != TensorType::Q8_0 && type != TensorType::Q4_0 && type != TensorType::Q5_0) {
        gguf[at + 3] &= 0x3B;
      }
    }
    const std::vector<uint8_t> interleaved = interleaved_copy(type, gguf, rows, cols);
    const WeightMatrix file{type, gguf.data(), rows, cols};
    const WeightMatrix rewritten{type, interleaved.data(), rows, cols, WeightLayout::kInterleaved};
    std::vector<float> expected(cols), actual(cols);
    for (int64_t r = 0; r < rows; ++r) {
      get_row(file, r, expected.data());
      get_row(rewritten, r, actual.data());
      for (int64_t k = 0; k < cols; ++k) ASSERT_EQ(expected[k], actual[k]) << r << "," << k;
    }
  }
}

// Unit scales and small integer activations (absmax 127, so d = 1 and the codes are the
// values): every sum is an integer a float holds exactly, so both interleaved kernels must
// reproduce the file layout's scalar kernel bit for bit, for every token count.
TEST(InterleaveLayout, KernelsGiveTheFileKernelsSumsExactly) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-4, 4);
  for (TensorType type : kTypes) {
    const std::vector<int64_t> lengths =
        is_k_quant(type) ? std::vector<int64_t>{256, 1024} : std::vector<int64_t>{64, 896, 1088};
    for (int64_t n : lengths) {
      SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << " n=" << n);
      const int64_t rows = kInterleaveRows;
      const std::vector<uint8_t> gguf = testing::unit_scale_weights(type, rows, n, rng);
      const std::vector<uint8_t> interleaved = interleaved_copy(type, gguf, rows, n);
      std::vector<float> x(static_cast<size_t>(n * kInterleaveMaxTokens));
      for (size_t i = 0; i < x.size(); ++i) {
        const int64_t block = is_k_quant(type) ? kSuperBlock : kLegacyBlock;
        x[i] = static_cast<int64_t>(i) % block == 0 ? 127.0f : static_cast<float>(small(rng));
      }
      const ActivationFormat format = activation_format(type);
      const size_t file_stride = activation_row_bytes(format, n);
      const size_t stride = interleaved_activation_bytes(type, n);
      std::vector<uint8_t> file_act(file_stride * kInterleaveMaxTokens);
      std::vector<uint8_t> act(stride * kInterleaveMaxTokens);
      for (int t = 0; t < kInterleaveMaxTokens; ++t) {
        quantize_activation_row(format, x.data() + t * n, file_act.data() + file_stride * t, n);
        quantize_interleaved_activation(type, x.data() + t * n, n, act.data() + stride * t,
                                        kPortableKernels);
      }
      for (int n_act = 1; n_act <= kInterleaveMaxTokens; ++n_act) {
        std::vector<float> expected(rows * n_act), scalar(expected.size(), -1.0f);
        std::vector<float> simd(expected.size(), -1.0f);
        for (int t = 0; t < n_act; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            scalar_row_dot(type)(n, gguf.data() + r * row_bytes(traits(type), n),
                                 file_act.data() + file_stride * t, file_stride, 1,
                                 &expected[t * rows + r]);
          }
        }
        scalar_interleaved_dot(type)(n, interleaved.data(), act.data(), stride, n_act,
                                     scalar.data(), rows);
        EXPECT_EQ(scalar, expected) << "tokens " << n_act;
        if (has_avx512()) {
          avx512_interleaved_dot(type)(n, interleaved.data(), act.data(), stride, n_act,
                                       simd.data(), rows);
          EXPECT_EQ(simd, expected) << "tokens " << n_act;
        }
      }
    }
  }
}

// Random scales and activations: the AVX-512 kernel evaluates the portable kernel's float
// expression in the same order, so the two agree exactly, and the vector quantizer (used at
// the AVX-512 level) gives the scalar one's blocks.
TEST(InterleaveLayout, VectorKernelEqualsPortableKernel) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(13);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(tensor_type_name(type));
    const int64_t rows = 2 * kInterleaveRows, cols = cols_for(type);
    const testing::QuantizedMatrix m = testing::random_quantized_matrix(type, rows, cols, rng);
    const std::vector<uint8_t> interleaved = interleaved_copy(type, m.bytes, rows, cols);
    const size_t stride = interleaved_activation_bytes(type, cols);
    std::vector<float> x(static_cast<size_t>(cols * kInterleaveMaxTokens));
    for (auto& v : x) v = dist(rng);
    std::vector<uint8_t> act(stride * kInterleaveMaxTokens), simd_act(act.size());
    for (int t = 0; t < kInterleaveMaxTokens; ++t) {
      quantize_interleaved_activation(type, x.data() + t * cols, cols, act.data() + stride * t,
                                      kPortableKernels);
      quantize_interleaved_activation(type, x.data() + t * cols, cols, simd_act.data() + stride * t,
                                      *runnable_kernels("avx512"));
    }
    ASSERT_EQ(simd_act, act);
    const int64_t group_bytes = kInterleaveRows * row_bytes(traits(type), cols);
    for (int n_act = 1; n_act <= kInterleaveMaxTokens; ++n_act) {
      for (int64_t g = 0; g < rows / kInterleaveRows; ++g) {
        std::vector<float> scalar(kInterleaveRows * n_act), simd(scalar.size());
        const uint8_t* group = interleaved.data() + g * group_bytes;
        scalar_interleaved_dot(type)(cols, group, act.data(), stride, n_act, scalar.data(),
                                     kInterleaveRows);
        avx512_interleaved_dot(type)(cols, group, act.data(), stride, n_act, simd.data(),
                                     kInterleaveRows);
        ASSERT_EQ(simd, scalar) << "tokens " << n_act << " group " << g;
      }
    }
  }
}

// Realistic data through matmul (several matrices in one call, kernel tiles of up to 8
// tokens, the GEMM from more), with every kernel table this CPU runs.
TEST(InterleaveLayout, MatmulAgreesWithTheFileLayout) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(2);
  std::vector<const KernelTable*> tables = {&kPortableKernels};
  for (const char* name : {"avx512", "amx"}) {
    if (const KernelTable* table = runnable_kernels(name)) tables.push_back(table);
  }
  for (TensorType type : kTypes) {
    const int64_t cols = cols_for(type);
    const int64_t rows[] = {96, 37};  // whole groups, then a padded last group
    std::vector<testing::QuantizedMatrix> m;
    std::vector<std::vector<uint8_t>> interleaved;
    std::vector<WeightMatrix> file, rewritten;
    for (int64_t r : rows) {
      m.push_back(testing::random_quantized_matrix(type, r, cols, rng));
      interleaved.push_back(interleaved_copy(type, m.back().bytes, r, cols));
    }
    for (size_t i = 0; i < m.size(); ++i) {
      file.push_back({type, m[i].bytes.data(), rows[i], cols});
      rewritten.push_back({type, interleaved[i].data(), rows[i], cols, WeightLayout::kInterleaved});
    }
    const WeightMatrix* rewritten_ptrs[] = {&rewritten[0], &rewritten[1]};
    for (int64_t n_tokens : {1, 2, 3, 4, 5, 8, 9, 16, 19, 40}) {
      std::vector<float> in(static_cast<size_t>(n_tokens * cols));
      for (auto& v : in) v = dist(rng);
      for (const KernelTable* table : tables) {
        SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << " tokens=" << n_tokens
                                          << " kernels=" << table->name);
        for (size_t i = 0; i < m.size(); ++i) {
          std::vector<float> expected(static_cast<size_t>(n_tokens * rows[i]));
          matmul_reference(file[i], in.data(), n_tokens, expected.data(), nullptr);
          std::vector<float> file_out(expected.size()), out(expected.size());
          matmul_with_kernels(file[i], in.data(), n_tokens, file_out.data(), &pool, *table);
          matmul_with_kernels(rewritten[i], in.data(), n_tokens, out.data(), &pool, *table);
          for (size_t k = 0; k < expected.size(); ++k) {
            // Both layouts quantize the activations identically: they agree up to float
            // summation order; the F32 reference differs by the 8-bit activation rounding.
            const double scale = std::sqrt(static_cast<double>(cols));
            ASSERT_NEAR(out[k], file_out[k], 2e-5 * scale) << k;
            ASSERT_NEAR(out[k], expected[k], 0.05 * scale) << k;
          }
        }
        // The two matrices in one call (q/k/v style) give what each gives alone.
        std::vector<float> a(static_cast<size_t>(n_tokens * rows[0]));
        std::vector<float> b(static_cast<size_t>(n_tokens * rows[1]));
        std::vector<float> a_alone(a.size()), b_alone(b.size());
        float* outs[] = {a.data(), b.data()};
        matmul_many(rewritten_ptrs, in.data(), n_tokens, outs, &pool);
        matmul(rewritten[0], in.data(), n_tokens, a_alone.data(), &pool);
        matmul(rewritten[1], in.data(), n_tokens, b_alone.data(), &pool);
        EXPECT_EQ(a, a_alone);
        EXPECT_EQ(b, b_alone);
      }
    }
  }
}

}  // namespace
}  // namespace hearth
