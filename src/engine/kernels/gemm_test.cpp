// The AVX-512 GEMM path (many tokens) against the scalar row-dot kernels.
#include "engine/kernels/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

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

bool has_avx512() {
  return runnable_kernels("avx512") != nullptr;
}

bool is_integer_type(TensorType type) {
  return activation_format(type) != ActivationFormat::kF32;
}

using testing::unit_scale_weights;

// Integer activations whose every 32-element block holds a 127: the 8-bit activation scale
// is then exactly 1 in both Q8 formats, the codes equal the inputs, and every block sum and
// every partial sum is an integer that float holds exactly. GEMM and scalar must agree
// bit for bit.
TEST(Gemm, IntegerSumsEqualScalarExactly) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  ThreadPool pool(2);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-4, 4);
  for (TensorType type : kAllTypes) {
    if (!is_integer_type(type)) continue;
    const int64_t cols = 512;
    for (int64_t rows : {1, 7, 33}) {
      const std::vector<uint8_t> weights = unit_scale_weights(type, rows, cols, rng);
      const WeightMatrix w{type, weights.data(), rows, cols};
      for (int64_t n_tokens : {kGemmMinTokens, int64_t{16}, int64_t{37}}) {
        std::vector<float> x(static_cast<size_t>(n_tokens * cols));
        for (auto& v : x) v = static_cast<float>(small(rng));
        for (size_t i = 0; i < x.size(); i += 32)
          x[i + rng() % 32] = (rng() & 1) ? 127.0f : -127.0f;
        std::vector<float> expected(n_tokens * rows), got(n_tokens * rows, NAN);
        matmul_with_kernels(w, x.data(), n_tokens, expected.data(), nullptr, kPortableKernels);
        matmul_with_kernels(w, x.data(), n_tokens, got.data(), &pool, *runnable_kernels("avx512"));
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], expected[i]) << tensor_type_name(type) << " rows " << rows << " tokens "
                                         << n_tokens << " index " << i;
        }
      }
    }
  }
}

// Realistic data and odd shapes: rows and tokens off the tile sizes, rows long enough to
// split the tokens into several cache blocks, with and without a pool. The activations are
// quantized identically on both paths, so only float rounding order differs: within 1e-5 of
// sum |w_k * x_k|.
TEST(Gemm, MatchesScalarOnOddShapes) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  ThreadPool pool(3);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  struct Shape {
    int64_t rows, cols, tokens;
  };
  const Shape shapes[] = {{1, 256, 8},   {5, 512, 9},    {37, 256, 33},
                          {70, 768, 50}, {19, 8192, 80}, {9, 2048, 140}};
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
        matmul_with_kernels(w, x.data(), s.tokens, got.data(), p, *runnable_kernels("avx512"));
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

// matmul_many shares the packed activations between matrices of one type and falls back to
// one matmul per matrix otherwise; every output must be what its own matmul gives, bit for bit.
TEST(Gemm, ManyMatchesOneByOne) {
  ThreadPool pool(2);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t cols = 512;
  struct Matrix {
    TensorType type;
    int64_t rows;
  };
  const Matrix matrices[] = {{TensorType::Q8_0, 40}, {TensorType::Q8_0, 16},
                             {TensorType::Q8_0, 9},  {TensorType::Q4_K, 24},
                             {TensorType::Q4_0, 17}, {TensorType::Q4_0, 33}};
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightMatrix> ws;
  std::vector<float> row(static_cast<size_t>(cols));
  for (const Matrix& m : matrices) {
    const int64_t stride = row_bytes(traits(m.type), cols);
    data.emplace_back(static_cast<size_t>(m.rows * stride));
    for (int64_t r = 0; r < m.rows; ++r) {
      for (auto& v : row) v = dist(rng);
      quantize_row(m.type, row.data(), data.back().data() + r * stride, cols);
    }
    ws.push_back(WeightMatrix{m.type, data.back().data(), m.rows, cols});
  }
  for (int64_t n_tokens : {int64_t{1}, int64_t{3}, int64_t{5}, kGemmMinTokens, int64_t{45}}) {
    std::vector<float> x(static_cast<size_t>(n_tokens * cols));
    for (auto& v : x) v = dist(rng);
    std::vector<std::vector<float>> expected, got;
    std::vector<const WeightMatrix*> w_ptrs;
    std::vector<float*> outs;
    for (const WeightMatrix& w : ws) {
      expected.emplace_back(static_cast<size_t>(n_tokens * w.rows));
      got.emplace_back(static_cast<size_t>(n_tokens * w.rows), NAN);
      matmul(w, x.data(), n_tokens, expected.back().data(), &pool);
      w_ptrs.push_back(&w);
      outs.push_back(got.back().data());
    }
    matmul_many(w_ptrs, x.data(), n_tokens, outs, &pool);
    for (size_t m = 0; m < ws.size(); ++m) {
      for (size_t i = 0; i < got[m].size(); ++i) {
        ASSERT_EQ(got[m][i], expected[m][i])
            << "matrix " << m << " tokens " << n_tokens << " index " << i;
      }
    }
  }
}

}  // namespace
}  // namespace hearth
