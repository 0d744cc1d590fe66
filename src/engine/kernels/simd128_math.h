// WebAssembly SIMD128 helpers shared by the wasm_simd128 kernels: F16 -> F32 widening and a
// vectorized exp. Only compiled when building for wasm with -msimd128.
//
// exp_simd128 is vec_math.h's algorithm (Cody-Waite reduction, the same degree-7 polynomial,
// the exponent added as integer bits in two steps) with separate multiplies and adds where
// x86 fuses them (wasm SIMD128 has no FMA), so it is within a few ulp of the correctly
// rounded result for x in [-87.33, 88.72]; 0 below (and for -inf), +inf above, NaN stays NaN.
#pragma once

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

namespace hearth::simd128 {

// F16 -> F32 works on each half moved to the top 16 bits of a 32-bit lane (`top` = h << 16).
// An arithmetic shift right by 3 puts the half's exponent and mantissa where F32 keeps its own
// lowest exponent bits and mantissa, with the sign still at bit 31; masking off the three
// copies of the sign between them leaves a float that is the half times 2^-112 (exactly: for
// normal and subnormal halves alike), so one multiply by 2^112 finishes it and keeps the sign
// and signed zeros. Wasm never flushes subnormals, so the product is exact.
inline v128_t widen_f16_finite_top(v128_t top) {
  const v128_t moved = wasm_v128_and(wasm_i32x4_shr(top, 3), wasm_i32x4_splat(0x8FFFE000));
  return wasm_f32x4_mul(moved, wasm_f32x4_splat(0x1p112f));
}

// Bit-identical to fp16_to_fp32 for every half: infinities and NaNs (the all-ones exponent,
// which the multiply above would turn into finite numbers) get F32's all-ones exponent with the
// payload widened. The same shift serves both: or-ing in the all-ones exponent also covers
// the sign's three copies, so no mask is needed there.
inline v128_t widen_f16_top(v128_t top) {
  const v128_t inf_nan =
      wasm_i32x4_eq(wasm_v128_and(top, wasm_i32x4_splat(0x7C000000)), wasm_i32x4_splat(0x7C000000));
  const v128_t special = wasm_v128_or(wasm_i32x4_shr(top, 3), wasm_i32x4_splat(0x7F800000));
  return wasm_v128_bitselect(special, widen_f16_finite_top(top), inf_nan);
}

// Four halves in the low 16 bits of each lane.
inline v128_t widen_f16x4(v128_t h) {
  return widen_f16_top(wasm_i32x4_shl(h, 16));
}

// Eight packed halves, moved to the top of their lanes by interleaving with zeros (one shuffle
// per four, which V8 emits as punpck{l,h}wd).
inline v128_t f16x8_low_on_top(v128_t halves) {
  return wasm_i16x8_shuffle(wasm_i16x8_splat(0), halves, 0, 8, 1, 9, 2, 10, 3, 11);
}
inline v128_t f16x8_high_on_top(v128_t halves) {
  return wasm_i16x8_shuffle(wasm_i16x8_splat(0), halves, 4, 12, 5, 13, 6, 14, 7, 15);
}

inline void widen_f16x8(v128_t halves, v128_t* low, v128_t* high) {
  *low = widen_f16_top(f16x8_low_on_top(halves));
  *high = widen_f16_top(f16x8_high_on_top(halves));
}

// Whether any of the eight halves is an infinity or NaN, accumulated cheaply: the running
// maximum of their magnitudes reaches 0x7C00 exactly when one is.
inline v128_t max_f16_magnitude(v128_t running, v128_t halves) {
  return wasm_u16x8_max(running, wasm_v128_and(halves, wasm_i16x8_splat(0x7FFF)));
}
inline bool any_f16_inf_nan(v128_t max_magnitude) {
  return wasm_v128_any_true(wasm_u16x8_gt(max_magnitude, wasm_i16x8_splat(0x7BFF)));
}

inline v128_t exp_simd128(v128_t x) {
  constexpr float kMinArg = -87.33654f;
  constexpr float kMaxArg = 88.72283935f;
  const v128_t xc =
      wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(kMinArg)), wasm_f32x4_splat(kMaxArg));
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(xc, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(xc, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  for (const float c :
       {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}) {
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(c));
  }
  p = wasm_f32x4_add(wasm_f32x4_mul(p, wasm_f32x4_mul(r, r)),
                     wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)));
  // n reaches 128 just below ln(FLT_MAX): 2^min(n, 127), then 2^(n - that), which is 1 or 2.
  const v128_t n1 = wasm_f32x4_min(n, wasm_f32x4_splat(127.0f));
  const v128_t bias = wasm_i32x4_splat(127);
  const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n1), bias), 23);
  const v128_t s2 =
      wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_sub(n, n1)), bias), 23);
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
  y = wasm_v128_bitselect(wasm_f32x4_splat(0.0f), y, wasm_f32x4_lt(x, wasm_f32x4_splat(kMinArg)));
  y = wasm_v128_bitselect(wasm_f32x4_splat(__builtin_inff()), y,
                          wasm_f32x4_gt(x, wasm_f32x4_splat(kMaxArg)));
  return wasm_v128_bitselect(x, y, wasm_f32x4_ne(x, x));
}

}  // namespace hearth::simd128

#endif  // __wasm_simd128__
