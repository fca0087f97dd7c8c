// The inner loops of to_uint8 for one instruction set. convert.cpp includes this file once per set,
// inside a `#pragma GCC target` region, with GR_ISA_NS naming the namespace and GR_ISA_LEVEL 0
// (baseline), 1 (AVX2 + F16C) or 2 (AVX-512). No include guard on purpose. Every path rounds
// exactly like the scalar quantize() below, so all give the same bytes.

namespace genrobust::convert_detail::GR_ISA_NS {

// round_half_even(clamp(x * 0.5 + 0.5, 0, 1) * 255) in float32, NaN -> 0. Adding 1.5 * 2^23 rounds
// to an integer (the FPU's default half-to-even mode) and leaves it in the low mantissa bits.
inline std::uint32_t quantize(float x) {
  float t = x * 0.5f + 0.5f;
  t = t > 0.0f ? t : 0.0f;  // also maps NaN to 0
  t = t < 1.0f ? t : 1.0f;
  return float_bits(t * 255.0f + 12582912.0f) & 0xffu;
}

// Row chunk `len` pixels long of `c` float planes (stride `plane`) -> interleaved bytes.
void convert_chunk(const float* src, std::int64_t c, std::int64_t plane, std::int64_t len, std::uint8_t* out,
                   std::uint32_t* packed) {
  if (c == 3) {
    const float *r = src, *g = src + plane, *b = src + 2 * plane;
    for (std::int64_t x = 0; x < len; ++x) packed[x] = quantize(r[x]) | quantize(g[x]) << 8 | quantize(b[x]) << 16;
    // 4-byte stores 3 bytes apart: each overwrites only the previous pixel's unused fourth byte.
    for (std::int64_t x = 0; x + 1 < len; ++x) std::memcpy(out + 3 * x, packed + x, 4);
    const std::uint32_t last = packed[len - 1];
    for (int ch = 0; ch < 3; ++ch) out[3 * (len - 1) + ch] = static_cast<std::uint8_t>(last >> (8 * ch));
  } else {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float* s = src + ch * plane;
      for (std::int64_t x = 0; x < len; ++x) packed[x] = quantize(s[x]);
      for (std::int64_t x = 0; x < len; ++x) out[c * x + ch] = static_cast<std::uint8_t>(packed[x]);
    }
  }
}

#if GR_ISA_LEVEL == 2
constexpr std::int64_t kVec = 16;  // pixels per step of the RGB fast path
typedef __m512 vfloat;
typedef __m512i vint;

