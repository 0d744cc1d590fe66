// Whole-vector float operations over a vocabulary of logits (the sampler's per-token work),
// vectorized where the CPU allows: a 150k-token vocabulary read one float at a time took about
// a millisecond per sampled token, a tenth of a small model's decoding step.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace hearth {

// out[i] = in[i], with NaN replaced by -infinity (a broken model's NaN must never win).
void copy_finite(const float* in, float* out, int64_t n);

// The largest of x[0..n) (-infinity when n == 0); x holds no NaN.
float max_value(const float* x, int64_t n);

// out[i] = exp((x[i] - shift) * scale) for i < n, and their sum. The AVX-512 path is within
// 2 ulp of std::exp per element (kernels/vec_math.h) and gives 0 below float's normal range;
// the sum is accumulated in double either way.
double exp_shifted(const float* x, int64_t n, float shift, float scale, float* out);

// The same per instruction set, for the kernel tables (kernel_table.h); the AVX-512 ones
// exist on x86 only and need that table's features.
void copy_finite_portable(const float* in, float* out, int64_t n);
float max_value_portable(const float* x, int64_t n);
double exp_shifted_portable(const float* x, int64_t n, float shift, float scale, float* out);
void copy_finite_avx512(const float* in, float* out, int64_t n);
float max_value_avx512(const float* x, int64_t n);
double exp_shifted_avx512(const float* x, int64_t n, float shift, float scale, float* out);

}  // namespace hearth
