// The inner loops of crop_resize_normalize for one instruction set. resize.cpp includes this file
// once per set, inside a `#pragma GCC target` region, with GR_ISA_NS naming the namespace and
// GR_ISA_LEVEL 0 (baseline: SSE2 on x86-64, plain C++ elsewhere), 1 (AVX2 + FMA + F16C) or 2
// (AVX-512). There is no include guard on purpose; everything here lives in GR_ISA_NS so the copies
// never meet at link time.
//
// Horizontal pass. Baseline: a crop row is widened to float RGBX (one 4-lane group per pixel) and
// each output pixel is one 4-lane multiply-add per tap, transposed to planes four pixels at a time.
// AVX2 / AVX-512: a crop row is widened straight to three float planes; for each group of W output
// columns the sources of every tap lie in a window of 2W floats (unless the crop is shrunk by more
// than about 1.7x), which is loaded once and permuted in registers, so a tap costs one permute and
// one multiply-add per W outputs. Wider windows gather.
//
// Vertical pass (all paths): per output row and channel, a multiply-add per tap over contiguous
// floats, the normalisation folded into the weights, stored W values at a time (non-temporal for
// large float32 outputs, after a first partial group that aligns the rest).

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
typedef std::int32_t v4i __attribute__((vector_size(16)));

