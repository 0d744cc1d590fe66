#include "engine/tensor/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/tensor/fp16.h"
#include "engine/tensor/quant_blocks.h"

namespace hearth {
namespace {

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> packed(static_cast<size_t>(row_bytes(traits(type), n)));
  EXPECT_EQ(quantize_row(type, x.data(), packed.data(), n), packed.size());
  std::vector<float> y(x.size());
  dequantize_row(type, packed.data(), y.data(), n);
  return y;
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

TEST(Quant, SupportedTypes) {
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0,
                       TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                       TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K}) {
    EXPECT_TRUE(can_dequantize(t)) << tensor_type_name(t);
    EXPECT_TRUE(can_quantize(t)) << tensor_type_name(t);
  }
  for (TensorType t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q8_1, TensorType::I8}) {
    EXPECT_FALSE(can_dequantize(t)) << tensor_type_name(t);
    EXPECT_EQ(quantize_row(t, nullptr, nullptr, 256), 0u);
  }
}

TEST(Quant, BlockSizesMatchTypeTable) {
  EXPECT_EQ(traits(TensorType::Q4_0).type_size, int64_t(sizeof(BlockQ4_0)));
  EXPECT_EQ(traits(TensorType::Q4_1).type_size, int64_t(sizeof(BlockQ4_1)));
  EXPECT_EQ(traits(TensorType::Q5_0).type_size, int64_t(sizeof(BlockQ5_0)));
  EXPECT_EQ(traits(TensorType::Q5_1).type_size, int64_t(sizeof(BlockQ5_1)));
  EXPECT_EQ(traits(TensorType::Q8_0).type_size, int64_t(sizeof(BlockQ8_0)));
  EXPECT_EQ(traits(TensorType::Q4_K).type_size, int64_t(sizeof(BlockQ4_K)));
  EXPECT_EQ(traits(TensorType::Q5_K).type_size, int64_t(sizeof(BlockQ5_K)));
  EXPECT_EQ(traits(TensorType::Q6_K).type_size, int64_t(sizeof(BlockQ6_K)));
  EXPECT_EQ(traits(TensorType::Q8_K).type_size, int64_t(sizeof(BlockQ8_K)));
}

// Hand-built blocks pin the bit layouts independently of the quantizers.
TEST(Quant, LegacyLayoutsKnownAnswers) {
  BlockQ4_0 q4{};
  q4.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) q4.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  dequantize_row(TensorType::Q4_0, &q4, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f);
    EXPECT_EQ(out[j + 16], (15 - j - 8) * 0.5f);
  }

  BlockQ4_1 q41{};
  q41.d = fp32_to_fp16(2.0f);
  q41.m = fp32_to_fp16(-3.0f);
  for (int j = 0; j < 16; ++j) q41.qs[j] = static_cast<uint8_t>(j | (1 << 4));
  dequantize_row(TensorType::Q4_1, &q41, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], j * 2.0f - 3.0f);
    EXPECT_EQ(out[j + 16], -1.0f);
  }

  // Q5_0: qh bit i is the fifth bit of element i; set it for elements 1 and 17 only.
  BlockQ5_0 q5{};
  q5.d = fp32_to_fp16(1.0f);
  const uint32_t qh = (1u << 1) | (1u << 17);
  std::memcpy(q5.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) q5.qs[j] = 0x33;  // low bits 3 for every element
  dequantize_row(TensorType::Q5_0, &q5, out, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], (i == 1 || i == 17) ? 19 - 16 : 3 - 16) << i;

  BlockQ5_1 q51{};
  q51.d = fp32_to_fp16(1.0f);
  q51.m = fp32_to_fp16(0.25f);
  std::memcpy(q51.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) q51.qs[j] = 0x21;
  dequantize_row(TensorType::Q5_1, &q51, out, 32);
  for (int i = 0; i < 32; ++i) {
    const int low = i < 16 ? 1 : 2;
    EXPECT_EQ(out[i], ((i == 1 || i == 17) ? low + 16 : low) + 0.25f) << i;
  }

  BlockQ8_0 q8{};
  q8.d = fp32_to_fp16(0.25f);
  for (int i = 0; i < 32; ++i) q8.qs[i] = static_cast<int8_t>(i - 16);
  dequantize_row(TensorType::Q8_0, &q8, out, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], (i - 16) * 0.25f);
}

