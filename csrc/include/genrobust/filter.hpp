#pragma once
// Separable antialiased resampling weights, shared by the resize and hash kernels (filter.cpp).
#include <cstdint>
#include <vector>

namespace genrobust {

// Resampling weights for one axis: output i reads inputs start[i] .. start[i] + taps - 1 with
// weights[i * taps + k]. Every window has the same length (padded with zero weights and shifted to
// stay inside the input) so inner loops have a fixed trip count.
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

}  // namespace genrobust
