// Elementwise activations of the feed-forward blocks.
//
// silu(x) = x / (1 + exp(-x)). The AVX-512 path evaluates exp with a polynomial that is within
// about one ulp of std::exp (the scalar path, used below AVX-512 and as the reference), so the
// two differ only at float rounding level. A prompt spends more time in exp than in any
// kernel but the matmuls and attention when it is evaluated one float at a time.
#pragma once

#include <cstdint>

namespace hearth {

// up[i] = silu(gate[i]) * up[i]   for i < n
void swiglu_in_place(const float* gate, float* up, int64_t n);
// out[i] = silu(gate[i]) * up[i]  for i < n
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// swiglu per instruction set, for the kernel tables (kernel_table.h); the AVX2 and AVX-512
// ones exist on x86 only and need the table's features.
void swiglu_portable(const float* gate, const float* up, float* out, int64_t n);
void swiglu_avx2(const float* gate, const float* up, float* out, int64_t n);
void swiglu_avx512(const float* gate, const float* up, float* out, int64_t n);

}  // namespace hearth
