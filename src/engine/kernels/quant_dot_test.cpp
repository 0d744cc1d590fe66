// The SIMD kernels against the scalar reference kernels, at every level this CPU has.
#include "engine/kernels/quant_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "engine/kernels/gemm.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
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

// The instruction sets with row-dot kernels of their own that this CPU runs.
std::vector<std::string_view> simd_levels() {
  std::vector<std::string_view> levels;
  for (std::string_view name : {"avx2", "avx512"}) {
    if (runnable_kernels(name)) levels.push_back(name);
  }
  return levels;
}

RowDotFn level_kernel(TensorType type, std::string_view level) {
  return level == "avx512" ? avx512_row_dot(type) : avx2_row_dot(type);
}

bool is_integer_type(TensorType type) {
  return activation_format(type) != ActivationFormat::kF32;
}

// Random weight bytes with every scale set to 1 and Q8 activations with d = 1: all block
// sums are then small integers that float represents exactly, so SIMD and scalar kernels
// must agree bit for bit. Random bytes cover every code value (Q8_0's -128 included),
// every packed K-quant scale and every high-bit pattern.
struct ExactCase {
  std::vector<uint8_t> weights;
  std::vector<uint8_t> acts;  // kMaxTokenTile rows
  size_t act_stride = 0;
};

ExactCase make_exact_case(TensorType type, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  ExactCase c;
  c.weights = testing::unit_scale_weights(type, 1, n, rng);
  const ActivationFormat format = activation_format(type);
  c.act_stride = activation_row_bytes(format, n);
  c.acts.resize(c.act_stride * kMaxTokenTile);
  std::uniform_int_distribution<int> small(-4, 4);
  for (int t = 0; t < kMaxTokenTile; ++t) {
    uint8_t* row = c.acts.data() + c.act_stride * t;
    if (format == ActivationFormat::kQ8) {
      auto* blocks = reinterpret_cast<BlockQ8Act*>(row);
      for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
        int sum = 0;
        for (auto& q : blocks[b].qs) sum += (q = static_cast<int8_t>(small(rng)));
        blocks[b].d = 1.0f;
        blocks[b].ds = static_cast<float>(sum);
      }
    } else {
      auto* blocks = reinterpret_cast<BlockQ8_K*>(row);
      for (int64_t b = 0; b < n / kSuperBlock; ++b) {
        for (auto& q : blocks[b].qs) q = static_cast<int8_t>(small(rng));
        blocks[b].d = 1.0f;
        for (int j = 0; j < 16; ++j) {
          int sum = 0;
          for (int i = 0; i < 16; ++i) sum += blocks[b].qs[16 * j + i];
          blocks[b].bsums[j] = static_cast<int16_t>(sum);
        }
      }
    }
  }
  return c;
}

TEST(QuantDot, SimdIntegerSumsEqualScalarExactly) {
  const auto levels = simd_levels();
  if (levels.empty()) GTEST_SKIP() << "no SIMD level on this CPU";
  for (TensorType type : kAllTypes) {
    if (!is_integer_type(type)) continue;
    const int64_t n = traits(type).block_size == kSuperBlock ? 256 : 512;
    for (uint32_t seed = 0; seed < 20; ++seed) {
      const ExactCase c = make_exact_case(type, n, seed);
      for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
        float expected[kMaxTokenTile];
        scalar_row_dot(type)(n, c.weights.data(), c.acts.data(), c.act_stride, n_act, expected);
        for (std::string_view level : levels) {
          float got[kMaxTokenTile];
          level_kernel(type, level)(n, c.weights.data(), c.acts.data(), c.act_stride, n_act, got);
          for (int t = 0; t < n_act; ++t) {
            ASSERT_EQ(got[t], expected[t]) << tensor_type_name(type) << " " << level << " seed "
                                           << seed << " tile " << n_act << " token " << t;
          }
        }
      }
    }
  }
}

