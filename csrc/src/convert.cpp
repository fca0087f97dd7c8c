// VAE output (NCHW float in [-1, 1]) -> NHWC uint8, bit-exact with diffusers' float32 postprocess.

// x * 255 must be rounded to float before the rounding-to-integer step: never fuse it into an FMA.
// Not trapping on FP exceptions lets GCC turn the clamps' selects into vector blends (same results).
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "genrobust/float16.hpp"
#include "genrobust/image.hpp"
#include "genrobust/parallel.hpp"

namespace genrobust {
namespace {

// round_half_even(clamp(x * 0.5 + 0.5, 0, 1) * 255) in float32, NaN -> 0. Adding 1.5 * 2^23 rounds
// to an integer (the FPU's default half-to-even mode) and leaves it in the low mantissa bits.
inline std::uint32_t quantize(float x) {
  float t = x * 0.5f + 0.5f;
  t = t > 0.0f ? t : 0.0f;  // also maps NaN to 0
  t = t < 1.0f ? t : 1.0f;
  return float_bits(t * 255.0f + 12582912.0f) & 0xffu;
}

constexpr std::int64_t kChunk = 256;  // pixels per inner block: the channel rows stay in L1

// Row chunk `len` pixels long of `c` planes (stride `plane`) -> interleaved bytes.
void convert_chunk(const float* src, std::int64_t c, std::int64_t plane, std::int64_t len, std::uint8_t* out,
                   std::uint32_t* packed) {
  if (c == 3) {
    const float *r = src, *g = src + plane, *b = src + 2 * plane;
    for (std::int64_t x = 0; x < len; ++x) packed[x] = quantize(r[x]) | quantize(g[x]) << 8 | quantize(b[x]) << 16;
    // 4-byte stores 3 bytes apart: each overwrites only the previous pixel's unused fourth byte.
    for (std::int64_t x = 0; x + 1 < len; ++x) std::memcpy(out + 3 * x, packed + x, 4);
    const std::uint32_t last = packed[len - 1];
    for (int ch = 0; ch < 3; ++ch) out[3 * (len - 1) + ch] = static_cast<std::uint8_t>(last >> (8 * ch));
  } else {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float* s = src + ch * plane;
      for (std::int64_t x = 0; x < len; ++x) packed[x] = quantize(s[x]);
      for (std::int64_t x = 0; x < len; ++x) out[c * x + ch] = static_cast<std::uint8_t>(packed[x]);
    }
  }
}

template <bool Half>
void convert_row(const void* in, std::int64_t c, std::int64_t plane, std::int64_t offset, std::int64_t w,
                 std::uint8_t* dst, std::uint32_t* packed, float* widened) {
  for (std::int64_t x0 = 0; x0 < w; x0 += kChunk) {
    const std::int64_t len = std::min(kChunk, w - x0);
    if (Half) {
      // Widen each plane's chunk to float32 (exact) first; `widened` holds c * kChunk floats.
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const std::uint16_t* h = static_cast<const std::uint16_t*>(in) + ch * plane + offset + x0;
        for (std::int64_t x = 0; x < len; ++x) widened[ch * kChunk + x] = half_to_float(h[x]);
      }
      convert_chunk(widened, c, kChunk, len, dst + x0 * c, packed);
    } else {
      convert_chunk(static_cast<const float*>(in) + offset + x0, c, plane, len, dst + x0 * c, packed);
    }
  }
}

}  // namespace

void to_uint8(const void* in, bool in_is_half, std::int64_t n, std::int64_t c, std::int64_t h,
              std::int64_t w, std::uint8_t* out, int threads) {
  if (n < 0 || c < 1 || h < 0 || w < 0) throw std::invalid_argument("to_uint8: bad shape");
  const std::int64_t rows = n * h, plane = h * w;
  if (rows == 0 || w == 0) return;
  const int nt = threads_for(threads, rows * w * c, 1 << 18);
#pragma omp parallel num_threads(nt)
  {
    std::vector<std::uint32_t> packed(kChunk);
    std::vector<float> widened(in_is_half ? c * kChunk : 0);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t i = r / h, y = r % h;
      const void* image = in_is_half ? static_cast<const void*>(static_cast<const std::uint16_t*>(in) + i * c * plane)
                                     : static_cast<const void*>(static_cast<const float*>(in) + i * c * plane);
      std::uint8_t* dst = out + (i * plane + y * w) * c;
      if (in_is_half)
        convert_row<true>(image, c, plane, y * w, w, dst, packed.data(), widened.data());
      else
        convert_row<false>(image, c, plane, y * w, w, dst, packed.data(), widened.data());
    }
  }
}

}  // namespace genrobust