inline vf loadv(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline vi loadi(const std::int32_t* p) {
  vi v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void storev(float* p, vf v) { std::memcpy(p, &v, sizeof v); }

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }

#if GR_ISA_LEVEL == 0
// ---- Baseline horizontal pass: RGBX pixels ----------------------------------------------------------------

// One crop row of uint8 pixels -> float RGBX (gray is replicated to every lane). The X lane is never
// output: for RGB it holds the next pixel's red, so each pixel is one 4-byte load and convert.
// Floats of one widened crop row: width RGBX pixels.
constexpr std::int64_t widened_floats(std::int64_t width) { return 4 * width; }

void widen_row(const std::uint8_t* src, std::int64_t width, std::int64_t channels, float* rgbx) {
  std::int64_t j = 0;
  if (channels == 3) {
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    for (; j + 2 <= width; ++j) {  // the 4-byte load stays inside the row
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

// Four RGBX pixels -> one 4-lane vector per channel.
inline void transpose4(const v4f p[4], v4f ch[3]) {
#if defined(__clang__)
#define GR_SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define GR_SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, v4i{i0, i1, i2, i3})
#endif
  const v4f rg0 = GR_SHUFFLE4(p[0], p[1], 0, 4, 1, 5), rg1 = GR_SHUFFLE4(p[2], p[3], 0, 4, 1, 5);  // r r g g
  const v4f bx0 = GR_SHUFFLE4(p[0], p[1], 2, 6, 3, 7), bx1 = GR_SHUFFLE4(p[2], p[3], 2, 6, 3, 7);  // b b x x
  ch[0] = GR_SHUFFLE4(rg0, rg1, 0, 1, 4, 5);
  ch[1] = GR_SHUFFLE4(rg0, rg1, 2, 3, 6, 7);
  ch[2] = GR_SHUFFLE4(bx0, bx1, 0, 1, 4, 5);
#undef GR_SHUFFLE4
}

template <int T>
void horizontal(const Scratch& s, const float* rgbx, std::int64_t, std::int64_t out_w, std::int64_t planes,
                float* const dst[3]) {
  const std::int64_t taps = T > 0 ? T : s.fx.taps;
  const float* w = s.fx.weights.data();
  const std::int32_t* start = s.fx.start.data();
  auto pixel = [&](std::int64_t x) {
    const float* src = rgbx + 4 * static_cast<std::int64_t>(start[x]);
    const float* wx = w + x * taps;
    v4f acc = wx[0] * load4(src);
    for (std::int64_t k = 1; k < taps; ++k) acc += wx[k] * load4(src + 4 * k);
    return acc;
  };
  std::int64_t x = 0;
  for (; x + 4 <= out_w; x += 4) {
    const v4f p[4] = {pixel(x), pixel(x + 1), pixel(x + 2), pixel(x + 3)};
    v4f ch[3];
    transpose4(p, ch);
    for (std::int64_t c = 0; c < planes; ++c) store4(dst[c] + x, ch[c]);
  }
  for (; x < out_w; ++x) {
    const v4f p = pixel(x);
    for (std::int64_t c = 0; c < planes; ++c) dst[c][x] = p[c];
  }
}

void horizontal_row(const Scratch& s, const float* widened, std::int64_t width, std::int64_t out_w,
                    std::int64_t planes, float* const dst[3]) {
  switch (s.fx.taps) {
    case 1: return horizontal<1>(s, widened, width, out_w, planes, dst);
    case 2: return horizontal<2>(s, widened, width, out_w, planes, dst);
    case 3: return horizontal<3>(s, widened, width, out_w, planes, dst);
    case 4: return horizontal<4>(s, widened, width, out_w, planes, dst);
    default: return horizontal<0>(s, widened, width, out_w, planes, dst);
  }
}

void plan_columns(std::int64_t, Scratch&) {}  // the RGBX path reads the filter table directly

#else
// ---- AVX2 / AVX-512 horizontal pass: channel planes, windows permuted in registers ------------------------

constexpr std::int64_t kWindow = 2 * W;  // floats of one plane a group's taps are permuted from

// Per group g of W output columns: group_base[g] = its first source column, group_index[g * W + i] =
// column i's first tap relative to it (tap k reads base + index + k), group_weight[(g * taps + k) * W
// + i] its weights (zero for columns past out_w), and group_window[g] whether all of its sources lie
// within kWindow floats of the base.
void plan_columns(std::int64_t out_w, Scratch& s) {
  const std::int64_t taps = s.fx.taps, groups = (out_w + W - 1) / W;
  s.group_base.resize(groups);
  s.group_window.resize(groups);
  s.group_index.assign(groups * W, 0);
  s.group_weight.assign(groups * taps * W, 0.0f);
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t x0 = g * W, x1 = std::min(out_w, x0 + W);
    std::int32_t lo = s.fx.start[x0], hi = s.fx.start[x0];  // a flipped table runs backwards
    for (std::int64_t x = x0; x < x1; ++x) {
      lo = std::min(lo, s.fx.start[x]);
      hi = std::max(hi, s.fx.start[x]);
    }
    s.group_base[g] = lo;
    s.group_window[g] = hi + taps - lo <= kWindow;
    for (std::int64_t x = x0; x < x1; ++x) {
      s.group_index[g * W + (x - x0)] = s.fx.start[x] - lo;
      for (std::int64_t k = 0; k < taps; ++k)
        s.group_weight[(g * taps + k) * W + (x - x0)] = s.fx.weights[x * taps + k];
    }
  }
}

#if GR_ISA_LEVEL == 2
typedef __m512 vnative;
inline vf permute2(vf lo, vi index, vf hi) {
  return reinterpret_cast<vf>(_mm512_permutex2var_ps(reinterpret_cast<__m512>(lo), reinterpret_cast<__m512i>(index),
                                                      reinterpret_cast<__m512>(hi)));
}
inline vf gather(const float* base, vi index) {
  return reinterpret_cast<vf>(_mm512_i32gather_ps(reinterpret_cast<__m512i>(index), base, 4));
}
#else
// Two single-source permutes (each reads its index modulo 8) blended on the index's bit 3.
inline vf permute2(vf lo, vi index, vf hi) {
  const __m256i i = reinterpret_cast<__m256i>(index);
  const __m256 from_lo = _mm256_permutevar8x32_ps(reinterpret_cast<__m256>(lo), i);
  const __m256 from_hi = _mm256_permutevar8x32_ps(reinterpret_cast<__m256>(hi), i);
  return reinterpret_cast<vf>(_mm256_blendv_ps(from_lo, from_hi, _mm256_castsi256_ps(_mm256_slli_epi32(i, 28))));
}
inline vf gather(const float* base, vi index) {
  return reinterpret_cast<vf>(_mm256_i32gather_ps(base, reinterpret_cast<__m256i>(index), 4));
}
#endif

// Floats of one widened crop row: three planes of `width` columns, each followed by a window's worth
// of slack so that window loads stay inside the buffer (permutes never select the slack).
constexpr std::int64_t plane_stride(std::int64_t width) { return width + kWindow; }
constexpr std::int64_t widened_floats(std::int64_t width) { return 3 * plane_stride(width); }

// One crop row of uint8 pixels -> `channels` float planes at `out`, plane_stride(width) apart.
void widen_row(const std::uint8_t* src, std::int64_t width, std::int64_t channels, float* out) {
  const std::int64_t stride = plane_stride(width);
  float* planes[3] = {out, out + stride, out + 2 * stride};
  std::int64_t j = 0;
  if (channels == 3) {
#if GR_ISA_LEVEL == 2
    // 16 pixels per step: 48 bytes (a masked load: nothing past them is touched) spread so that each
    // 128-bit lane holds four pixels, then one in-lane byte shuffle per channel puts each pixel's value
    // in the low byte of its own 32-bit lane.
    const __m512i spread = _mm512_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12);
    const __m512i pick[3] = {
        _mm512_broadcast_i32x4(_mm_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1)),
        _mm512_broadcast_i32x4(_mm_setr_epi8(1, -1, -1, -1, 4, -1, -1, -1, 7, -1, -1, -1, 10, -1, -1, -1)),
        _mm512_broadcast_i32x4(_mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1))};
    for (; j + 16 <= width; j += 16) {
      const __m512i bytes = _mm512_maskz_loadu_epi32(0x0fff, src + 3 * j);
      const __m512i px = _mm512_permutexvar_epi32(spread, bytes);
      for (int c = 0; c < 3; ++c) _mm512_storeu_ps(planes[c] + j, _mm512_cvtepi32_ps(_mm512_shuffle_epi8(px, pick[c])));
    }
#else
    // 8 pixels per step: pixels 0-3 in the low 128-bit lane and 4-7 in the high one (two overlapping
    // 16-byte loads, 28 bytes read), then one in-lane byte shuffle per channel puts each pixel's value
    // in the low byte of its own 32-bit lane.
    const __m256i pick[3] = {
        _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1,  //
                         0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1),
        _mm256_setr_epi8(1, -1, -1, -1, 4, -1, -1, -1, 7, -1, -1, -1, 10, -1, -1, -1,  //
                         1, -1, -1, -1, 4, -1, -1, -1, 7, -1, -1, -1, 10, -1, -1, -1),
        _mm256_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1,  //
                         2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1)};
    for (; j + 10 <= width; j += 8) {
      const std::uint8_t* p = src + 3 * j;
      const __m256i px = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 12),
                                             reinterpret_cast<const __m128i*>(p));
      for (int c = 0; c < 3; ++c) _mm256_storeu_ps(planes[c] + j, _mm256_cvtepi32_ps(_mm256_shuffle_epi8(px, pick[c])));
    }
