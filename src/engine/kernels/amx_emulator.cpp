#include "engine/kernels/amx_emulator.h"

#include <atomic>
#include <cstring>

namespace hearth {
namespace {

std::atomic<int64_t> g_faults{0};

void fault() {
  g_faults.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

int64_t TileEmulator::fault_count() {
  return g_faults.load(std::memory_order_relaxed);
}

void TileEmulator::configure(const TileConfig& config) {
  if (config.palette_id == 0) {  // palette 0 is the init state
    release();
    return;
  }
  bool ok = config.palette_id == 1 && config.start_row == 0;
  for (uint8_t byte : config.reserved_a) ok = ok && byte == 0;
  for (int t = 0; t < 16; ++t) {
    if (t >= kTiles) {
      ok = ok && config.rows[t] == 0 && config.colsb[t] == 0;
      continue;
    }
    ok = ok && config.rows[t] <= kTileMaxRows && config.colsb[t] <= kTileMaxColsb &&
         config.colsb[t] % 4 == 0 && (config.rows[t] == 0) == (config.colsb[t] == 0);
  }
  if (!ok) {
    fault();
    return;
  }
  configured_ = true;
  for (int t = 0; t < kTiles; ++t) {
    rows_[t] = config.rows[t];
    colsb_[t] = config.colsb[t];
  }
  std::memset(data_, 0, sizeof(data_));
}

void TileEmulator::release() {
  configured_ = false;
  std::memset(rows_, 0, sizeof(rows_));
  std::memset(colsb_, 0, sizeof(colsb_));
  std::memset(data_, 0, sizeof(data_));
}

bool TileEmulator::valid_tile(int t) const {
  return configured_ && t >= 0 && t < kTiles && rows_[t] > 0;
}

void TileEmulator::load(int t, const void* base, int64_t stride) {
  if (!valid_tile(t)) return fault();
  const auto* src = static_cast<const uint8_t*>(base);
  std::memset(data_[t], 0, sizeof(data_[t]));
  for (int r = 0; r < rows_[t]; ++r) std::memcpy(data_[t][r], src + r * stride, colsb_[t]);
}

void TileEmulator::store(int t, void* base, int64_t stride) const {
  if (!valid_tile(t)) return fault();
  auto* dst = static_cast<uint8_t*>(base);
  for (int r = 0; r < rows_[t]; ++r) std::memcpy(dst + r * stride, data_[t][r], colsb_[t]);
}

void TileEmulator::zero(int t) {
  if (!valid_tile(t)) return fault();
  std::memset(data_[t], 0, sizeof(data_[t]));
}

void TileEmulator::dot_signed_unsigned(int c, int a, int b) {
  // The operand checks of the TDP instructions: distinct tiles whose shapes chain.
  if (!valid_tile(c) || !valid_tile(a) || !valid_tile(b) || c == a || c == b || a == b) {
    return fault();
  }
  const int m_rows = rows_[c];
  const int k_dwords = colsb_[a] / 4;
  const int n_dwords = colsb_[c] / 4;
  if (rows_[a] != m_rows || rows_[b] != k_dwords || colsb_[b] != colsb_[c]) return fault();
  for (int m = 0; m < m_rows; ++m) {
    for (int n = 0; n < n_dwords; ++n) {
      int32_t sum;
      std::memcpy(&sum, &data_[c][m][4 * n], sizeof(sum));
      for (int k = 0; k < k_dwords; ++k) {
        for (int j = 0; j < 4; ++j) {
          const auto x = static_cast<int8_t>(data_[a][m][4 * k + j]);
          const uint8_t y = data_[b][k][4 * n + j];
          // Wrapping like the hardware's 32-bit accumulator, without signed overflow in C++.
          sum = static_cast<int32_t>(static_cast<uint32_t>(sum) +
                                     static_cast<uint32_t>(int32_t{x} * int32_t{y}));
        }
      }
      std::memcpy(&data_[c][m][4 * n], &sum, sizeof(sum));
    }
  }
}

}  // namespace hearth
