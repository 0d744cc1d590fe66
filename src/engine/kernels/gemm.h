// Blocked matrix products for prompt processing: many tokens against one weight matrix.
// Internal to the kernels module; matmul() routes here when a call has enough tokens.
//
// The row-dot kernels (quant_dot.h) decode every weight block once per tile of up to four
// tokens, which wastes most of the work on decoding once a prompt has hundreds of tokens.
// The GEMM path instead decodes a tile of weight rows once into unsigned 8-bit codes with
// float scales, repacks the quantized activations so one vector holds 16 tokens, and runs a
// register-blocked micro-kernel (rows x 16-token vectors of int32 accumulators). The integer
// sums per weight scale group are exact, and activations are quantized exactly as the
// row-dot path does, so results differ from the scalar kernels only by float rounding order.
#pragma once

#include <cstdint>
#include <span>

namespace hearth {

class ThreadPool;
struct WeightMatrix;

// Below this many tokens the row-dot kernels win: a 16-token vector would be mostly padding,
// and decode (1 token) is bound by weight bandwidth, which both paths stream once. Measured
// with `hearth bench -p 2,3,4,6` on qwen2.5-0.5b Q8_0 (Zen 4, AVX-512): the AVX-512 GEMM
// passes the row dots between 4 tokens (0.9x) and 6 (1.25x). The AVX2 GEMM was measured from
// 8 tokens, where it wins for every type.
inline constexpr int64_t kGemmMinTokens = 5;
inline constexpr int64_t kAvx2GemmMinTokens = 8;

// AVX-512 (F/BW/VL/VNNI) GEMM. Returns false, touching nothing, when the weight type has no
// GEMM kernel; the caller then uses the row-dot path.
bool avx512_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                 ThreadPool* pool);

// AVX512-BF16 GEMM for BF16 weights (gemm_bf16_avx512.cpp); false, touching nothing, for
// other types and layouts. Activations are rounded to BF16 as the row-dot path of that level
// rounds them.
bool avx512bf16_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                     ThreadPool* pool);

// Matrices sharing one input (q/k/v, gate/up) in one call: the activations are quantized once.
inline constexpr size_t kMaxGemmMatrices = 4;
// False, touching nothing, unless all of ws have one GEMM-capable type and one column count
// (and, for float weights, there is a single matrix).
bool avx512_gemm_many(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                      std::span<float* const> outs, ThreadPool* pool);

// AMX GEMM (gemm_amx.cpp) for interleaved integer weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q4_K, Q5_K, Q6_K): false, touching nothing, for other types, other layouts, or matrices
// that differ in type or column count. Only in the amx kernel table. Results are bit-identical to
// avx512_gemm_many's on the same matrices.
bool amx_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
              ThreadPool* pool);
bool amx_gemm_many(std::span<const WeightMatrix* const> ws, const float* in, int64_t n_tokens,
                   std::span<float* const> outs, ThreadPool* pool);
// The same kernel over amx_emulator.h's tile model instead of the tile registers: it needs
// AVX-512 only, and is how the AMX GEMM is tested on CPUs without AMX. Slow; for tests.
bool amx_gemm_many_emulated(std::span<const WeightMatrix* const> ws, const float* in,
                            int64_t n_tokens, std::span<float* const> outs, ThreadPool* pool);
// Checks the tile registers against the model (one product of each tile shape the AMX GEMM
// configures) and the AMX GEMM against the AVX-512 GEMM, bit for bit, on small random
// matrices of three formats. Only on a CPU with AMX-TILE + AMX-INT8 whose OS granted the tile
// state (platform/cpu_features.h); active_kernels() only picks the amx table when it passes.
// About a millisecond.
bool amx_self_test();
// The same checks with the model in place of the registers (any AVX-512 CPU; for tests).
bool amx_self_test_emulated();

// AVX2 + FMA + F16C GEMM, for the same types and with the same contract as avx512_gemm; for
// F32/F16/BF16 weights it also returns false for fewer than kAvx2FloatGemmMinTokens tokens
// or rows longer than kAvx2FloatGemmMaxCols, where the row dots are faster.
inline constexpr int64_t kAvx2FloatGemmMinTokens = 32;
inline constexpr int64_t kAvx2FloatGemmMaxCols = 2048;
bool avx2_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
               ThreadPool* pool);

// WebAssembly SIMD128 GEMM (gemm_wasm_simd128.cpp, only in wasm builds with -msimd128) for F32
// and F16 weights in the file's layout: false, touching nothing, for other types or layouts
// and for fewer than kWasmFloatGemmMinTokens tokens, where the row dots are as fast. Results
// differ from the row dots' by float rounding order only.
inline constexpr int64_t kWasmFloatGemmMinTokens = 8;
bool wasm_simd128_gemm(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                       ThreadPool* pool);

}  // namespace hearth