TEST(Quant, KQuantScalePackingKnownAnswer) {
  // Sub-block j < 4 keeps its scale / min in the low 6 bits of bytes j / j+4; j >= 4 puts the
  // low 4 bits in byte j+4 (scale low nibble, min high nibble) and the top 2 bits in the top
  // bits of bytes j-4 (scale) and j (min).
  uint8_t packed[12] = {};
  packed[1] = 10 | (2 << 6);  // scale 1 = 10, top bits of scale 5 = 2
  packed[5] = 20 | (1 << 6);  // min 1 = 20, top bits of min 5 = 1
  packed[9] = 7 | (9 << 4);   // scale 5 low = 7, min 5 low = 9
  uint8_t scale, min;
  unpack_scale_min_k(packed, 1, &scale, &min);
  EXPECT_EQ(scale, 10);
  EXPECT_EQ(min, 20);
  unpack_scale_min_k(packed, 5, &scale, &min);
  EXPECT_EQ(scale, 7 + (2 << 4));
  EXPECT_EQ(min, 9 + (1 << 4));

  BlockQ4_K q{};
  q.d = fp32_to_fp16(1.0f);
  q.dmin = fp32_to_fp16(0.5f);
  std::memcpy(q.scales, packed, 12);
  for (int l = 0; l < 32; ++l) q.qs[32 + l] = static_cast<uint8_t>(3 | (5 << 4));
  float out[256];
  dequantize_row(TensorType::Q4_K, &q, out, 256);
  // Sub-block 2 (low nibbles of qs[32..63]) has scale 0, min 0; sub-block 3 has 0 / 0 too,
  // sub-block 1 (high nibbles of qs[0..31] = 0): value = -0.5 * 20.
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(out[32 + l], -10.0f);
    EXPECT_EQ(out[64 + l], 0.0f);
  }
}

struct BoundCase {
  TensorType type;
  double max_relative_rms;  // for N(0,1) data; ~ step / sqrt(12) relative to sigma, plus margin
};

class QuantRoundTrip : public ::testing::TestWithParam<BoundCase> {};

