// The AMX GEMM: the tile model against the instructions' documented arithmetic, the GEMM over
// the model against the AVX-512 GEMM bit for bit (any AVX-512 machine), and, where the CPU
// has AMX, the tile registers against the model and the real GEMM against the AVX-512 one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/kernels/amx_emulator.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"
#include "support/test_weights.h"

namespace hearth {
namespace {

constexpr TensorType kTypes[] = {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1,
                                 TensorType::Q5_0, TensorType::Q5_1, TensorType::Q4_K,
                                 TensorType::Q5_K, TensorType::Q6_K};

bool has_avx512() {
  return runnable_kernels("avx512") != nullptr;
}
bool has_amx() {
  return runnable_kernels("amx") != nullptr;
}

TileConfig config_of(int a_rows, int a_colsb, int b_rows, int c_colsb) {
  TileConfig config;
  config.palette_id = 1;
  config.rows[0] = static_cast<uint8_t>(a_rows);  // C: M x N dwords
  config.colsb[0] = static_cast<uint16_t>(c_colsb);
  config.rows[1] = static_cast<uint8_t>(a_rows);  // A: M x K bytes
  config.colsb[1] = static_cast<uint16_t>(a_colsb);
  config.rows[2] = static_cast<uint8_t>(b_rows);  // B: K / 4 rows of N dwords
  config.colsb[2] = static_cast<uint16_t>(c_colsb);
  return config;
}

// C[m][n] = sum over k of A[m][k] * B[k / 4][4 n + k % 4], A signed and B unsigned, written
// out element by element from the matrix-product definition rather than the model's loops.
TEST(AmxEmulator, ProductFollowsTheInstructionDefinition) {
  std::mt19937 rng(3);
  for (int k_bytes : {16, 32, 64}) {
    for (int m_rows : {1, 5, 16}) {
      for (int n_dwords : {4, 16}) {
        SCOPED_TRACE(::testing::Message()
                     << "K " << k_bytes << " M " << m_rows << " N " << n_dwords);
        std::vector<int8_t> a(static_cast<size_t>(m_rows * 100));       // stride 100
        std::vector<uint8_t> b(static_cast<size_t>(k_bytes / 4 * 80));  // stride 80
        for (auto& x : a) x = static_cast<int8_t>(rng());
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        std::vector<int32_t> initial(static_cast<size_t>(m_rows * n_dwords));
        for (auto& x : initial) x = static_cast<int32_t>(rng() % 2001) - 1000;

        const int64_t faults = TileEmulator::fault_count();
        TileEmulator tiles;
        tiles.configure(config_of(m_rows, k_bytes, k_bytes / 4, 4 * n_dwords));
        tiles.load(0, initial.data(), 4 * n_dwords);
        tiles.load(1, a.data(), 100);
        tiles.load(2, b.data(), 80);
        tiles.dot_signed_unsigned(0, 1, 2);
        std::vector<int32_t> got(static_cast<size_t>(m_rows * n_dwords), -1);
        tiles.store(0, got.data(), 4 * n_dwords);
        EXPECT_EQ(TileEmulator::fault_count(), faults);
        for (int m = 0; m < m_rows; ++m) {
          for (int n = 0; n < n_dwords; ++n) {
            int64_t expected = initial[m * n_dwords + n];
            for (int k = 0; k < k_bytes; ++k) {
              expected += int64_t{a[m * 100 + k]} * int64_t{b[k / 4 * 80 + 4 * n + k % 4]};
            }
            ASSERT_EQ(got[m * n_dwords + n], expected) << "m " << m << " n " << n;
          }
        }
      }
    }
  }
}

TEST(AmxEmulator, LoadsZeroWhatLiesOutsideTheTile) {
  TileEmulator tiles;
  TileConfig config;
  config.palette_id = 1;
  config.rows[3] = 2;
  config.colsb[3] = 8;
  tiles.configure(config);
  std::vector<uint8_t> src(64, 0xFF);
  tiles.load(3, src.data(), 16);
  std::vector<uint8_t> out(64, 0x11);
  tiles.store(3, out.data(), 16);
  for (int i = 0; i < 64; ++i) {
    const bool inside = i % 16 < 8 && i < 32;
    EXPECT_EQ(out[i], inside ? 0xFF : 0x11) << i;  // stores write the tile's shape only
  }
}

TEST(AmxEmulator, CountsWhatTheHardwareWouldFaultOn) {
  TileEmulator tiles;
  int32_t c[16 * 16] = {};
  int64_t faults = TileEmulator::fault_count();
  tiles.zero(0);  // not configured
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);

  TileConfig bad = config_of(16, 32, 8, 64);
  bad.colsb[1] = 80;  // wider than a tile row
  tiles.configure(bad);
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);
  EXPECT_FALSE(tiles.configured());
  bad = config_of(16, 32, 8, 64);
  bad.palette_id = 2;
  tiles.configure(bad);
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);

  tiles.configure(config_of(16, 32, 4, 64));  // B has 4 rows where A's K needs 8
  EXPECT_EQ(TileEmulator::fault_count(), faults);
  tiles.dot_signed_unsigned(0, 1, 2);
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);
  tiles.configure(config_of(16, 32, 8, 64));
  tiles.dot_signed_unsigned(0, 0, 2);  // the sums tile as an operand
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);
  tiles.dot_signed_unsigned(0, 1, 2);
  tiles.store(0, c, 64);
  EXPECT_EQ(TileEmulator::fault_count(), faults);
  tiles.release();
  tiles.store(0, c, 64);
  EXPECT_EQ(TileEmulator::fault_count(), ++faults);
}

