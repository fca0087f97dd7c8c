#pragma once
// Perceptual hashes and Hamming nearest neighbours (plain C++, no Python types).
#include <cstdint>

#include "genrobust/image_view.hpp"

namespace genrobust {

// 64-bit DCT hash per image: ITU-R 601 luma (double), antialiased-bilinear resize to 32x32, 2D
// DCT-II (scipy norm=None), the 8x8 lowest frequencies including DC; bit (63 - (8u + v)) is set when
// coefficient (u, v) exceeds the median of the 64 by more than 1e-9 * max |coefficient|.
void phash64(const ImageU8* images, std::int64_t n, std::uint64_t* out, int threads);

// For each query, the k references with the smallest Hamming distance, ascending, ties broken by
// the lower reference index. indices and distances are C-contiguous (nq, k); 1 <= k <= nr.
// variant: 0 = the best that isa_in_use() allows (VPOPCNTDQ under avx512 when the CPU has it, POPCNT
// under avx2, portable under baseline), 1 = portable, 2 = POPCNT, 3 = AVX-512 VPOPCNTDQ (tests pin each).
void hamming_topk(const std::uint64_t* queries, std::int64_t nq, const std::uint64_t* references,
                  std::int64_t nr, std::int64_t k, std::int64_t* indices, std::int32_t* distances,
                  int threads, int variant = 0);

// Whether this CPU has the POPCNT instruction (variant 2) and AVX-512 VPOPCNTDQ (variant 3).
bool has_hardware_popcount();
bool has_avx512_popcount();

}  // namespace genrobust
