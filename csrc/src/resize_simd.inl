// The inner loops of crop_resize_normalize for one instruction set. resize.cpp includes this file
// once per set, inside a `#pragma GCC target` region, with GR_ISA_NS naming the namespace and
// GR_ISA_LEVEL 0 (baseline: SSE2 on x86-64, plain C++ elsewhere), 1 (AVX2 + FMA + F16C) or 2
// (AVX-512). There is no include guard on purpose; everything here lives in GR_ISA_NS so the copies
// never meet at link time.

namespace genrobust::resize_detail::GR_ISA_NS {

#if GR_ISA_LEVEL == 2
constexpr int W = 16;  // floats per vector
#elif GR_ISA_LEVEL == 1
constexpr int W = 8;
#else
constexpr int W = 4;
#endif
static_assert(kGroup % W == 0, "row padding must hold whole vectors");

typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef std::int32_t vi __attribute__((vector_size(W * sizeof(float))));
typedef std::uint32_t vu __attribute__((vector_size(W * sizeof(float))));
typedef std::uint16_t vh __attribute__((vector_size(W * sizeof(std::uint16_t))));
typedef float v4f __attribute__((vector_size(16)));

inline vf loadv(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }

// The four RGBX lane values repeated across a vector.
inline vf rgbx_pattern(const float* lanes) {
  vf v;
  for (int i = 0; i < W; ++i) v[i] = lanes[i % 4];
  return v;
}

// One crop row of uint8 pixels -> float RGBX (gray is replicated to every lane). The X lane is never
// output; it holds whatever is cheapest to produce.
void widen_row(const std::uint8_t* src, std::int64_t width, std::int64_t channels, float* rgbx) {
  std::int64_t j = 0;
  if (channels == 3) {
#if GR_ISA_LEVEL >= 1
    // Four pixels per step: a 16-byte load (12 used, so it stays inside the row while j + 6 <= width),
    // bytes spread to R G B 0 groups, widened to 16 floats.
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    for (; j + 6 <= width; j += 4) {
      const __m128i px = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * j)), spread);
#if GR_ISA_LEVEL == 2
      _mm512_storeu_ps(rgbx + 4 * j, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(px)));
#else
      _mm256_storeu_ps(rgbx + 4 * j, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(px)));
      _mm256_storeu_ps(rgbx + 4 * j + 8, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(px, 8))));
#endif
    }
#elif defined(__SSE2__)
    // One pixel per step: a 4-byte load (the fourth byte is the next pixel's red) unpacked to floats.
    const __m128i zero = _mm_setzero_si128();
    for (; j + 2 <= width; ++j) {
      std::int32_t bits;
      std::memcpy(&bits, src + 3 * j, sizeof bits);
      const __m128i v = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(bits), zero), zero);
      _mm_storeu_ps(rgbx + 4 * j, _mm_cvtepi32_ps(v));
    }
#endif
    for (; j < width; ++j) {
      const std::uint8_t* p = src + 3 * j;
      const v4f px = {float(p[0]), float(p[1]), float(p[2]), 0.0f};
      store4(rgbx + 4 * j, px);
    }
  } else {
    for (; j < width; ++j) {
      const float v = src[j];
      const v4f px = {v, v, v, v};
      store4(rgbx + 4 * j, px);
    }
  }
}

// Horizontal pass of one widened row: rgbx (crop width x 4 floats) -> dst (out_w x 4 floats), one
// 4-lane multiply-add per tap, then zeros up to `row_floats` so vector reads of the padding stay finite.
template <int T>
void horizontal(const float* rgbx, const FilterTable<float>& fx, std::int64_t out_w, std::int64_t row_floats,
                float* dst) {
  const std::int64_t taps = T > 0 ? T : fx.taps;
  const float* w = fx.weights.data();
  const std::int32_t* start = fx.start.data();
  for (std::int64_t x = 0; x < out_w; ++x) {
    const float* s = rgbx + 4 * static_cast<std::int64_t>(start[x]);
    const float* wx = w + x * taps;
    v4f acc = wx[0] * load4(s);
    for (std::int64_t k = 1; k < taps; ++k) acc += wx[k] * load4(s + 4 * k);
    store4(dst + 4 * x, acc);
  }
  std::memset(dst + 4 * out_w, 0, (row_floats - 4 * out_w) * sizeof(float));
}