#endif
    for (; j < width; ++j)
      for (int c = 0; c < 3; ++c) planes[c][j] = src[3 * j + c];
  } else {
    for (; j < width; ++j) planes[0][j] = src[j];
  }
}

// One group's W outputs of one plane: the taps' sources permuted from the window at `src`, or
// gathered when the group's sources are spread wider than the window.
template <int T>
inline vf resample_group(const float* src, bool window, vi index, const float* weights, std::int64_t taps) {
  const std::int64_t n = T > 0 ? T : taps;
  vf acc = {};
  if (window) {
    const vf lo = loadv(src), hi = loadv(src + W);
    for (std::int64_t k = 0; k < n; ++k) acc += loadv(weights + k * W) * permute2(lo, index + static_cast<std::int32_t>(k), hi);
  } else {
    for (std::int64_t k = 0; k < n; ++k) acc += loadv(weights + k * W) * gather(src, index + static_cast<std::int32_t>(k));
  }
  return acc;
}

template <int T>
void horizontal(const Scratch& s, const float* widened, std::int64_t width, std::int64_t out_w, std::int64_t planes,
                float* const dst[3]) {
  const std::int64_t taps = T > 0 ? T : s.fx.taps, groups = (out_w + W - 1) / W;
  const std::int64_t stride = plane_stride(width);
  const float* const r = widened;
  const float* const g = r + stride;
  const float* const b = g + stride;
  const std::int32_t* const bases = s.group_base.data();
  const std::int32_t* const indices = s.group_index.data();
  const std::uint8_t* const windows = s.group_window.data();
  const float* const weights = s.group_weight.data();
  float* const dr = dst[0];
  float* const dg = dst[1];
  float* const db = dst[2];
  for (std::int64_t i = 0; i < groups; ++i) {
    const std::int64_t base = bases[i];
    const bool window = windows[i] != 0;
    const vi index = loadi(indices + i * W);
    const float* w = weights + i * taps * W;
    storev(dr + i * W, resample_group<T>(r + base, window, index, w, taps));
    if (planes == 3) {
      storev(dg + i * W, resample_group<T>(g + base, window, index, w, taps));
      storev(db + i * W, resample_group<T>(b + base, window, index, w, taps));
    }
  }
}