inline vfloat load_plane(const float* p) { return _mm512_loadu_ps(p); }
inline vfloat load_plane(const std::uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline vint quantize_vec(vfloat x) {
  const vfloat half = _mm512_set1_ps(0.5f);
  vfloat t = _mm512_add_ps(_mm512_mul_ps(x, half), half);
  t = _mm512_max_ps(t, _mm512_setzero_ps());  // max returns its second operand for NaN: NaN -> 0
  t = _mm512_min_ps(t, _mm512_set1_ps(1.0f));
  return _mm512_cvt_roundps_epi32(_mm512_mul_ps(t, _mm512_set1_ps(255.0f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// 16 pixels of 0x00BBGGRR -> 48 interleaved bytes: drop each pixel's fourth byte within the 128-bit
// lanes, gather the lanes' 12-byte runs to the front, store exactly 48 bytes.
inline void store_rgb(std::uint8_t* out, vint packed) {
  const vint squeeze = _mm512_set_epi8(-1, -1, -1, -1, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0,
                                       -1, -1, -1, -1, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0,
                                       -1, -1, -1, -1, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0,
                                       -1, -1, -1, -1, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0);
  const vint gather = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 3, 7, 11, 15);
  const vint bytes = _mm512_permutexvar_epi32(gather, _mm512_shuffle_epi8(packed, squeeze));
  _mm512_mask_storeu_epi32(out, 0x0fff, bytes);
}
#elif GR_ISA_LEVEL == 1
constexpr std::int64_t kVec = 8;
typedef __m256 vfloat;
typedef __m256i vint;

inline vfloat load_plane(const float* p) { return _mm256_loadu_ps(p); }
inline vfloat load_plane(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline vint quantize_vec(vfloat x) {
  const vfloat half = _mm256_set1_ps(0.5f);
  vfloat t = _mm256_add_ps(_mm256_mul_ps(x, half), half);
  t = _mm256_max_ps(t, _mm256_setzero_ps());  // max returns its second operand for NaN: NaN -> 0
  t = _mm256_min_ps(t, _mm256_set1_ps(1.0f));
  return _mm256_cvtps_epi32(_mm256_mul_ps(t, _mm256_set1_ps(255.0f)));  // half to even (MXCSR default)
}

// 8 pixels of 0x00BBGGRR -> 24 interleaved bytes.
inline void store_rgb(std::uint8_t* out, vint packed) {
  const vint squeeze = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const vint bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(packed, squeeze),
                                                 _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(bytes));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 16), _mm256_extracti128_si256(bytes, 1));
}
#endif

#if GR_ISA_LEVEL >= 1
// RGB rows, kVec pixels per step straight from the planes; returns how many pixels it wrote.
template <typename In>
std::int64_t convert_rgb_vec(const In* r, std::int64_t plane, std::int64_t w, std::uint8_t* out) {
  std::int64_t x = 0;
  for (; x + kVec <= w; x += kVec) {
    const vint red = quantize_vec(load_plane(r + x));
    const vint green = quantize_vec(load_plane(r + plane + x));
    const vint blue = quantize_vec(load_plane(r + 2 * plane + x));
#if GR_ISA_LEVEL == 2
    store_rgb(out + 3 * x, _mm512_or_si512(red, _mm512_or_si512(_mm512_slli_epi32(green, 8),
                                                                _mm512_slli_epi32(blue, 16))));
#else
    store_rgb(out + 3 * x, _mm256_or_si256(red, _mm256_or_si256(_mm256_slli_epi32(green, 8),
                                                                _mm256_slli_epi32(blue, 16))));
#endif
  }
  return x;
}
#endif

// One output row: w pixels starting at element `offset` of each of the c input planes.
template <bool Half>
void convert_row(const void* in, std::int64_t c, std::int64_t plane, std::int64_t offset, std::int64_t w,
                 std::uint8_t* dst, std::uint32_t* packed, float* widened) {
  using In = std::conditional_t<Half, std::uint16_t, float>;
  const In* first = static_cast<const In*>(in) + offset;
  std::int64_t x0 = 0;
#if GR_ISA_LEVEL >= 1
  if (c == 3) x0 = convert_rgb_vec(first, plane, w, dst);
#endif
  for (; x0 < w; x0 += kChunk) {
    const std::int64_t len = std::min(kChunk, w - x0);
    if constexpr (Half) {
      // Widen each plane's chunk to float32 (exact) first; `widened` holds c * kChunk floats.
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const std::uint16_t* h = first + ch * plane + x0;
        for (std::int64_t x = 0; x < len; ++x) widened[ch * kChunk + x] = half_to_float(h[x]);
      }
      convert_chunk(widened, c, kChunk, len, dst + x0 * c, packed);
    } else {
      convert_chunk(first + x0, c, plane, len, dst + x0 * c, packed);
    }
  }
}

void convert_rows(const void* in, bool in_is_half, std::int64_t c, std::int64_t plane, std::int64_t offset,
                  std::int64_t w, std::uint8_t* dst, std::uint32_t* packed, float* widened) {
  if (in_is_half)
    convert_row<true>(in, c, plane, offset, w, dst, packed, widened);
  else
    convert_row<false>(in, c, plane, offset, w, dst, packed, widened);
}

}  // namespace genrobust::convert_detail::GR_ISA_NS
