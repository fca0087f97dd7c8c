// Crop + antialiased bilinear resize + flip + normalise, the CPU loader's hot loop.
//
// Per (image, band of output rows): each needed source row is widened to float RGBX (one 4-lane
// vector per pixel), resampled horizontally with one vector multiply-add per tap, then the band's
// output rows are resampled vertically over contiguous floats, transposed RGBX -> planar and
// normalised on the way out. Work is split over images and, for small batches, row bands.

// Not trapping on FP exceptions lets GCC vectorise the float16/bfloat16 conversions (same results).
#pragma GCC optimize("no-trapping-math")

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "genrobust/float16.hpp"
#include "genrobust/image.hpp"
#include "genrobust/parallel.hpp"

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

namespace {

typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }

#if defined(__clang__)
#define GR_SHUFFLE(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
typedef int v4i __attribute__((vector_size(16)));
#define GR_SHUFFLE(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, v4i{i0, i1, i2, i3})
#endif

// Horizontal pass of one source row: rgbx (in_w x 4 floats) -> dst (out_w x 4 floats).
template <int T>
void horizontal_fixed(const float* rgbx, const FilterTable<float>& fx, std::int64_t out_w, float* dst) {
  const float* w = fx.weights.data();
  const std::int32_t* start = fx.start.data();
  for (std::int64_t x = 0; x < out_w; ++x) {
    const float* s = rgbx + 4 * static_cast<std::int64_t>(start[x]);
    const float* wx = w + x * T;
    v4f acc = wx[0] * load4(s);
    for (int k = 1; k < T; ++k) acc += wx[k] * load4(s + 4 * k);
    store4(dst + 4 * x, acc);
  }
}

void horizontal_any(const float* rgbx, const FilterTable<float>& fx, std::int64_t out_w, float* dst) {
  const std::int64_t taps = fx.taps;
  for (std::int64_t x = 0; x < out_w; ++x) {
    const float* s = rgbx + 4 * static_cast<std::int64_t>(fx.start[x]);
    const float* wx = fx.weights.data() + x * taps;
    v4f acc = wx[0] * load4(s);
    for (std::int64_t k = 1; k < taps; ++k) acc += wx[k] * load4(s + 4 * k);
    store4(dst + 4 * x, acc);
  }
}

void horizontal(const float* rgbx, const FilterTable<float>& fx, std::int64_t out_w, float* dst) {
  switch (fx.taps) {
    case 1: return horizontal_fixed<1>(rgbx, fx, out_w, dst);
    case 2: return horizontal_fixed<2>(rgbx, fx, out_w, dst);
    case 3: return horizontal_fixed<3>(rgbx, fx, out_w, dst);
    case 4: return horizontal_fixed<4>(rgbx, fx, out_w, dst);
    case 5: return horizontal_fixed<5>(rgbx, fx, out_w, dst);
    case 6: return horizontal_fixed<6>(rgbx, fx, out_w, dst);
    case 7: return horizontal_fixed<7>(rgbx, fx, out_w, dst);
    case 8: return horizontal_fixed<8>(rgbx, fx, out_w, dst);
    default: return horizontal_any(rgbx, fx, out_w, dst);
  }
}

// Four bytes -> four floats (SSE2 unpacks where available; GCC scalarises the generic form).
inline v4f widen4(const std::uint8_t* p) {
#if defined(__SSE2__)
  std::int32_t bits;
  std::memcpy(&bits, p, sizeof bits);
  const __m128i zero = _mm_setzero_si128();
  const __m128i v = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(bits), zero), zero);
  return _mm_cvtepi32_ps(v);
#else
  const v4f v = {float(p[0]), float(p[1]), float(p[2]), float(p[3])};
  return v;
#endif
}

// One crop row of uint8 pixels -> float RGBX (gray is replicated to R, G and B). The fourth lane is
// never output: for RGB it holds the next pixel's red, so each pixel is one 4-byte load and convert.
void widen_row(const std::uint8_t* src, std::int64_t width, std::int64_t channels, float* rgbx) {
  if (channels == 3) {
    for (std::int64_t j = 0; j + 1 < width; ++j) {
      store4(rgbx + 4 * j, widen4(src + 3 * j));
    }
    const std::uint8_t* last = src + 3 * (width - 1);  // a 4-byte load could leave the image
    const v4f tail = {float(last[0]), float(last[1]), float(last[2]), 0.0f};
    store4(rgbx + 4 * (width - 1), tail);
  } else {
    for (std::int64_t j = 0; j < width; ++j) {
      const float v = src[j];
      const v4f px = {v, v, v, v};
      store4(rgbx + 4 * j, px);
    }
  }
}

// Per-thread buffers, grown on demand and reused across tasks.
struct Scratch {
  FilterTable<float> fx, fy;
  std::vector<float> rgbx, rows, plane;
};

struct Job {
  const ImageU8* images;
  const CropBox* boxes;
  const std::uint8_t* flips;
  std::int64_t out_h, out_w, out_c;
  float scale[3], bias[3];
  OutDType dtype;
  void* out;
  bool stream;  // non-temporal stores for float32 outputs
};

