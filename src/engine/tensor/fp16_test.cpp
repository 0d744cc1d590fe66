#include "engine/tensor/fp16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace hearth {
namespace {

// Exact F16 value of bits h computed independently of the converter under test.
double half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(Fp16, EveryFiniteHalfWidensExactlyAndRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const int exponent = (bits >> 10) & 0x1F;
    const float f = fp16_to_fp32(bits);
    if (exponent == 0x1F) {
      if (bits & 0x3FF) {
        EXPECT_TRUE(std::isnan(f)) << h;
      } else {
        EXPECT_TRUE(std::isinf(f)) << h;
        EXPECT_EQ(fp32_to_fp16(f), bits);
      }
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_value(bits)) << h;
    ASSERT_EQ(fp32_to_fp16(f), bits) << h;  // includes -0 and subnormals
  }
}

TEST(Fp16, NarrowingRoundsToNearestEven) {
  // Between every pair of adjacent positive halves, probe just below, at and just above the
  // midpoint and compare with the exact answer.
  for (uint16_t h = 0; h < 0x7BFF; ++h) {
    const double lo = half_value(h);
    const double hi = half_value(static_cast<uint16_t>(h + 1));
    const double mid = (lo + hi) / 2;
    const auto mid_f = static_cast<float>(mid);  // exact: halves have few mantissa bits
    ASSERT_EQ(static_cast<double>(mid_f), mid);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(fp32_to_fp16(mid_f), even) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid_f, 0.0f)), h) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid_f, INFINITY)), h + 1) << h;
    ASSERT_EQ(fp32_to_fp16(-mid_f), even | 0x8000) << h;
  }
}

TEST(Fp16, OverflowUnderflowAndNan) {
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);  // tie goes to even: infinity
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);  // exactly half the smallest subnormal: to even
  EXPECT_EQ(fp32_to_fp16(0x1.000002p-25f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(0x1.8p-24f), 0x0002);  // 1.5 units: tie to even (2)
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  const uint16_t nan_bits = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan_bits & 0x7C00, 0x7C00);
  EXPECT_NE(nan_bits & 0x03FF, 0);
  // A signalling nan whose payload lives only in low bits must not become infinity.
  const uint16_t snan = fp32_to_fp16(std::bit_cast<float>(0x7F800001u));
  EXPECT_NE(snan & 0x03FF, 0);
}

TEST(Fp16, Bf16RoundTripAndRounding) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = bf16_to_fp32(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(f))));
      continue;
    }
    ASSERT_EQ(fp32_to_bf16(f), bits) << h;
  }
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // max float -> inf
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::bit_cast<float>(0x7F800001u)))));
}

}  // namespace
}  // namespace hearth
