#pragma once
// Views of caller-owned uint8 images and crop boxes, shared by the resize and hash kernels.
#include <cstdint>

namespace genrobust {

// A C-contiguous HWC uint8 image (channels 1 or 3).
struct ImageU8 {
  const std::uint8_t* data;
  std::int64_t height;
  std::int64_t width;
  std::int64_t channels;
};

// A crop box (top, left, height, width) inside its image.
struct CropBox {
  std::int64_t top;
  std::int64_t left;
  std::int64_t height;
  std::int64_t width;
};

}  // namespace genrobust