// Write one normalised output value row (out_w floats) of channel c in the output dtype.
void store_row(const Job& job, const float* values, std::int64_t offset) {
  const std::int64_t w = job.out_w;
  if (job.dtype == OutDType::Float16) {
    std::uint16_t* dst = static_cast<std::uint16_t*>(job.out) + offset;
    for (std::int64_t x = 0; x < w; ++x) dst[x] = float_to_half(values[x]);
  } else {
    std::uint16_t* dst = static_cast<std::uint16_t*>(job.out) + offset;
    for (std::int64_t x = 0; x < w; ++x) dst[x] = float_to_bfloat16(values[x]);
  }
}

inline void store_out(float* p, v4f v, bool stream) {
#if defined(__SSE2__)
  if (stream) return _mm_stream_ps(p, v);
#endif
  store4(p, v);
}

inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();  // make the non-temporal stores visible before the parallel region ends
#endif
}

// Output pixel x of one row: the vertical taps over the horizontally resampled RGBX rows.
template <int TY>
struct VerticalTaps {
  const float* src;  // the first tap's row
  std::int64_t stride;
  const float* w;
  std::int64_t taps;
  v4f operator()(std::int64_t x) const {
    const float* p = src + 4 * x;
    v4f acc = w[0] * load4(p);
    const std::int64_t n = TY > 0 ? TY : taps;
    for (std::int64_t k = 1; k < n; ++k) acc += w[k] * load4(p + k * stride);
    return acc;
  }
};

// One output row: vertical sums, RGBX -> planar transpose and normalisation in registers.
template <typename Pixel>
void emit_row(const Job& job, const Pixel& pixel, std::int64_t image, std::int64_t y, Scratch& s) {
  const std::int64_t w = job.out_w, plane = job.out_h * w;
  const std::int64_t base = image * job.out_c * plane + y * w;
  const bool direct = job.dtype == OutDType::Float32;
  float* dst[3] = {nullptr, nullptr, nullptr};
  for (std::int64_t c = 0; c < job.out_c; ++c)
    dst[c] = direct ? static_cast<float*>(job.out) + base + c * plane : s.plane.data() + c * w;
  // A batch far larger than the caches is written around them (when the rows are 16-byte aligned).
  bool stream = direct && job.stream;
  for (std::int64_t c = 0; c < job.out_c; ++c) stream = stream && reinterpret_cast<std::uintptr_t>(dst[c]) % 16 == 0;
  std::int64_t x = 0;
  if (job.out_c == 3) {
    const v4f sr = {job.scale[0], job.scale[0], job.scale[0], job.scale[0]};
    const v4f br = {job.bias[0], job.bias[0], job.bias[0], job.bias[0]};
    const v4f sg = {job.scale[1], job.scale[1], job.scale[1], job.scale[1]};
    const v4f bg = {job.bias[1], job.bias[1], job.bias[1], job.bias[1]};
    const v4f sb = {job.scale[2], job.scale[2], job.scale[2], job.scale[2]};
    const v4f bb = {job.bias[2], job.bias[2], job.bias[2], job.bias[2]};
    for (; x + 4 <= w; x += 4) {
      const v4f p0 = pixel(x), p1 = pixel(x + 1), p2 = pixel(x + 2), p3 = pixel(x + 3);
      const v4f t0 = GR_SHUFFLE(p0, p1, 0, 4, 1, 5);  // r0 r1 g0 g1
      const v4f t1 = GR_SHUFFLE(p2, p3, 0, 4, 1, 5);  // r2 r3 g2 g3
      const v4f t2 = GR_SHUFFLE(p0, p1, 2, 6, 3, 7);  // b0 b1 . .
      const v4f t3 = GR_SHUFFLE(p2, p3, 2, 6, 3, 7);  // b2 b3 . .
      store_out(dst[0] + x, GR_SHUFFLE(t0, t1, 0, 1, 4, 5) * sr + br, stream);
      store_out(dst[1] + x, GR_SHUFFLE(t0, t1, 2, 3, 6, 7) * sg + bg, stream);
      store_out(dst[2] + x, GR_SHUFFLE(t2, t3, 0, 1, 4, 5) * sb + bb, stream);
    }
  }
  for (; x < w; ++x) {
    const v4f p = pixel(x);
    for (std::int64_t c = 0; c < job.out_c; ++c) dst[c][x] = p[c] * job.scale[c] + job.bias[c];
  }
  if (!direct)
    for (std::int64_t c = 0; c < job.out_c; ++c) store_row(job, dst[c], base + c * plane);
}

template <int TY>
void emit_rows(const Job& job, std::int64_t image, std::int64_t y0, std::int64_t y1, std::int64_t r0, Scratch& s) {
  const std::int64_t row_floats = 4 * job.out_w, ty = s.fy.taps;
  for (std::int64_t y = y0; y < y1; ++y) {
    const VerticalTaps<TY> pixel{s.rows.data() + (s.fy.start[y] - r0) * row_floats, row_floats,
                                 s.fy.weights.data() + y * ty, ty};
    emit_row(job, pixel, image, y, s);
  }
}

