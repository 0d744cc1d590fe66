// The sampler's vector passes against their plain definitions, on lengths that leave tails.
#include "engine/kernels/vector_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace hearth {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(VectorOps, CopyFiniteReplacesNaNOnly) {
  std::vector<float> in = {1.0f,          std::nanf(""), -kInf, kInf,   -0.0f,        3.5f,
                           std::nanf(""), 2.0f,          0.0f,  1e-40f, -7.0f,        5.0f,
                           6.0f,          7.0f,          8.0f,  9.0f,   std::nanf("")};
  std::vector<float> out(in.size());
  copy_finite(in.data(), out.data(), static_cast<int64_t>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::isnan(in[i])) {
      EXPECT_EQ(out[i], -kInf) << i;
    } else {
      EXPECT_EQ(std::signbit(out[i]), std::signbit(in[i])) << i;
      EXPECT_EQ(out[i], in[i]) << i;
    }
  }
}

TEST(VectorOps, MaxValue) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int64_t n : {0, 1, 15, 16, 17, 151669}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = dist(rng);
    float expected = -kInf;
    for (float v : x) expected = std::max(expected, v);
    EXPECT_EQ(max_value(x.data(), n), expected) << n;
  }
  const std::vector<float> all_banned(40, -kInf);
  EXPECT_EQ(max_value(all_banned.data(), 40), -kInf);
}

TEST(VectorOps, ExpShiftedMatchesStdExp) {
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  const int64_t n = 151669;
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  x[5] = -kInf;  // a banned token weighs nothing
  x[77] = -200.0f;
  const float shift = 20.0f, scale = 1.0f / 0.7f;
  std::vector<float> out(n);
  const double total = exp_shifted(x.data(), n, shift, scale, out.data());
  double expected_total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float expected = std::exp((x[i] - shift) * scale);
    expected_total += expected;
    // 2 ulp, and the vector path flushes results below float's normal range to zero.
    ASSERT_NEAR(out[i], expected, 2.5e-7f * expected + 1.2e-38f) << i;
  }
  EXPECT_EQ(out[5], 0.0f);
  EXPECT_NEAR(total, expected_total, 1e-6 * expected_total);
}

}  // namespace
}  // namespace hearth