TEST_P(QuantRoundTrip, GaussianDataWithinFormatBounds) {
  const BoundCase c = GetParam();
  const int64_t n = 256 * 16;
  const auto x = gaussian(n, 1234);
  const auto y = round_trip(c.type, x);
  EXPECT_LT(relative_rms_error(x, y), c.max_relative_rms) << tensor_type_name(c.type);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i]));

  // Per-element bounds, where step is the ideal quantization step of the (sub-)block:
  //  - Q8_0, Q8_K: symmetric over [-127, 127]: error <= step / 2.
  //  - Q4_1, Q5_1: affine over [min, max]: error <= step / 2.
  //  - Q4_0, Q5_0: the extreme maps to code -2^(b-1), so the other side ends one step short
  //    at (2^(b-1) - 1) * step; values beyond it clip: error <= max(step/2, |x| - that edge).
  //  - K-quants also quantize each sub-block's step (to 6 bits for Q4_K/Q5_K, 8 bits for
  //    Q6_K, relative to the super-block's largest), which can move the step and the clipping
  //    edge by a fraction of a step; we claim 1.5 ideal steps.
  // The stored F16 scale perturbs the step by <= 2^-11 relative and the F16 min of Q4_1/Q5_1
  // moves values by <= |min| * 2^-11: the slack term covers both.
  const int64_t block = traits(c.type).block_size;
  for (int64_t b = 0; b < n / block; ++b) {
    const float* xb = x.data() + b * block;
    const float* yb = y.data() + b * block;
    const auto [lo_it, hi_it] = std::minmax_element(xb, xb + block);
    const double lo = *lo_it, hi = *hi_it, absmax = std::max(-lo, hi);
    for (int64_t i = 0; i < block; ++i) {
      const double ax = std::fabs(double(xb[i]));
      double allowed = 0;
      switch (c.type) {
        case TensorType::Q8_0:
        case TensorType::Q8_K: allowed = 0.5 * absmax / 127; break;
        case TensorType::Q4_1: allowed = 0.5 * (hi - lo) / 15; break;
        case TensorType::Q5_1: allowed = 0.5 * (hi - lo) / 31; break;
        case TensorType::Q4_0: allowed = std::max(0.5 * absmax / 8, ax - 7 * absmax / 8); break;
        case TensorType::Q5_0: allowed = std::max(0.5 * absmax / 16, ax - 15 * absmax / 16); break;
        default: {
          const int64_t sub = c.type == TensorType::Q6_K ? 16 : 32;
          const float* s = xb + i / sub * sub;
          const auto [slo, shi] = std::minmax_element(s, s + sub);
          const double range = std::max(0.0, double(*shi)) - std::min(0.0, double(*slo));
          const double extreme = std::max(-double(*slo), double(*shi));
          const double step = c.type == TensorType::Q4_K   ? range / 15
                              : c.type == TensorType::Q5_K ? range / 31
                                                           : extreme / 32;
          allowed = 1.5 * step;
        }
      }
      const double slack = 1e-3 * allowed + 1e-3 * std::fabs(lo) + 1e-6;
      ASSERT_LE(std::fabs(double(xb[i]) - yb[i]), allowed + slack)
          << tensor_type_name(c.type) << " block " << b << " element " << i;
    }
  }
}

TEST_P(QuantRoundTrip, ZerosAndConstantsStayExact) {
  const BoundCase c = GetParam();
  const int64_t n = 512;
  std::vector<float> zeros(n, 0.0f);
  for (float v : round_trip(c.type, zeros)) ASSERT_EQ(v, 0.0f) << tensor_type_name(c.type);
  std::vector<float> constant(n, -0.75f);  // representable in every format's grid
  for (float v : round_trip(c.type, constant)) {
    ASSERT_NEAR(v, -0.75f, 0.75f * 2e-3) << tensor_type_name(c.type);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Quant, QuantRoundTrip,
    ::testing::Values(BoundCase{TensorType::Q8_0, 0.01}, BoundCase{TensorType::Q8_K, 0.01},
                      BoundCase{TensorType::Q4_0, 0.12}, BoundCase{TensorType::Q4_1, 0.12},
                      BoundCase{TensorType::Q5_0, 0.06}, BoundCase{TensorType::Q5_1, 0.06},
                      BoundCase{TensorType::Q4_K, 0.10}, BoundCase{TensorType::Q5_K, 0.05},
                      BoundCase{TensorType::Q6_K, 0.03}),
    [](const auto& info) { return std::string(tensor_type_name(info.param.type)); });

TEST(Quant, Q8KBlockSums) {
  const auto x = gaussian(512, 7);
  std::vector<BlockQ8_K> blocks(2);
  quantize_row(TensorType::Q8_K, x.data(), blocks.data(), 512);
  for (const auto& b : blocks) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
      EXPECT_EQ(b.bsums[j], sum);
    }
  }
}

TEST(Quant, PlainFloatTypesRoundTrip) {
  const auto x = gaussian(300, 3);
  EXPECT_EQ(round_trip(TensorType::F32, x), x);
  const auto h = round_trip(TensorType::F16, x);
  const auto b = round_trip(TensorType::BF16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(h[i], x[i], std::fabs(x[i]) * 0x1p-11 + 1e-7);
    EXPECT_NEAR(b[i], x[i], std::fabs(x[i]) * 0x1p-8);
  }
}

}  // namespace
}  // namespace hearth
