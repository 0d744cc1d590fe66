// A software model of the AMX tile state and of the instructions the AMX GEMM uses
// (LDTILECFG, TILELOADD, TILESTORED, TILEZERO, TDPBSUD, TILERELEASE), written from the
// instructions' documented operation. The AMX GEMM is a template over its tile operations:
// instantiated over this model, its packing, decoding, tile shapes and epilogue run (and are
// tested) on any AVX-512 machine; over the tile registers, only on CPUs with AMX. On such a
// CPU, amx_self_test() (gemm.h) checks the registers against this model, and the real kernel
// against the AVX-512 GEMM, before AMX is chosen, so the model is the contract between the two.
//
// Thread-safety: a TileEmulator is one thread's tile state, like the registers it models;
// fault_count() is global and atomic.
#pragma once

#include <cstdint>

namespace hearth {

// The 64-byte operand of LDTILECFG: palette 1 has 8 tiles of up to 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette_id = 0;
  uint8_t start_row = 0;
  uint8_t reserved_a[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tile i (only 0..7 exist in palette 1)
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

inline constexpr int kTiles = 8;
inline constexpr int kTileMaxRows = 16;
inline constexpr int kTileMaxColsb = 64;

class TileEmulator {
 public:
  // Where the hardware would fault (#GP on a bad configuration, #UD on a bad operand shape or
  // a tile instruction before a configuration), the model leaves its state unchanged and
  // counts a fault instead; tests require the count to stay zero.
  static int64_t fault_count();

  void configure(const TileConfig& config);
  void release();  // back to the unconfigured init state, tiles zeroed
  bool configured() const { return configured_; }

  // Row r of tile t from base + r * stride (colsb bytes); bytes and rows past the tile's
  // shape read as zero afterwards.
  void load(int t, const void* base, int64_t stride);
  void store(int t, void* base, int64_t stride) const;
  void zero(int t);
  // TDPBSUD: c[m] dword n += sum over k, j of int8(a[m] byte 4 k + j) * uint8(b[k] byte 4 n
  // + j), for m < c.rows, k < a.colsb / 4, n < c.colsb / 4.
  void dot_signed_unsigned(int c, int a, int b);

 private:
  bool valid_tile(int t) const;

  bool configured_ = false;
  uint8_t rows_[kTiles] = {};
  uint16_t colsb_[kTiles] = {};
  alignas(64) uint8_t data_[kTiles][kTileMaxRows][kTileMaxColsb] = {};
};

}  // namespace hearth
