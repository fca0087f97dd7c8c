// VAE output (NCHW float in [-1, 1]) -> NHWC uint8, bit-exact with diffusers' float32 postprocess.
// This file splits the rows over threads; the row loops (convert_simd.inl) are compiled once per
// instruction set and picked by isa_in_use(). CMakeLists.txt compiles this file with
// -ffp-contract=off: x * 255 must be rounded to float before the rounding-to-integer step.
#include "genrobust/convert.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "genrobust/float16.hpp"
#include "genrobust/isa.hpp"
#include "genrobust/parallel.hpp"

namespace genrobust::convert_detail {
constexpr std::int64_t kChunk = 256;  // pixels per block of the generic path: the channel rows stay in L1
}  // namespace genrobust::convert_detail

#define GR_SIMD_INL "convert_simd.inl"
#include "isa_paths.inl"
#undef GR_SIMD_INL

namespace genrobust {
namespace {

typedef void (*RowsFn)(const void*, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::uint8_t*,
                       std::uint32_t*, float*);

RowsFn rows_function(Isa isa) {
#if defined(GENROBUST_X86_ISA_PATHS)
  if (isa == Isa::Avx512) return convert_detail::avx512::convert_rows;
  if (isa == Isa::Avx2) return convert_detail::avx2::convert_rows;
#endif
  (void)isa;
  return convert_detail::baseline::convert_rows;
}

}  // namespace

void to_uint8(const void* in, bool in_is_half, std::int64_t n, std::int64_t c, std::int64_t h,
              std::int64_t w, std::uint8_t* out, int threads) {
  using convert_detail::kChunk;
  if (n < 0 || c < 1 || h < 0 || w < 0) throw std::invalid_argument("to_uint8: bad shape");
  const RowsFn convert_rows = rows_function(isa_in_use());
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
      const std::int64_t first = i * c * plane + y * w;  // element offset of the row in plane 0
      convert_rows(in, in_is_half, c, plane, first, w, out + (i * plane + y * w) * c, packed.data(),
                   widened.data());
    }
  }
}

}  // namespace genrobust
