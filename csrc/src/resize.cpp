// Crop + antialiased bilinear resize + flip + normalise, the CPU loader's hot loop.
//
// Per (image, band of output rows): each crop row the band needs is widened to float channel
// planes and resampled horizontally just before the first output row that reads it; each output
// row is then resampled vertically over contiguous floats, one channel plane at a time, with the
// normalisation folded into the weights, and stored. Work is split over images and, for small
// batches, row bands. This file holds the ISA-independent part; the inner loops
// (resize_simd.inl) are compiled once per instruction set and picked by isa_in_use().
#include "genrobust/resize.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "genrobust/filter.hpp"
#include "genrobust/float16.hpp"
#include "genrobust/isa.hpp"
#include "genrobust/parallel.hpp"

namespace genrobust::resize_detail {

// Rows are processed in groups of up to this many floats (the widest vector, AVX-512's 16): every
// row buffer is padded so that whole-vector loads and stores of a group never leave it.
constexpr std::int64_t kGroup = 16;

struct Job {
  const ImageU8* images;
  const CropBox* boxes;
  const std::uint8_t* flips;
  std::int64_t out_h, out_w, out_c;
  float scale[3], bias[3];  // per output channel: value = resampled pixel * scale + bias
  OutDType dtype;
  void* out;
  bool stream;  // non-temporal stores for float32 outputs far larger than the caches
};

// One task: output rows [y0, y1) of image `image`, which read crop rows [r0, r1).
struct Band {
  std::int64_t image, y0, y1, r0, r1;
  std::int64_t plane_floats;  // floats per channel of a horizontally resampled row (out_w, padded)
};

// Per-thread buffers, grown on demand and reused across tasks.
struct Scratch {
  FilterTable<float> fx, fy;
  std::vector<float> widened;  // one crop row as floats (the layout is the ISA path's choice)
  std::vector<float> rows;     // the band's resampled rows: [crop row - r0][channel][plane_floats]
  // The horizontal pass's plan per group of output columns (see resize_simd.inl).
  std::vector<std::int32_t> group_base, group_index;
  std::vector<std::uint8_t> group_window;
  std::vector<float> group_weight;
};

}  // namespace genrobust::resize_detail

// The inner loops, once per instruction set. Headers are included above so that only the code in
// resize_simd.inl is compiled for the wider targets (inline functions from headers stay baseline).
#define GR_SIMD_INL "resize_simd.inl"
#include "isa_paths.inl"
#undef GR_SIMD_INL

namespace genrobust {
namespace {

using resize_detail::Band;
using resize_detail::Job;
using resize_detail::kGroup;
using resize_detail::Scratch;

typedef void (*BandFn)(const Job&, const Band&, Scratch&);

BandFn band_function(Isa isa) {
#if defined(GENROBUST_X86_ISA_PATHS)
  if (isa == Isa::Avx512) return resize_detail::avx512::resample_band;
  if (isa == Isa::Avx2) return resize_detail::avx2::resample_band;
#endif
  (void)isa;
  return resize_detail::baseline::resample_band;
}

// Filter tables and buffers for one task; the flip mirrors the column table, which flips the output
// exactly (the filter is symmetric).
Band prepare_band(const Job& job, std::int64_t i, std::int64_t y0, std::int64_t y1, Scratch& s) {
  const CropBox& box = job.boxes[i];
  const std::int64_t out_w = job.out_w;
  triangle_filter(box.width, out_w, s.fx);
  triangle_filter(box.height, job.out_h, s.fy);
  if (job.flips[i]) {
    const std::int64_t t = s.fx.taps;
    for (std::int64_t a = 0, b = out_w - 1; a < b; ++a, --b) {
      std::swap(s.fx.start[a], s.fx.start[b]);
      std::swap_ranges(s.fx.weights.begin() + a * t, s.fx.weights.begin() + (a + 1) * t,
                       s.fx.weights.begin() + b * t);
    }
  }
  // One spare group after the padded width: a row's first, partial group may start before its
  // aligned groups, which then end up to a group later.
  const std::int64_t plane_floats = (out_w + kGroup - 1) / kGroup * kGroup + kGroup;
  Band band{i, y0, y1, s.fy.start[y0], s.fy.start[y1 - 1] + s.fy.taps, plane_floats};
  s.rows.resize((band.r1 - band.r0) * 3 * plane_floats);
  return band;
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
  const BandFn resample_band = band_function(isa_in_use());
  if (n == 0) return;
  const bool stream = dtype == OutDType::Float32 &&
                      n * out_c * out_h * out_w * static_cast<std::int64_t>(sizeof(float)) >= (std::int64_t{32} << 20);
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
  std::exception_ptr error;  // the first task's failure, rethrown unchanged after the parallel region
#pragma omp parallel num_threads(nt)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t t = 0; t < tasks; ++t) {
      const std::int64_t i = t / bands, y0 = (t % bands) * band_rows;
      try {
        resample_band(job, prepare_band(job, i, y0, std::min(out_h, y0 + band_rows), scratch), scratch);
      } catch (...) {  // an exception must not leave an OpenMP region
#pragma omp critical(genrobust_resize_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace genrobust