void horizontal_row(const float* rgbx, const FilterTable<float>& fx, std::int64_t out_w, std::int64_t row_floats,
                    float* dst) {
  switch (fx.taps) {
    case 1: return horizontal<1>(rgbx, fx, out_w, row_floats, dst);
    case 2: return horizontal<2>(rgbx, fx, out_w, row_floats, dst);
    case 3: return horizontal<3>(rgbx, fx, out_w, row_floats, dst);
    case 4: return horizontal<4>(rgbx, fx, out_w, row_floats, dst);
    case 5: return horizontal<5>(rgbx, fx, out_w, row_floats, dst);
    case 6: return horizontal<6>(rgbx, fx, out_w, row_floats, dst);
    default: return horizontal<0>(rgbx, fx, out_w, row_floats, dst);
  }
}

// Four RGBX vectors (W pixels) -> one vector per channel: pairs of vectors are split into red/green
// and blue/X halves, then the halves of the two pairs are joined.
inline void deinterleave(const vf p[4], vf ch[3]) {
#if GR_ISA_LEVEL == 2
  const vi pick_rg = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
  const vi pick_bx = {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
  const vi low = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
  const vi high = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
#elif GR_ISA_LEVEL == 1
  const vi pick_rg = {0, 4, 8, 12, 1, 5, 9, 13};
  const vi pick_bx = {2, 6, 10, 14, 3, 7, 11, 15};
  const vi low = {0, 1, 2, 3, 8, 9, 10, 11};
  const vi high = {4, 5, 6, 7, 12, 13, 14, 15};
#else
  const vi pick_rg = {0, 4, 1, 5};
  const vi pick_bx = {2, 6, 3, 7};
  const vi low = {0, 1, 4, 5};
  const vi high = {2, 3, 6, 7};
#endif
  const vf rg0 = __builtin_shuffle(p[0], p[1], pick_rg), rg1 = __builtin_shuffle(p[2], p[3], pick_rg);
  const vf bx0 = __builtin_shuffle(p[0], p[1], pick_bx), bx1 = __builtin_shuffle(p[2], p[3], pick_bx);
  ch[0] = __builtin_shuffle(rg0, rg1, low);
  ch[1] = __builtin_shuffle(rg0, rg1, high);
  ch[2] = __builtin_shuffle(bx0, bx1, low);
}

// Output pixels x .. x + W - 1 of one row, per channel: the vertical taps over the RGBX rows with
// the normalisation folded into the weights (wv[k] = wy[k] * scale per lane), then transposed. With
// TY == 0 (many taps) the folded weights are formed on the fly instead of being held in registers.
template <int TY>
inline void output_group(const float* src, std::int64_t stride, const vf* wv, const float* wy, std::int64_t ty,
                         vf scale, vf bias, std::int64_t x, vf ch[3]) {
  vf p[4];
  for (int j = 0; j < 4; ++j) {
    const float* s = src + 4 * x + j * W;
    vf acc = bias;
    if constexpr (TY > 0) {
      for (int k = 0; k < TY; ++k) acc += wv[k] * loadv(s + k * stride);
    } else {
      for (std::int64_t k = 0; k < ty; ++k) acc += (wy[k] * scale) * loadv(s + k * stride);
    }
    p[j] = acc;
  }
  deinterleave(p, ch);
}

inline void store_f32(float* p, vf v, bool stream) {
  if (stream) {  // the caller checked that p is aligned to the vector
#if GR_ISA_LEVEL == 2
    return _mm512_stream_ps(p, reinterpret_cast<__m512>(v));
#elif GR_ISA_LEVEL == 1
    return _mm256_stream_ps(p, reinterpret_cast<__m256>(v));
#elif defined(__SSE2__)
    return _mm_stream_ps(p, reinterpret_cast<__m128>(v));
#endif
  }
  std::memcpy(p, &v, sizeof v);
}

inline void store_f16(std::uint16_t* p, vf v) {
#if GR_ISA_LEVEL == 2
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      _mm512_cvtps_ph(reinterpret_cast<__m512>(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif GR_ISA_LEVEL == 1
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(reinterpret_cast<__m256>(v), _MM_FROUND_TO_NEAREST_INT));
#else
  for (int i = 0; i < W; ++i) p[i] = float_to_half(v[i]);
#endif
}

// float_to_bfloat16 on a whole vector: round to nearest even, NaN -> quiet NaN of the same sign.
inline void store_bf16(std::uint16_t* p, vf v) {
  vu u;
  std::memcpy(&u, &v, sizeof u);
  const vu rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const vu bits = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x0040u : rounded;
  const vh half = __builtin_convertvector(bits, vh);
  std::memcpy(p, &half, sizeof half);
}

// Lanes [0, count) of one group of channel vectors into the output planes at element `offset`.
inline void store_partial(const Job& job, const vf ch[3], std::int64_t plane, std::int64_t offset,
                          std::int64_t count) {
  for (std::int64_t c = 0; c < job.out_c; ++c)
    for (std::int64_t i = 0; i < count; ++i) {
      const float v = ch[c][i];
      const std::int64_t at = offset + c * plane + i;
      if (job.dtype == OutDType::Float32)
        static_cast<float*>(job.out)[at] = v;
      else if (job.dtype == OutDType::Float16)
        static_cast<std::uint16_t*>(job.out)[at] = float_to_half(v);
      else
        static_cast<std::uint16_t*>(job.out)[at] = float_to_bfloat16(v);
    }
}

inline void store_group(const Job& job, const vf ch[3], std::int64_t plane, std::int64_t offset, bool stream) {
  for (std::int64_t c = 0; c < job.out_c; ++c) {
    const std::int64_t at = offset + c * plane;
    if (job.dtype == OutDType::Float32) {
      float* p = static_cast<float*>(job.out) + at;
      store_f32(p, ch[c], stream && reinterpret_cast<std::uintptr_t>(p) % sizeof(vf) == 0);
    } else if (job.dtype == OutDType::Float16) {
      store_f16(static_cast<std::uint16_t*>(job.out) + at, ch[c]);
    } else {
      store_bf16(static_cast<std::uint16_t*>(job.out) + at, ch[c]);
    }
  }
}

// Output row y of image `image` from the band's horizontally resampled rows.
template <int TY>
void emit_row(const Job& job, const Band& band, const Scratch& s, std::int64_t y) {
  const std::int64_t ty = s.fy.taps, w = job.out_w, plane = job.out_h * w;
  const std::int64_t offset = band.image * job.out_c * plane + y * w;
  const float* src = s.rows.data() + (s.fy.start[y] - band.r0) * band.row_floats;
  const float* wy = s.fy.weights.data() + y * ty;
  const vf scale = rgbx_pattern(job.scale), bias = rgbx_pattern(job.bias);
  vf wv[TY > 0 ? TY : 1];
  for (int k = 0; k < TY; ++k) wv[k] = wy[k] * scale;
  // Streamed float32 rows start with a partial group so that the whole groups after it are aligned.
  std::int64_t x = 0;
  vf ch[3];
  const auto first = reinterpret_cast<std::uintptr_t>(static_cast<float*>(job.out) + offset);
  if (job.stream && first % sizeof(float) == 0 && first % sizeof(vf) != 0) {
    const std::int64_t head = std::min<std::int64_t>(w, (sizeof(vf) - first % sizeof(vf)) / sizeof(float));
    output_group<TY>(src, band.row_floats, wv, wy, ty, scale, bias, 0, ch);
    store_partial(job, ch, plane, offset, head);
    x = head;
  }
  for (; x + W <= w; x += W) {
    output_group<TY>(src, band.row_floats, wv, wy, ty, scale, bias, x, ch);
    store_group(job, ch, plane, offset + x, job.stream);
  }
  if (x < w) {
    output_group<TY>(src, band.row_floats, wv, wy, ty, scale, bias, x, ch);
    store_partial(job, ch, plane, offset + x, w - x);
  }
}

void emit_row_any(const Job& job, const Band& band, const Scratch& s, std::int64_t y) {
  switch (s.fy.taps) {
    case 1: return emit_row<1>(job, band, s, y);
    case 2: return emit_row<2>(job, band, s, y);
    case 3: return emit_row<3>(job, band, s, y);
    case 4: return emit_row<4>(job, band, s, y);
    case 5: return emit_row<5>(job, band, s, y);
    case 6: return emit_row<6>(job, band, s, y);
    default: return emit_row<0>(job, band, s, y);
  }
}

// Output rows [band.y0, band.y1) of one image. Crop rows are resampled horizontally just before the
// first output row that reads them, so each is still in L1 when the vertical pass uses it.
void resample_band(const Job& job, const Band& band, Scratch& s) {
  const ImageU8& im = job.images[band.image];
  const CropBox& box = job.boxes[band.image];
  const std::int64_t stride = im.width * im.channels;
  std::int64_t ready = band.r0;  // crop rows [r0, ready) are resampled
  for (std::int64_t y = band.y0; y < band.y1; ++y) {
    for (const std::int64_t need = s.fy.start[y] + s.fy.taps; ready < need; ++ready) {
      widen_row(im.data + (box.top + ready) * stride + box.left * im.channels, box.width, im.channels,
                s.rgbx.data());
      horizontal_row(s.rgbx.data(), s.fx, job.out_w, band.row_floats,
                     s.rows.data() + (ready - band.r0) * band.row_floats);
    }
    emit_row_any(job, band, s, y);
  }
#if defined(__SSE2__)
  if (job.stream) _mm_sfence();  // the non-temporal stores are visible before the parallel region ends
#endif
}

}  // namespace genrobust::resize_detail::GR_ISA_NS
