// The vectorized exp of every width this CPU has against std::exp: ulp distance over the
// range it promises, and the edge cases softmax relies on (-inf and very negative -> 0).
#include "engine/kernels/vec_math.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/kernels/kernel_table.h"

#if defined(__x86_64__)

namespace hearth {
namespace {

__attribute__((target("avx2,fma"))) void exp_avx2_array(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; i += 8)
    _mm256_storeu_ps(y + i, vec_math::exp_avx2(_mm256_loadu_ps(x + i)));
}

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_* and trip a false
// -Wmaybe-uninitialized once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f"))) void exp_avx512_array(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(y + i, vec_math::exp_avx512(_mm512_loadu_ps(x + i)));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using ExpArray = void (*)(const float*, float*, size_t);

std::vector<std::pair<const char*, ExpArray>> exp_levels() {
  std::vector<std::pair<const char*, ExpArray>> levels;
  if (runnable_kernels("avx2")) levels.emplace_back("avx2", exp_avx2_array);
  if (runnable_kernels("avx512")) levels.emplace_back("avx512", exp_avx512_array);
  return levels;
}

int64_t ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    const auto bits = std::bit_cast<int32_t>(f);
    return bits < 0 ? static_cast<int64_t>(INT32_MIN) - bits : static_cast<int64_t>(bits);
  };
  return std::abs(ordered(a) - ordered(b));
}

// Padded to a multiple of 16 lanes with zeros.
std::vector<float> padded(std::vector<float> v) {
  v.resize((v.size() + 15) / 16 * 16, 0.0f);
  return v;
}

TEST(VecMath, ExpWithinTwoUlpOverTheNormalRange) {
  std::vector<float> x;
  for (float v = -87.3f; v < 88.7f; v += 0.00731f) x.push_back(v);
  // Exact multiples of ln2 and values near 0 exercise both ends of the reduction.
  for (int n = -125; n <= 127; ++n) x.push_back(static_cast<float>(n) * 0.69314718f);
  for (float v = -1e-3f; v < 1e-3f; v += 1.7e-6f) x.push_back(v);
  x = padded(std::move(x));
  std::vector<float> y(x.size());
  for (const auto& [name, fn] : exp_levels()) {
    fn(x.data(), y.data(), x.size());
    int64_t worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const auto expected = static_cast<float>(std::exp(static_cast<double>(x[i])));
      const int64_t d = ulp_distance(y[i], expected);
      worst = std::max(worst, d);
      ASSERT_LE(d, 2) << name << " x=" << x[i] << " got " << y[i] << " want " << expected;
    }
    RecordProperty(std::string(name) + "_worst_ulp", static_cast<int>(worst));
  }
}

TEST(VecMath, ExpEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = padded({-inf, -1e30f, -1000.0f, -104.0f, -88.0f, -87.5f, 0.0f, -0.0f,
                                       89.0f, 1000.0f, inf, nan, 88.7f, -87.3f});
  std::vector<float> y(x.size());
  for (const auto& [name, fn] : exp_levels()) {
    fn(x.data(), y.data(), x.size());
    for (int i = 0; i < 6; ++i) {
      EXPECT_GE(y[i], 0.0f) << name << " " << x[i];
      EXPECT_LT(y[i], std::numeric_limits<float>::min()) << name << " " << x[i];
    }
    EXPECT_EQ(y[0], 0.0f) << name;
    EXPECT_EQ(y[6], 1.0f) << name;
    EXPECT_EQ(y[7], 1.0f) << name;
    EXPECT_EQ(y[8], inf) << name;
    EXPECT_EQ(y[9], inf) << name;
    EXPECT_EQ(y[10], inf) << name;
    EXPECT_TRUE(std::isnan(y[11])) << name;
    EXPECT_LE(ulp_distance(y[12], static_cast<float>(std::exp(static_cast<double>(x[12])))), 2)
        << name;
    EXPECT_LE(ulp_distance(y[13], static_cast<float>(std::exp(static_cast<double>(x[13])))), 2)
        << name;
  }
}

}  // namespace
}  // namespace hearth

#endif