// The 4-row Q8_0 kernel against the scalar row kernel, bit for bit on exact cases.
TEST(QuantDot, Q8_0FourRowKernelEqualsScalarExactly) {
  if (!runnable_kernels("avx512")) GTEST_SKIP() << "no AVX-512";
  const int64_t n = 512;
  const int64_t stride = row_bytes(traits(TensorType::Q8_0), n);
  for (uint32_t seed = 0; seed < 10; ++seed) {
    std::vector<uint8_t> rows;
    ExactCase c;
    for (int r = 0; r < 4; ++r) {
      c = make_exact_case(TensorType::Q8_0, n, seed * 4 + r);  // activations: the last case's
      rows.insert(rows.end(), c.weights.begin(), c.weights.end());
    }
    for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
      float got[kMaxTokenTile * 4];
      avx512_q8_0_dot_4rows(n, rows.data(), stride, c.acts.data(), c.act_stride, n_act, got, 4);
      for (int r = 0; r < 4; ++r) {
        float expected[kMaxTokenTile];
        scalar_row_dot(TensorType::Q8_0)(n, rows.data() + r * stride, c.acts.data(), c.act_stride,
                                         n_act, expected);
        for (int t = 0; t < n_act; ++t) {
          ASSERT_EQ(got[t * 4 + r], expected[t])
              << "seed " << seed << " row " << r << " token " << t;
        }
      }
    }
  }
}

// Realistic data: quantized Gaussian weights and activations. Results may differ from the
// scalar kernel only by float summation order: within 1e-5 of sum |w_k * a_k|.
TEST(QuantDot, SimdMatchesScalarOnRealisticData) {
  const auto levels = simd_levels();
  if (levels.empty()) GTEST_SKIP() << "no SIMD level on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (TensorType type : kAllTypes) {
    for (int64_t n : {256, 768, 4096}) {
      std::vector<float> wf(n);
      for (auto& v : wf) v = dist(rng);
      std::vector<uint8_t> w(static_cast<size_t>(row_bytes(traits(type), n)));
      quantize_row(type, wf.data(), w.data(), n);
      dequantize_row(type, w.data(), wf.data(), n);
      const ActivationFormat format = activation_format(type);
      const size_t stride = activation_row_bytes(format, n);
      std::vector<float> x(n * kMaxTokenTile);
      for (auto& v : x) v = dist(rng);
      std::vector<uint8_t> acts(stride * kMaxTokenTile);
      for (int t = 0; t < kMaxTokenTile; ++t) {
        quantize_activation_row(format, x.data() + t * n, acts.data() + stride * t, n);
      }
      float expected[kMaxTokenTile];
      scalar_row_dot(type)(n, w.data(), acts.data(), stride, kMaxTokenTile, expected);
      for (std::string_view level : levels) {
        for (int n_act = 1; n_act <= kMaxTokenTile; ++n_act) {
          float got[kMaxTokenTile];
          level_kernel(type, level)(n, w.data(), acts.data(), stride, n_act, got);
          for (int t = 0; t < n_act; ++t) {
            double magnitude = 0;
            for (int64_t k = 0; k < n; ++k) magnitude += std::fabs(wf[k] * x[t * n + k]);
            ASSERT_NEAR(got[t], expected[t], 1e-5 * magnitude)
                << tensor_type_name(type) << " " << level << " n " << n;
          }
        }
      }
    }
  }
}

TEST(QuantDot, FloatKernelsHandleTails) {
  const auto levels = simd_levels();
  if (levels.empty()) GTEST_SKIP() << "no SIMD level on this CPU";
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    for (int64_t n : {1, 7, 15, 33, 100}) {
      std::vector<float> wf(n), x(n * kMaxTokenTile);
      for (auto& v : wf) v = dist(rng);
      for (auto& v : x) v = dist(rng);
      std::vector<uint8_t> w(static_cast<size_t>(row_bytes(traits(type), n)));
      quantize_row(type, wf.data(), w.data(), n);
      float expected[kMaxTokenTile];
      scalar_row_dot(type)(n, w.data(), x.data(), n * sizeof(float), kMaxTokenTile, expected);
      for (std::string_view level : levels) {
        float got[kMaxTokenTile];
        level_kernel(type, level)(n, w.data(), x.data(), n * sizeof(float), kMaxTokenTile, got);
        for (int t = 0; t < kMaxTokenTile; ++t) {
          ASSERT_NEAR(got[t], expected[t], 1e-5 * (1 + std::fabs(expected[t])))
              << tensor_type_name(type) << " n " << n;
        }
      }
    }
  }
}

