#pragma once
// Crop + antialiased resize + flip + normalise (resize.cpp). Callers validate arguments; the
// kernel re-checks what protects memory (channel counts, crop bounds) and throws
// std::invalid_argument otherwise.
#include <cstdint>

#include "genrobust/image_view.hpp"

namespace genrobust {

enum class OutDType { Float32, Float16, BFloat16 };

// images[i] cropped to boxes[i], resized to out_h x out_w (antialiased bilinear), flipped
// horizontally where flips[i] != 0, then (x / 255 - mean[c]) / std[c], written to `out` as a
// C-contiguous (n, out_c, out_h, out_w) array of `dtype` (bfloat16 as its uint16 bit pattern).
// out_c is 1 or 3; a 1-channel image with out_c == 3 is replicated to the three channels.
// The inner loops run on the instruction set isa_in_use() names.
void crop_resize_normalize(const ImageU8* images, const CropBox* boxes, const std::uint8_t* flips,
                           std::int64_t n, std::int64_t out_h, std::int64_t out_w, std::int64_t out_c,
                           const float* mean, const float* std, OutDType dtype, void* out, int threads);

}  // namespace genrobust
