// IEEE half (F16) and bfloat16 (BF16) conversions to and from F32, bit-exact and portable.
//
// F32 -> F16/BF16 rounds to nearest, ties to even, like the hardware converters (F16C,
// AVX512-BF16), so a scalar path and a SIMD path produce the same bits. NaN stays NaN (quiet),
// infinities stay infinite, F16 subnormals are produced and read back exactly.
#pragma once

#include <bit>
#include <cstdint>

namespace hearth {

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {  // inf or nan: widen the payload
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in F32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {  // nan: keep the top payload bits and force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  // 65520 is halfway between the largest half (65504) and 2^16; ties-to-even goes up to inf.
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (magnitude >= 0x38800000u) {                // result is a normal half
    uint32_t rebased = magnitude - 0x38000000u;  // exponent bias 127 -> 15
    rebased += 0xFFFu + ((rebased >> 13) & 1u);  // round to nearest even; carries are fine
    return static_cast<uint16_t>(sign | (rebased >> 13));
  }
  // Subnormal half (or zero). Adding 0.5 puts the value's 2^-24 units in the low mantissa
  // bits of a float whose ulp is 2^-24, so the FPU does the round-to-nearest-even for us.
  const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
  return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(shifted) - 0x3F000000u));
}

inline float bf16_to_fp32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {  // nan: truncate and force quiet
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  }
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace hearth
