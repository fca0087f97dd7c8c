#pragma once
// VAE output -> uint8 images (convert.cpp).
#include <cstdint>

namespace genrobust {

// NCHW float in [-1, 1] -> NHWC uint8: round_half_even(clamp(x * 0.5 + 0.5, 0, 1) * 255) in float32
// (diffusers' postprocess); NaN -> 0. `in_is_half` reads IEEE float16 bits instead of float32.
// The inner loops run on the instruction set isa_in_use() names; every path gives the same bytes.
void to_uint8(const void* in, bool in_is_half, std::int64_t n, std::int64_t c, std::int64_t h,
              std::int64_t w, std::uint8_t* out, int threads);

}  // namespace genrobust
