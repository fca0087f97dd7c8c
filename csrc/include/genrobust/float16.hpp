#pragma once
// IEEE binary16 and bfloat16 conversions, round-to-nearest-even, branch-light so loops vectorise.
#include <cstdint>
#include <cstring>

namespace genrobust {

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// float32 -> float16 bits (RTNE, overflow to inf, NaN stays NaN); after F. Giesen's float_to_half,
// with the three cases computed and selected without branches so conversion loops vectorise.
inline std::uint16_t float_to_half(float value) {
  const std::uint32_t f32_infinity = 255u << 23;
  const std::uint32_t f16_max = (127u + 16u) << 23;
  const std::uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  const std::uint32_t u = float_bits(value);
  const std::uint32_t sign = u & 0x80000000u;
  const std::uint32_t f = u ^ sign;
  const std::uint32_t special = f > f32_infinity ? 0x7e00u : 0x7c00u;
  // Subnormal half: the FPU rounds when a magic number aligns the mantissa.
  const std::uint32_t subnormal = float_bits(bits_float(f) + bits_float(denorm_magic)) - denorm_magic;
  const std::uint32_t normal = (f + (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + ((f >> 13) & 1u)) >> 13;
  const std::uint32_t o = f >= f16_max ? special : (f < (113u << 23) ? subnormal : normal);
  return static_cast<std::uint16_t>(o | (sign >> 16));
}

// float16 bits -> float32 (exact).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (mant << 13));
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// float32 -> bfloat16 bits (RTNE; NaN -> quiet NaN with the same sign).
inline std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t u = float_bits(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace genrobust