struct Case {
  std::vector<uint8_t> interleaved;
  WeightMatrix w;
};

Case interleaved_case(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const testing::QuantizedMatrix m = testing::random_quantized_matrix(type, rows, cols, rng);
  Case c;
  c.interleaved.assign(static_cast<size_t>(interleaved_bytes(type, rows, cols)), 0);
  interleave_rows(type, m.bytes.data(), rows, cols, c.interleaved.data());
  c.w = {type, c.interleaved.data(), rows, cols, WeightLayout::kInterleaved};
  return c;
}

std::vector<float> random_input(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  return x;
}

// The AMX kernel scales each group's integer sums with the AVX-512 micro-kernel's operations
// in its order, so over the tile model it must reproduce the AVX-512 GEMM exactly: shapes
// with a padded last row group, token counts off the 16-token tile, several matrices at once.
TEST(AmxGemm, EmulatedEqualsAvx512BitForBit) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512";
  ThreadPool pool(2);
  std::mt19937 rng(17);
  const int64_t faults = TileEmulator::fault_count();
  for (TensorType type : kTypes) {
    const bool k_quant =
        type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
    const int64_t cols = k_quant ? 512 : 192;
    for (int64_t n_tokens : {9, 16, 37}) {
      SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << " tokens " << n_tokens);
      Case first = interleaved_case(type, 48, cols, rng);
      Case second = interleaved_case(type, 21, cols, rng);
      const WeightMatrix* ws[] = {&first.w, &second.w};
      const std::vector<float> x = random_input(n_tokens * cols, rng);
      std::vector<float> want0(static_cast<size_t>(n_tokens * 48)), want1(n_tokens * 21);
      std::vector<float> got0(want0.size(), NAN), got1(want1.size(), NAN);
      float* want[] = {want0.data(), want1.data()};
      float* got[] = {got0.data(), got1.data()};
      ASSERT_TRUE(avx512_gemm_many(ws, x.data(), n_tokens, want, &pool));
      ASSERT_TRUE(amx_gemm_many_emulated(ws, x.data(), n_tokens, got, &pool));
      EXPECT_EQ(got0, want0);
      EXPECT_EQ(got1, want1);
      // One matrix, no pool.
      std::fill(got1.begin(), got1.end(), NAN);
      ASSERT_TRUE(amx_gemm_many_emulated(std::span(ws + 1, 1), x.data(), n_tokens,
                                         std::span(got + 1, 1), nullptr));
      EXPECT_EQ(got1, want1);
    }
  }
  EXPECT_EQ(TileEmulator::fault_count(), faults);
}

// Rows long enough that the tokens split into several activation blocks.
TEST(AmxGemm, EmulatedEqualsAvx512OnLongRows) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512";
  ThreadPool pool(2);
  std::mt19937 rng(19);
  const int64_t cols = 4864, rows = 32, n_tokens = 130;
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0}) {
    SCOPED_TRACE(tensor_type_name(type));
    Case c = interleaved_case(type, rows, cols, rng);
    const std::vector<float> x = random_input(n_tokens * cols, rng);
    std::vector<float> want(static_cast<size_t>(n_tokens * rows)), got(want.size(), NAN);
    const WeightMatrix* ws[] = {&c.w};
    float* want_out[] = {want.data()};
    float* got_out[] = {got.data()};
    ASSERT_TRUE(avx512_gemm_many(ws, x.data(), n_tokens, want_out, &pool));
    ASSERT_TRUE(amx_gemm_many_emulated(ws, x.data(), n_tokens, got_out, &pool));
    EXPECT_EQ(got, want);
  }
}

TEST(AmxGemm, RefusesWhatItHasNoKernelFor) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(23);
  const testing::QuantizedMatrix m =
      testing::random_quantized_matrix(TensorType::Q8_0, 16, 64, rng);
  const WeightMatrix file{TensorType::Q8_0, m.bytes.data(), 16, 64};  // GGUF layout
  const WeightMatrix* ws[] = {&file};
  std::vector<float> x(64 * 16, 1.0f), out(16 * 16, -7.0f);
  float* outs[] = {out.data()};
  EXPECT_FALSE(amx_gemm_many_emulated(ws, x.data(), 16, outs, nullptr));
  EXPECT_EQ(out, std::vector<float>(16 * 16, -7.0f));
}

// The self-test that guards the kAmx level, run over the model: it must pass wherever the
// model is right, or AMX would never be chosen.
TEST(AmxGemm, SelfTestPassesOverTheModel) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512";
  EXPECT_TRUE(amx_self_test_emulated());
}

// Only on a CPU with AMX: the registers against the model, then the real kernel.
TEST(AmxGemm, TileRegistersAgreeWithTheModel) {
  if (!has_amx()) GTEST_SKIP() << "no AMX on this CPU (" << cpu_features().describe() << ")";
  ASSERT_TRUE(amx_self_test());
  ThreadPool pool(2);
  std::mt19937 rng(29);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(tensor_type_name(type));
    const bool k_quant =
        type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
    const int64_t cols = k_quant ? 512 : 192, n_tokens = 37;
    Case c = interleaved_case(type, 48, cols, rng);
    const std::vector<float> x = random_input(n_tokens * cols, rng);
    std::vector<float> want(static_cast<size_t>(n_tokens * 48)), got(want.size(), NAN);
    ASSERT_TRUE(avx512_gemm(c.w, x.data(), n_tokens, want.data(), &pool));
    ASSERT_TRUE(amx_gemm(c.w, x.data(), n_tokens, got.data(), &pool));
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace hearth
