#include "engine/kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"

namespace hearth {
namespace {

struct Fixture {
  std::vector<uint8_t> data;
  std::vector<float> dequantized;  // what the weights really are after quantization
  WeightMatrix w;
};

Fixture make_weights(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> source(static_cast<size_t>(rows * cols));
  for (auto& v : source) v = dist(rng);
  Fixture f;
  const int64_t stride = row_bytes(traits(type), cols);
  f.data.resize(static_cast<size_t>(rows * stride));
  f.dequantized.resize(source.size());
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, source.data() + r * cols, f.data.data() + r * stride, cols);
    dequantize_row(type, f.data.data() + r * stride, f.dequantized.data() + r * cols, cols);
  }
  f.w = WeightMatrix{type, f.data.data(), rows, cols};
  return f;
}

class MatmulTypes : public ::testing::TestWithParam<TensorType> {};

// The product must match a double-precision product of the dequantized weights with the
// activations. Fast paths round activations to 8 bits (Q8_0 / Q8_K), which costs up to
// ~1/254 of each activation block's max per element; the tolerance scales with
// sum |w| * max|x| to allow that, and is far below what a layout bug would produce.
TEST_P(MatmulTypes, MatchesDoublePrecisionReference) {
  const TensorType type = GetParam();
  const int64_t rows = 37, cols = 512;
  Fixture f = make_weights(type, rows, cols, 42);
  ThreadPool pool(3);
  for (int64_t n_tokens : {1, 2, 5, 16}) {
    std::mt19937 rng(static_cast<uint32_t>(n_tokens));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> in(static_cast<size_t>(n_tokens * cols));
    for (auto& v : in) v = dist(rng);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> out(static_cast<size_t>(n_tokens * rows), NAN);
      matmul(f.w, in.data(), n_tokens, out.data(), p);
      for (int64_t t = 0; t < n_tokens; ++t) {
        float max_in = 0;
        for (int64_t k = 0; k < cols; ++k) max_in = std::max(max_in, std::fabs(in[t * cols + k]));
        for (int64_t r = 0; r < rows; ++r) {
          double expected = 0, abs_sum = 0;
          for (int64_t k = 0; k < cols; ++k) {
            const double wv = f.dequantized[r * cols + k];
            expected += wv * in[t * cols + k];
            abs_sum += std::fabs(wv);
          }
          const double tolerance = abs_sum * max_in / 254.0 + 1e-4;
          ASSERT_NEAR(out[t * rows + r], expected, tolerance)
              << tensor_type_name(type) << " token " << t << " row " << r
              << (p ? " pooled" : " single");
        }
      }
    }
  }
}

TEST_P(MatmulTypes, GetRowMatchesDequantize) {
  const TensorType type = GetParam();
  Fixture f = make_weights(type, 5, 256, 9);
  std::vector<float> row(256);
  for (int64_t r = 0; r < 5; ++r) {
    get_row(f.w, r, row.data());
    for (int64_t k = 0; k < 256; ++k) ASSERT_EQ(row[k], f.dequantized[r * 256 + k]);
  }
}

INSTANTIATE_TEST_SUITE_P(Matmul, MatmulTypes,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                           TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                           TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                                           TensorType::Q5_K, TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

}  // namespace
}  // namespace hearth