// Whole matmuls: every table this CPU runs against the portable one, odd shapes, with and
// without a pool.
TEST(QuantDot, MatmulLevelsAgree) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(2);
  for (TensorType type : kAllTypes) {
    const int64_t rows = 45, cols = 512;
    std::vector<float> wf(rows * cols);
    for (auto& v : wf) v = dist(rng);
    const int64_t stride = row_bytes(traits(type), cols);
    std::vector<uint8_t> w(rows * stride);
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(type, wf.data() + r * cols, w.data() + r * stride, cols);
    }
    const WeightMatrix matrix{type, w.data(), rows, cols};
    for (int64_t n_tokens : {1, 3, 9}) {
      std::vector<float> x(n_tokens * cols);
      for (auto& v : x) v = dist(rng);
      std::vector<float> expected(n_tokens * rows), got(n_tokens * rows);
      matmul_with_kernels(matrix, x.data(), n_tokens, expected.data(), nullptr, kPortableKernels);
      for (const KernelTable* table : kernel_tables()) {
        if (table == &kPortableKernels || !cpu_features().has_all(table->required)) continue;
        const std::string_view level = table->name;
        matmul_with_kernels(matrix, x.data(), n_tokens, got.data(), &pool, *table);
        // Tables with bf16_activations round the activations of BF16 weights to BF16: by up to
        // 2^-9 each, so the sums by up to 2^-9 of sum |w * x| (bf16_dot_test.cpp tests it more
        // closely).
        const bool bf16_acts = activation_format(type, *table) == ActivationFormat::kBF16;
        for (size_t i = 0; i < got.size(); ++i) {
          double bound = 1e-4 * (1 + std::fabs(expected[i]));
          if (bf16_acts) {
            const int64_t t = static_cast<int64_t>(i) / rows, r = static_cast<int64_t>(i) % rows;
            double magnitude = 0;
            for (int64_t k = 0; k < cols; ++k) {
              magnitude += std::fabs(wf[r * cols + k] * x[t * cols + k]);
            }
            bound += 0x1p-8 * magnitude;
          }
          ASSERT_NEAR(got[i], expected[i], bound)
              << tensor_type_name(type) << " level " << level << " index " << i;
        }
      }
    }
  }
}

// The vector activation quantizer must give the scalar one's bytes exactly: codes, d, and
// the sums (ds, bsums), for ordinary values, ties, a zero block and a huge element.
TEST(QuantDot, VectorActivationQuantizerMatchesScalar) {
  if (!runnable_kernels("avx512")) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  const int64_t n = 1024;
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  for (int i = 256; i < 512; ++i) x[i] = 0.0f;
  for (int i = 512; i < 544; ++i) x[i] = static_cast<float>(i - 528) * 0.5f;  // ties
  x[700] = -1e30f;
  for (ActivationFormat format : {ActivationFormat::kQ8, ActivationFormat::kQ8K}) {
    const size_t bytes = activation_row_bytes(format, n);
    std::vector<uint8_t> scalar(bytes), simd(bytes);
    kPortableKernels.quantize_activation_row(format, x.data(), scalar.data(), n);
    runnable_kernels("avx512")->quantize_activation_row(format, x.data(), simd.data(), n);
    EXPECT_EQ(0, std::memcmp(scalar.data(), simd.data(), bytes));
  }
}

TEST(Cpu, TablesAndNames) {
  const auto tables = kernel_tables();
  ASSERT_FALSE(tables.empty());
  EXPECT_EQ(tables.back(), &kPortableKernels);  // the last resort
  for (const KernelTable* table : tables) {
    EXPECT_EQ(find_kernels(table->name), table);
    // Whole-call entries are complete in every table; per-type lookups end at portable.
    EXPECT_NE(table->quantize_activation_row, nullptr) << table->name;
    EXPECT_NE(table->swiglu, nullptr) << table->name;
    EXPECT_NE(table->copy_finite, nullptr) << table->name;
    EXPECT_NE(table->max_value, nullptr) << table->name;
    EXPECT_NE(table->exp_shifted, nullptr) << table->name;
    EXPECT_NE(table->attend_tile, nullptr) << table->name;
    const KernelTable* last = table;
    while (last->fallback) last = last->fallback;
    EXPECT_EQ(last, &kPortableKernels) << table->name;
  }
  EXPECT_EQ(find_kernels("sse"), nullptr);
  EXPECT_EQ(kPortableKernels.name, "scalar");
  EXPECT_FALSE(kPortableKernels.interleaved_weights);
  EXPECT_EQ(best_kernels(CpuFeatures{}).name, "scalar");
  EXPECT_TRUE(cpu_features().has_all(active_kernels().required));
  std::printf("  cpu: %s; best table %s, active %s\n", cpu_features().describe().c_str(),
              std::string(best_kernels(cpu_features()).name).c_str(),
              std::string(active_kernels().name).c_str());
}