void horizontal_row(const Scratch& s, const float* widened, std::int64_t width, std::int64_t out_w,
                    std::int64_t planes, float* const dst[3]) {
  switch (s.fx.taps) {
    case 1: return horizontal<1>(s, widened, width, out_w, planes, dst);
    case 2: return horizontal<2>(s, widened, width, out_w, planes, dst);
    case 3: return horizontal<3>(s, widened, width, out_w, planes, dst);
    case 4: return horizontal<4>(s, widened, width, out_w, planes, dst);
    case 5: return horizontal<5>(s, widened, width, out_w, planes, dst);
    default: return horizontal<0>(s, widened, width, out_w, planes, dst);
  }
}
#endif

// ---- Vertical pass and stores ---------------------------------------------------------------------------

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
  storev(p, v);
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
  const vu is_nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);  // all ones where NaN
  const vu bits = (((u >> 16) | 0x0040u) & is_nan) | (rounded & ~is_nan);
  const vh half = __builtin_convertvector(bits, vh);
  std::memcpy(p, &half, sizeof half);
}

// Where the values of one output row of one channel go, per output dtype: whole vectors (`full`,
// streamed when the row asked for it and the address is aligned) and the first n of a vector (`part`).
struct StoreF32 {
  float* row;
  bool stream;
  void full(std::int64_t x, vf v) const {
    float* p = row + x;
    store_f32(p, v, stream && reinterpret_cast<std::uintptr_t>(p) % sizeof(vf) == 0);
  }
  void part(std::int64_t x, vf v, std::int64_t n) const {
    for (std::int64_t i = 0; i < n; ++i) row[x + i] = v[i];
  }
  // Values before the first vector-aligned one: streamed rows store them separately.
  std::int64_t head(std::int64_t w) const {
    const auto at = reinterpret_cast<std::uintptr_t>(row);
    if (!stream || at % sizeof(float) != 0 || at % sizeof(vf) == 0) return 0;
    return std::min<std::int64_t>(w, (sizeof(vf) - at % sizeof(vf)) / sizeof(float));
  }
};

struct StoreF16 {
  std::uint16_t* row;
  void full(std::int64_t x, vf v) const { store_f16(row + x, v); }
  void part(std::int64_t x, vf v, std::int64_t n) const {
    for (std::int64_t i = 0; i < n; ++i) row[x + i] = float_to_half(v[i]);
  }
  std::int64_t head(std::int64_t) const { return 0; }
};

struct StoreBF16 {
  std::uint16_t* row;
  void full(std::int64_t x, vf v) const { store_bf16(row + x, v); }
  void part(std::int64_t x, vf v, std::int64_t n) const {
    for (std::int64_t i = 0; i < n; ++i) row[x + i] = float_to_bfloat16(v[i]);
  }
  std::int64_t head(std::int64_t) const { return 0; }
};

// One output row of one channel: bias + sum over taps of (weight * scale) * resampled row.
template <int TY, typename Store>
inline void vertical_row(const float* src, std::int64_t stride, const float* wy, std::int64_t ty, float scale,
                         float bias, std::int64_t w, const Store& store) {
  const vf vbias = bias + vf{};
  vf wv[TY > 0 ? TY : 1];
  if constexpr (TY > 0)
    for (int k = 0; k < TY; ++k) wv[k] = wy[k] * scale + vf{};
  auto group = [&](std::int64_t x) {
    vf acc = vbias;
    if constexpr (TY > 0) {
      for (int k = 0; k < TY; ++k) acc += wv[k] * loadv(src + k * stride + x);
    } else {
      for (std::int64_t k = 0; k < ty; ++k) acc += (wy[k] * scale) * loadv(src + k * stride + x);
    }
    return acc;
  };
  std::int64_t x = store.head(w);
  if (x > 0) store.part(0, group(0), x);
  for (; x + W <= w; x += W) store.full(x, group(x));
  if (x < w) store.part(x, group(x), w - x);
}