void run_band(const Job& job, std::int64_t i, std::int64_t y0, std::int64_t y1, Scratch& s) {
  const ImageU8& im = job.images[i];
  const CropBox& box = job.boxes[i];
  const std::int64_t out_w = job.out_w;
  triangle_filter(box.width, out_w, s.fx);
  triangle_filter(box.height, job.out_h, s.fy);
  if (job.flips[i]) {
    // Mirroring the column table flips the output exactly (the filter is symmetric).
    const std::int64_t t = s.fx.taps;
    for (std::int64_t a = 0, b = out_w - 1; a < b; ++a, --b) {
      std::swap(s.fx.start[a], s.fx.start[b]);
      std::swap_ranges(s.fx.weights.begin() + a * t, s.fx.weights.begin() + (a + 1) * t,
                       s.fx.weights.begin() + b * t);
    }
  }
  const std::int64_t ty = s.fy.taps;
  const std::int64_t r0 = s.fy.start[y0], r1 = s.fy.start[y1 - 1] + ty;
  const std::int64_t row_floats = 4 * out_w;
  s.rgbx.resize(4 * box.width);
  s.rows.resize((r1 - r0) * row_floats);
  s.plane.resize(3 * out_w);
  const std::int64_t stride = im.width * im.channels;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint8_t* src = im.data + (box.top + r) * stride + box.left * im.channels;
    widen_row(src, box.width, im.channels, s.rgbx.data());
    horizontal(s.rgbx.data(), s.fx, out_w, s.rows.data() + (r - r0) * row_floats);
  }
  switch (ty) {
    case 1: emit_rows<1>(job, i, y0, y1, r0, s); break;
    case 2: emit_rows<2>(job, i, y0, y1, r0, s); break;
    case 3: emit_rows<3>(job, i, y0, y1, r0, s); break;
    case 4: emit_rows<4>(job, i, y0, y1, r0, s); break;
    case 5: emit_rows<5>(job, i, y0, y1, r0, s); break;
    case 6: emit_rows<6>(job, i, y0, y1, r0, s); break;
    default: emit_rows<0>(job, i, y0, y1, r0, s); break;
  }
  stream_fence();
}

void check_inputs(const ImageU8* images, const CropBox* boxes, std::int64_t n, std::int64_t out_h,
                  std::int64_t out_w, std::int64_t out_c) {
  if (n < 0 || out_h < 1 || out_w < 1 || (out_c != 1 && out_c != 3))
    throw std::invalid_argument("crop_resize_normalize: bad batch, output size or channel count");
  for (std::int64_t i = 0; i < n; ++i) {
    const ImageU8& im = images[i];
    const CropBox& b = boxes[i];
    if (im.data == nullptr || (im.channels != 1 && im.channels != 3) || (out_c == 1 && im.channels != 1))
      throw std::invalid_argument("crop_resize_normalize: image " + std::to_string(i) + " has a bad channel count");
    if (b.top < 0 || b.left < 0 || b.height < 1 || b.width < 1 || b.top + b.height > im.height ||
        b.left + b.width > im.width)
      throw std::invalid_argument("crop_resize_normalize: box " + std::to_string(i) + " is outside its image");
  }
}

}  // namespace

void crop_resize_normalize(const ImageU8* images, const CropBox* boxes, const std::uint8_t* flips,
                           std::int64_t n, std::int64_t out_h, std::int64_t out_w, std::int64_t out_c,
                           const float* mean, const float* std, OutDType dtype, void* out, int threads) {
  check_inputs(images, boxes, n, out_h, out_w, out_c);
  if (n == 0) return;
  const bool stream = n * out_c * out_h * out_w * static_cast<std::int64_t>(sizeof(float)) >= (std::int64_t{32} << 20);
  Job job{images, boxes, flips, out_h, out_w, out_c, {0, 0, 0}, {0, 0, 0}, dtype, out, stream};
  for (std::int64_t c = 0; c < out_c; ++c) {
    job.scale[c] = static_cast<float>(1.0 / (255.0 * std[c]));
    job.bias[c] = static_cast<float>(-static_cast<double>(mean[c]) / std[c]);
  }
  const int nt = threads_for(threads, n * out_h * out_w * out_c, 1 << 16);
  // Enough tasks to balance uneven crops: whole images for big batches, row bands for small ones.
  std::int64_t bands = 1;
  if (n < 4 * nt) bands = std::min<std::int64_t>((4 * nt + n - 1) / n, std::max<std::int64_t>(1, out_h / 16));
  const std::int64_t band_rows = (out_h + bands - 1) / bands;
  bands = (out_h + band_rows - 1) / band_rows;
  const std::int64_t tasks = n * bands;
  bool failed = false;
#pragma omp parallel num_threads(nt)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t t = 0; t < tasks; ++t) {
      const std::int64_t i = t / bands, y0 = (t % bands) * band_rows;
      try {
        run_band(job, i, y0, std::min(out_h, y0 + band_rows), scratch);
      } catch (...) {  // only allocation can fail here; report it after the parallel region
#pragma omp atomic write
        failed = true;
      }
    }
  }
  if (failed) throw std::bad_alloc();
}

}  // namespace genrobust
