// Kernel tables: what each instruction set contributes, and the choice of one at run time.
//
// The binary is built for the baseline of its architecture; SIMD kernels carry their own
// target attributes and may only run on a CPU (and OS) with the features their table requires
// (platform/cpu_features.h). Each instruction set has one KernelTable, defined in the file
// that implements its row-dot kernels. The registry (kernel_table.cpp) lists the tables in
// order of preference, and the first one the CPU can run is used: callers ask it for a
// capability (`active_kernels().interleaved_weights`) or a kernel instead of comparing levels.
//
// HEARTH_KERNELS=<table name> (scalar|avx2|avx512|avx512bf16|amx on x86, wasm_simd128 in wasm)
// starts the search at that table, e.g. to test every path on one machine; a table the CPU cannot
// run falls to the next one it can, and an unknown name is ignored.
//
// Thread-safety: tables are immutable; active_kernels() chooses once and is safe to call from
// any thread. Tables live for the whole program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/quant_dot.h"
#include "engine/platform/cpu_features.h"
#include "engine/tensor/types.h"

namespace hearth {

class ThreadPool;
struct WeightMatrix;
namespace attn {
struct TileSpan;
}

using QuantizeActivationFn = void (*)(ActivationFormat format, const float* x, void* dst,
                                      int64_t n);
using GemmFn = bool (*)(const WeightMatrix& w, const float* in, int64_t n_tokens, float* out,
                        ThreadPool* pool);
using GemmManyFn = bool (*)(std::span<const WeightMatrix* const> ws, const float* in,
                            int64_t n_tokens, std::span<float* const> outs, ThreadPool* pool);
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
using CopyFiniteFn = void (*)(const float* in, float* out, int64_t n);
using MaxValueFn = float (*)(const float* x, int64_t n);
using ExpShiftedFn = double (*)(const float* x, int64_t n, float shift, float scale, float* out);
using AttendTileFn = void (*)(const attn::TileSpan& span);

// One instruction set's kernels. Whole-call entries (quantizer, GEMM, element-wise, attention)
// are complete in every table: a table names the lower tables' functions where it adds
// nothing. Per-type lookups (row dots, interleaved dots) return null for types the table has
// no kernel of, and the search goes on in `fallback`, so a table only lists what it adds.
struct KernelTable {
  std::string_view name;                  // what HEARTH_KERNELS, logs and benchmarks call it
  CpuFeatures required;                   // every feature set here must be present on the CPU
  const KernelTable* fallback = nullptr;  // per-type kernels it lacks; null only for portable
  bool (*self_test)() = nullptr;          // when set, must pass before the table is chosen

  // Row dots (quant_dot.h) for weights in the file's layout; null: the fallback's.
  RowDotFn (*row_dot)(TensorType weight_type) = nullptr;
  // BF16 weights take BF16 activations (vdpbf16ps); row_dot(BF16) must expect them.
  bool bf16_activations = false;
  // Activation rows for the row dots and interleaved dots, bit-identical to the portable
  // quantize_activation_row in every format.
  QuantizeActivationFn quantize_activation_row = nullptr;
  // Four rows at once (RowDot4Fn, quant_dot.h) for calls of at least row_dot_4rows_min_tokens
  // tokens, with activations in the format of the table's row dots; null (or null for the
  // type): row by row. Not looked up in the fallback, whose row dots may round differently.
  RowDot4Fn (*row_dot_4rows)(TensorType weight_type) = nullptr;
  int row_dot_4rows_min_tokens = 1;

  // The model loader rewrites integer matrices into the interleaved layout
  // (interleave_layout.h) because this table's kernels read it faster.
  bool interleaved_weights = false;
  // Dots over interleaved 16-row groups; null: the fallback's.
  InterleavedDotFn (*interleaved_dot)(TensorType weight_type) = nullptr;

  // The prompt GEMM (gemm.h) for calls with enough tokens: false, touching nothing, when it
  // has no kernel for the matrix, and matmul then uses the row dots. Null: no GEMM.
  GemmFn gemm = nullptr;
  // Several matrices sharing one input (q/k/v, gate/up) in one GEMM; null: one by one.
  GemmManyFn gemm_many = nullptr;

  // Element-wise work (activation.h, vector_ops.h).
  SwigluFn swiglu = nullptr;
  CopyFiniteFn copy_finite = nullptr;
  MaxValueFn max_value = nullptr;
  ExpShiftedFn exp_shifted = nullptr;

  // One attention tile (attention_tile.h).
  AttendTileFn attend_tile = nullptr;
};

// The tables, each defined next to its kernels. Only those of the architecture being built
// exist; use them through the registry below.
extern const KernelTable kPortableKernels;     // quant_dot_scalar.cpp, "scalar"
extern const KernelTable kAvx2Kernels;         // quant_dot_avx2.cpp
extern const KernelTable kAvx512Kernels;       // quant_dot_avx512.cpp (F/BW/VL/VNNI)
extern const KernelTable kAvx512Bf16Kernels;   // quant_dot_bf16_avx512.cpp
extern const KernelTable kAmxKernels;          // gemm_amx.cpp
extern const KernelTable kWasmSimd128Kernels;  // quant_dot_wasm_simd128.cpp (wasm, -msimd128)

// Every table built for this architecture, most preferred first; the portable one is last.
std::span<const KernelTable* const> kernel_tables();
// The registered table of that name, or null.
const KernelTable* find_kernels(std::string_view name);
// The first table, from `start` on in preference order (from the first when null), whose
// required features `features` has; the portable table at worst. Runs no self-test.
const KernelTable& best_kernels(const CpuFeatures& features, const KernelTable* start = nullptr);
// The registered table called `name` when this CPU has its features, else null (tests and
// benchmarks compare the tables the CPU can run). Runs no self-test.
const KernelTable* runnable_kernels(std::string_view name);
// best_kernels(cpu_features()) from $HEARTH_KERNELS on, chosen once; a table whose self-test
// fails is passed over with a warning on stderr (AMX, see gemm.h's amx_self_test).
const KernelTable& active_kernels();

}  // namespace hearth