// Output row y, every channel: the vertical taps over the band's resampled rows, normalised, stored.
template <int TY>
void emit_row(const Job& job, const Band& band, const Scratch& s, std::int64_t planes, std::int64_t y) {
  const std::int64_t ty = TY > 0 ? TY : s.fy.taps, w = job.out_w, plane = job.out_h * w;
  const std::int64_t stride = 3 * band.plane_floats;  // between consecutive crop rows
  const float* wy = s.fy.weights.data() + y * ty;
  const float* first = s.rows.data() + (s.fy.start[y] - band.r0) * stride;
  for (std::int64_t c = 0; c < job.out_c; ++c) {
    const float* src = first + (planes == 1 ? 0 : c) * band.plane_floats;
    const std::int64_t at = (band.image * job.out_c + c) * plane + y * w;
    const float scale = job.scale[c], bias = job.bias[c];
    if (job.dtype == OutDType::Float32)
      vertical_row<TY>(src, stride, wy, ty, scale, bias, w, StoreF32{static_cast<float*>(job.out) + at, job.stream});
    else if (job.dtype == OutDType::Float16)
      vertical_row<TY>(src, stride, wy, ty, scale, bias, w, StoreF16{static_cast<std::uint16_t*>(job.out) + at});
    else
      vertical_row<TY>(src, stride, wy, ty, scale, bias, w, StoreBF16{static_cast<std::uint16_t*>(job.out) + at});
  }
}

void emit_row_any(const Job& job, const Band& band, const Scratch& s, std::int64_t planes, std::int64_t y) {
  switch (s.fy.taps) {
    case 1: return emit_row<1>(job, band, s, planes, y);
    case 2: return emit_row<2>(job, band, s, planes, y);
    case 3: return emit_row<3>(job, band, s, planes, y);
    case 4: return emit_row<4>(job, band, s, planes, y);
    case 5: return emit_row<5>(job, band, s, planes, y);
    default: return emit_row<0>(job, band, s, planes, y);
  }
}

// Crop rows are short runs of a large image that is usually not in the caches: asking for the run a
// few rows ahead hides the memory latency the hardware prefetchers leave at each row start.
constexpr std::int64_t kPrefetchRows = 3;

inline void prefetch_bytes(const std::uint8_t* p, std::int64_t bytes) {
  for (std::int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
  __builtin_prefetch(p + bytes - 1, 0, 3);
}

// Output rows [band.y0, band.y1) of one image. Crop rows are resampled horizontally just before the
// first output row that reads them, so each is still in L1 when the vertical pass uses it.
void resample_band(const Job& job, const Band& band, Scratch& s) {
  const ImageU8& im = job.images[band.image];
  const CropBox& box = job.boxes[band.image];
  const std::int64_t stride = im.width * im.channels, planes = im.channels;
  const std::uint8_t* first = im.data + box.top * stride + box.left * im.channels;
  if (s.widened.size() < static_cast<std::size_t>(widened_floats(box.width)))
    s.widened.assign(widened_floats(box.width), 0.0f);
  plan_columns(job.out_w, s);
  std::int64_t ready = band.r0;  // crop rows [r0, ready) are resampled
  for (std::int64_t y = band.y0; y < band.y1; ++y) {
    for (const std::int64_t need = s.fy.start[y] + s.fy.taps; ready < need; ++ready) {
      if (ready + kPrefetchRows < box.height)
        prefetch_bytes(first + (ready + kPrefetchRows) * stride, box.width * im.channels);
      widen_row(first + ready * stride, box.width, im.channels, s.widened.data());
      float* row = s.rows.data() + (ready - band.r0) * 3 * band.plane_floats;
      float* const dst[3] = {row, row + band.plane_floats, row + 2 * band.plane_floats};
      horizontal_row(s, s.widened.data(), box.width, job.out_w, planes, dst);
      // Zero the padding: partial groups of the vertical pass read it (and drop the results).
      for (std::int64_t c = 0; c < planes; ++c)
        std::memset(dst[c] + job.out_w, 0, (band.plane_floats - job.out_w) * sizeof(float));
    }
    emit_row_any(job, band, s, planes, y);
  }
#if defined(__SSE2__)
  if (job.stream) _mm_sfence();  // the non-temporal stores are visible before the parallel region ends
#endif
}

}  // namespace genrobust::resize_detail::GR_ISA_NS
