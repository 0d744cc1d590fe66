#include "engine/kernels/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace hearth {
namespace {

// Whatever the kernel level, silu stays within a few ulps of x / (1 + std::exp(-x)), including
// where exp overflows (large negative x gives -0) or underflows (large positive x gives x).
TEST(Activation, SwigluMatchesStdExp) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f);
  std::normal_distribution<float> narrow(0.0f, 3.0f);
  std::vector<float> gate = {0.0f,   -0.0f,  1e-30f,  -1e-30f, 88.0f,   -88.0f,   89.0f,
                             -89.0f, 104.0f, -104.0f, 200.0f,  -200.0f, 0.34657f, -0.34658f};
  for (int i = 0; i < 1000; ++i) gate.push_back(i % 2 ? wide(rng) : narrow(rng));
  std::vector<float> up(gate.size());
  for (auto& v : up) v = narrow(rng);
  for (size_t n : {gate.size(), size_t{13}}) {  // 13: the masked tail alone
    std::vector<float> out(n), in_place(up.begin(), up.begin() + static_cast<int64_t>(n));
    swiglu(gate.data(), up.data(), out.data(), static_cast<int64_t>(n));
    swiglu_in_place(gate.data(), in_place.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const float x = gate[i];
      const float expected = x / (1.0f + std::exp(-x)) * up[i];
      ASSERT_NEAR(out[i], expected, 4e-7f * std::fabs(expected)) << "x " << x;
      ASSERT_EQ(out[i], in_place[i]);
    }
  }
}

}  // namespace
}  // namespace hearth
