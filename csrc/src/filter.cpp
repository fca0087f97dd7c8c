// Antialiased (triangle) resampling weights, as PIL and torch's `antialias=True` compute them.
#include "genrobust/filter.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace genrobust {

template <typename T>
void triangle_filter(std::int64_t in_size, std::int64_t out_size, FilterTable<T>& table) {
  if (in_size < 1 || out_size < 1) throw std::invalid_argument("triangle_filter: sizes must be >= 1");
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // the triangle's support is 1 input pixel, widened when shrinking
  const double inv = 1.0 / filter_scale;
  std::vector<std::int64_t> lo(out_size), count(out_size);
  std::int64_t taps = 1;
  for (std::int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    lo[i] = std::max<std::int64_t>(static_cast<std::int64_t>(center - support + 0.5), 0);
    count[i] = std::min<std::int64_t>(static_cast<std::int64_t>(center + support + 0.5), in_size) - lo[i];
    taps = std::max(taps, count[i]);
  }
  table.taps = taps;
  table.start.assign(out_size, 0);
  table.weights.assign(out_size * taps, T(0));
  std::vector<double> w(taps);
  for (std::int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    double total = 0.0;
    for (std::int64_t k = 0; k < count[i]; ++k) {
      const double x = (static_cast<double>(k + lo[i]) - center + 0.5) * inv;
      w[k] = std::max(0.0, 1.0 - std::fabs(x));
      total += w[k];
    }
    // Shift windows that would run past the end so every window reads `taps` valid inputs.
    const std::int64_t start = std::min(lo[i], in_size - taps);
    const std::int64_t offset = lo[i] - start;
    table.start[i] = static_cast<std::int32_t>(start);
    for (std::int64_t k = 0; k < count[i]; ++k)
      table.weights[i * taps + offset + k] = static_cast<T>(total != 0.0 ? w[k] / total : w[k]);
  }
}

template void triangle_filter<float>(std::int64_t, std::int64_t, FilterTable<float>&);
template void triangle_filter<double>(std::int64_t, std::int64_t, FilterTable<double>&);

}  // namespace genrobust