#if defined(__x86_64__)
// The x86 tables are chosen as the ordered levels were: each needs the features of the one
// below it plus its own.
TEST(Cpu, X86TablesFollowTheFeatures) {
  for (const char* name : {"scalar", "avx2", "avx512", "avx512bf16", "amx"}) {
    ASSERT_NE(find_kernels(name), nullptr) << name;
  }
  CpuFeatures avx2;
  avx2.avx2 = avx2.fma = avx2.f16c = true;
  EXPECT_EQ(best_kernels(avx2).name, "avx2");
  CpuFeatures avx512 = avx2;
  avx512.avx512f = avx512.avx512bw = avx512.avx512vl = avx512.avx512vnni = true;
  EXPECT_EQ(best_kernels(avx512).name, "avx512");
  CpuFeatures bf16_without_avx512 = avx2;
  bf16_without_avx512.avx512bf16 = true;
  EXPECT_EQ(best_kernels(bf16_without_avx512).name, "avx2");
  CpuFeatures avx512bf16 = avx512;
  avx512bf16.avx512bf16 = true;
  EXPECT_EQ(best_kernels(avx512bf16).name, "avx512bf16");
  CpuFeatures amx = avx512bf16;
  amx.amx_tile = amx.amx_int8 = true;
  EXPECT_EQ(best_kernels(amx).name, "amx");
  CpuFeatures tiles_without_int8 = avx512bf16;
  tiles_without_int8.amx_tile = true;
  EXPECT_EQ(best_kernels(tiles_without_int8).name, "avx512bf16");
  // HEARTH_KERNELS starts the search lower, and a table the CPU lacks falls to one it has.
  EXPECT_EQ(best_kernels(amx, find_kernels("avx512")).name, "avx512");
  EXPECT_EQ(best_kernels(amx, find_kernels("scalar")).name, "scalar");
  EXPECT_EQ(best_kernels(avx2, find_kernels("amx")).name, "avx2");
  // Capabilities callers ask for instead of comparing levels.
  EXPECT_FALSE(find_kernels("avx2")->interleaved_weights);
  for (const char* name : {"avx512", "avx512bf16", "amx"}) {
    EXPECT_TRUE(find_kernels(name)->interleaved_weights) << name;
  }
  EXPECT_EQ(find_kernels("avx2")->gemm_many, nullptr);
  EXPECT_EQ(kPortableKernels.gemm, nullptr);
  EXPECT_EQ(find_kernels("amx")->self_test, amx_self_test);
}

// Every table picks the row-dot kernel the ordered levels picked, for every type: the best
// one at or below it, BF16 activations from avx512bf16 up.
TEST(Cpu, X86TablesPickTheLevelsRowDots) {
  const auto old_rule = [](TensorType type, std::string_view level) -> RowDotFn {
    const bool at_least_bf16 = level == "avx512bf16" || level == "amx";
    const bool at_least_avx512 = at_least_bf16 || level == "avx512";
    if (at_least_bf16 && type == TensorType::BF16) return avx512bf16_row_dot(type);
    if (at_least_avx512 && avx512_row_dot(type)) return avx512_row_dot(type);
    if (level != "scalar" && avx2_row_dot(type)) return avx2_row_dot(type);
    return scalar_row_dot(type);
  };
  for (const KernelTable* table : kernel_tables()) {
    for (TensorType type : kAllTypes) {
      EXPECT_EQ(find_row_dot(type, *table), old_rule(type, table->name))
          << table->name << " " << tensor_type_name(type);
    }
  }
}
#endif

}  // namespace
}  // namespace hearth
