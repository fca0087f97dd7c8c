#pragma once
// Plain C++ image kernels (no Python types): crop + antialiased resize + normalize, and the
// VAE-output conversion to uint8. Callers validate arguments; these functions re-check only what
// protects memory (sizes and crop bounds) and throw std::invalid_argument otherwise.
#include <cstddef>
#include <cstdint>
#include <vector>

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

enum class OutDType { Float32, Float16, BFloat16 };

// Separable resampling weights for one axis: output i reads inputs start[i] .. start[i] + taps - 1
// with weights[i * taps + k]. Every window has the same length (padded with zero weights and
// shifted to stay inside the input) so inner loops have a fixed trip count.
template <typename T>
struct FilterTable {
  std::int64_t taps = 0;
  std::vector<std::int32_t> start;
  std::vector<T> weights;
};

// PIL / torch `antialias=True` bilinear weights: a triangle filter whose support grows with the
// downscale factor, window [int(c - s + 0.5), int(c + s + 0.5)) clipped to the input and normalised.
// The weights are computed in double and rounded to T once.
template <typename T>
void triangle_filter(std::int64_t in_size, std::int64_t out_size, FilterTable<T>& table);

// images[i] cropped to boxes[i], resized to out_h x out_w (antialiased bilinear), flipped
// horizontally where flips[i] != 0, then (x / 255 - mean[c]) / std[c], written to `out` as a
// C-contiguous (n, out_c, out_h, out_w) array of `dtype` (bfloat16 as its uint16 bit pattern).
// out_c is 1 or 3; a 1-channel image with out_c == 3 is replicated to the three channels.
void crop_resize_normalize(const ImageU8* images, const CropBox* boxes, const std::uint8_t* flips,
                           std::int64_t n, std::int64_t out_h, std::int64_t out_w, std::int64_t out_c,
                           const float* mean, const float* std, OutDType dtype, void* out, int threads);

// NCHW float in [-1, 1] -> NHWC uint8: round_half_even(clamp(x * 0.5 + 0.5, 0, 1) * 255) in float32
// (diffusers' postprocess); NaN -> 0. `in_is_half` reads IEEE float16 bits instead of float32.
void to_uint8(const void* in, bool in_is_half, std::int64_t n, std::int64_t c, std::int64_t h,
              std::int64_t w, std::uint8_t* out, int threads);

}  // namespace genrobust
