// DCT perceptual hash and Hamming top-k search.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "genrobust/filter.hpp"
#include "genrobust/hash.hpp"
#include "genrobust/isa.hpp"
#include "genrobust/parallel.hpp"

namespace genrobust {
namespace {

constexpr int kSide = 32;  // the image is reduced to 32 x 32 before the DCT
constexpr int kLow = 8;    // and the 8 x 8 lowest frequencies form the hash
// Hamming distances of 64-bit hashes are 0..64: 65 sorts after every real distance.
constexpr std::int32_t kMaxDistance = 64;
constexpr std::int32_t kNoDistance = kMaxDistance + 1;

// Row u of the (unnormalised, scipy norm=None) DCT-II: 2 cos(pi u (2 n + 1) / 64).
struct DctBasis {
  double c[kLow][kSide];
  DctBasis() {
    const double pi = std::acos(-1.0);
    for (int u = 0; u < kLow; ++u)
      for (int j = 0; j < kSide; ++j) c[u][j] = 2.0 * std::cos(pi * u * (2 * j + 1) / (2.0 * kSide));
  }
};

std::uint64_t hash_one(const ImageU8& im, const DctBasis& basis, FilterTable<double>& fx, FilterTable<double>& fy,
                       std::vector<double>& luma, std::vector<double>& rows) {
  const std::int64_t h = im.height, w = im.width;
  triangle_filter(w, kSide, fx);
  triangle_filter(h, kSide, fy);
  luma.resize(w);
  rows.resize(h * kSide);
  for (std::int64_t y = 0; y < h; ++y) {
    const std::uint8_t* p = im.data + y * w * im.channels;
    if (im.channels == 3) {
      for (std::int64_t x = 0; x < w; ++x) luma[x] = 0.299 * p[3 * x] + 0.587 * p[3 * x + 1] + 0.114 * p[3 * x + 2];
    } else {
      for (std::int64_t x = 0; x < w; ++x) luma[x] = p[x];
    }
    for (int o = 0; o < kSide; ++o) {
      const double* wt = fx.weights.data() + o * fx.taps;
      const double* s = luma.data() + fx.start[o];
      double acc = 0.0;
      for (std::int64_t k = 0; k < fx.taps; ++k) acc += wt[k] * s[k];
      rows[y * kSide + o] = acc;
    }
  }
  double small[kSide][kSide];
  for (int o = 0; o < kSide; ++o) {
    const double* wt = fy.weights.data() + o * fy.taps;
    for (int x = 0; x < kSide; ++x) {
      double acc = 0.0;
      for (std::int64_t k = 0; k < fy.taps; ++k) acc += wt[k] * rows[(fy.start[o] + k) * kSide + x];
      small[o][x] = acc;
    }
  }
  // DCT along columns for the 8 lowest vertical frequencies, then along rows.
  double half[kLow][kSide];
  for (int u = 0; u < kLow; ++u)
    for (int x = 0; x < kSide; ++x) {
      double acc = 0.0;
      for (int y = 0; y < kSide; ++y) acc += basis.c[u][y] * small[y][x];
      half[u][x] = acc;
    }
  double coef[kLow * kLow];
  double max_abs = 0.0;
  for (int u = 0; u < kLow; ++u)
    for (int v = 0; v < kLow; ++v) {
      double acc = 0.0;
      for (int x = 0; x < kSide; ++x) acc += basis.c[v][x] * half[u][x];
      coef[u * kLow + v] = acc;
      max_abs = std::max(max_abs, std::fabs(acc));
    }
  double sorted[kLow * kLow];
  std::copy(coef, coef + kLow * kLow, sorted);
  std::sort(sorted, sorted + kLow * kLow);
  // A margin keeps near-ties (flat images) deterministic across summation orders.
  const double threshold = 0.5 * (sorted[31] + sorted[32]) + 1e-9 * max_abs;
  std::uint64_t bits = 0;
  for (int i = 0; i < kLow * kLow; ++i)
    if (coef[i] > threshold) bits |= std::uint64_t{1} << (63 - i);
  return bits;
}

// Sorted (distance, index) lists of the best k so far, one per query; `worst` is the k-th distance.
struct TopK {
  std::int32_t* dist;
  std::int64_t* idx;
  std::int64_t k;
  std::int32_t worst;
  void reset() {
    std::fill(dist, dist + k, kNoDistance);
    std::fill(idx, idx + k, -1);
    worst = kNoDistance;
  }
  // Later indices arrive in increasing order, so an equal distance goes after the ones held.
  void insert(std::int32_t d, std::int64_t j) {
    std::int64_t p = k - 1;
    while (p > 0 && dist[p - 1] > d) {
      dist[p] = dist[p - 1];
      idx[p] = idx[p - 1];
      --p;
    }
    dist[p] = d;
    idx[p] = j;
    worst = dist[k - 1];
  }
};

constexpr int kQueryBlock = 8;  // queries scanned together so each reference is loaded once

// The scan and counting-sort bodies are written once, as templates over the popcount variant, and
// instantiated in one function per variant. HardwarePopcount is __builtin_popcountll, which becomes
// the POPCNT instruction inside the target("popcnt") functions that instantiate it; PortablePopcount
// counts bits with shifts and masks whatever the compiler flags.
struct HardwarePopcount {
  static std::int32_t count(std::uint64_t x) { return static_cast<std::int32_t>(__builtin_popcountll(x)); }
};

struct PortablePopcount {
  static std::int32_t count(std::uint64_t x) {
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return static_cast<std::int32_t>((x * 0x0101010101010101ull) >> 56);
  }
};

// Each query of a block keeps its k best; NB > 0 fixes the block size at compile time. The k-th
// distances live in locals (not behind the TopK pointers) so the hot compare stays in registers.
template <typename Popcount, int NB>
[[gnu::always_inline]] inline void scan_block(const std::uint64_t* q, int nb_any, const std::uint64_t* refs,
                                              std::int64_t nr, TopK* top) {
  const int nb = NB > 0 ? NB : nb_any;
  std::int32_t worst[kQueryBlock];
  for (int b = 0; b < nb; ++b) worst[b] = top[b].worst;
  for (std::int64_t j = 0; j < nr; ++j) {
    const std::uint64_t r = refs[j];
    for (int b = 0; b < nb; ++b) {
      const std::int32_t d = Popcount::count(q[b] ^ r);
      if (__builtin_expect(d < worst[b], 0)) {
        top[b].insert(d, j);
        worst[b] = top[b].worst;
      }
    }
  }
}

// Large k: a counting sort of all distances (one bucket per distance 0..64), O(nr) per query
// whatever k is, stable because references are bucketed in index order. `d` holds nr distances.
template <typename Popcount>
[[gnu::always_inline]] inline void counting_topk(std::uint64_t q, const std::uint64_t* refs, std::int64_t nr,
                                                 std::int64_t k, std::uint8_t* d, std::int64_t* idx,
                                                 std::int32_t* dist) {
  std::int64_t start[kNoDistance + 1] = {0};  // start[b + 1] counts distance b, then prefix sums
  for (std::int64_t j = 0; j < nr; ++j) {
    d[j] = static_cast<std::uint8_t>(Popcount::count(q ^ refs[j]));
    ++start[d[j] + 1];
  }
  for (int b = 0; b < kNoDistance; ++b) start[b + 1] += start[b];
  for (std::int64_t j = 0; j < nr; ++j) {
    const std::int64_t pos = start[d[j]]++;
    if (pos < k) {
      idx[pos] = j;
      dist[pos] = d[j];
    }
  }
}

// A full block gets its own (not inlined) function: with the block size fixed the query loop unrolls
// and its state stays in registers.
[[gnu::noinline]] __attribute__((target("popcnt"))) void scan_popcnt_full(const std::uint64_t* q,
                                                                          const std::uint64_t* refs, std::int64_t nr,
                                                                          TopK* top) {
  scan_block<HardwarePopcount, kQueryBlock>(q, kQueryBlock, refs, nr, top);
}

__attribute__((target("popcnt"))) void scan_popcnt(const std::uint64_t* q, int nb, const std::uint64_t* refs,
                                                   std::int64_t nr, TopK* top) {
  if (nb == kQueryBlock) return scan_popcnt_full(q, refs, nr, top);
  scan_block<HardwarePopcount, 0>(q, nb, refs, nr, top);
}

void scan_portable(const std::uint64_t* q, int nb, const std::uint64_t* refs, std::int64_t nr, TopK* top) {
  scan_block<PortablePopcount, 0>(q, nb, refs, nr, top);
}

__attribute__((target("popcnt"))) void counting_popcnt(std::uint64_t q, const std::uint64_t* refs, std::int64_t nr,
                                                       std::int64_t k, std::uint8_t* d, std::int64_t* idx,
                                                       std::int32_t* dist) {
  counting_topk<HardwarePopcount>(q, refs, nr, k, d, idx, dist);
}

void counting_portable(std::uint64_t q, const std::uint64_t* refs, std::int64_t nr, std::int64_t k, std::uint8_t* d,
                       std::int64_t* idx, std::int32_t* dist) {
  counting_topk<PortablePopcount>(q, refs, nr, k, d, idx, dist);
}

constexpr std::int64_t kLargeK = 32;  // above this many neighbours the counting sort wins

#if defined(__x86_64__)
// AVX-512 VPOPCNTDQ: eight references per vector against each query; lanes that beat the query's
// k-th distance (rare once the list fills) are inserted in index order, which keeps ties stable.
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) void scan_avx512(const std::uint64_t* q, int nb,
                                                                           const std::uint64_t* refs,
                                                                           std::int64_t nr, TopK* top) {
  __m512i qv[kQueryBlock], wv[kQueryBlock];
  for (int b = 0; b < nb; ++b) {
    qv[b] = _mm512_set1_epi64(static_cast<long long>(q[b]));
    wv[b] = _mm512_set1_epi64(top[b].worst);
  }
  std::int64_t j = 0;
  alignas(64) std::int64_t lanes[8];
  for (; j + 8 <= nr; j += 8) {
    const __m512i r = _mm512_loadu_si512(refs + j);
    for (int b = 0; b < nb; ++b) {
      const __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(r, qv[b]));
      __mmask8 m = _mm512_cmplt_epi64_mask(d, wv[b]);
      if (__builtin_expect(m != 0, 0)) {
        _mm512_store_si512(lanes, d);
        while (m) {
          const int l = __builtin_ctz(m);
          m = static_cast<__mmask8>(m & (m - 1));
          if (lanes[l] < top[b].worst) top[b].insert(static_cast<std::int32_t>(lanes[l]), j + l);
        }
        wv[b] = _mm512_set1_epi64(top[b].worst);
      }
    }
  }
  for (; j < nr; ++j)
    for (int b = 0; b < nb; ++b) {
      const std::int32_t d = static_cast<std::int32_t>(__builtin_popcountll(q[b] ^ refs[j]));
      if (d < top[b].worst) top[b].insert(d, j);
    }
}
#else
void scan_avx512(const std::uint64_t*, int, const std::uint64_t*, std::int64_t, TopK*) {}
#endif

}  // namespace

bool has_avx512_popcount() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#else
  return false;
#endif
}

bool has_hardware_popcount() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("popcnt");
#else
  return true;  // other targets lower __builtin_popcountll to their own instruction
#endif
}

void phash64(const ImageU8* images, std::int64_t n, std::uint64_t* out, int threads) {
  for (std::int64_t i = 0; i < n; ++i)
    if (images[i].data == nullptr || images[i].height < 1 || images[i].width < 1 ||
        (images[i].channels != 1 && images[i].channels != 3))
      throw std::invalid_argument("phash64: image " + std::to_string(i) + " has a bad shape");
  static const DctBasis basis;
  const int nt = threads_for(threads, n, 4);
#pragma omp parallel num_threads(nt)
  {
    FilterTable<double> fx, fy;
    std::vector<double> luma, rows;
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < n; ++i) out[i] = hash_one(images[i], basis, fx, fy, luma, rows);
  }
}

void hamming_topk(const std::uint64_t* queries, std::int64_t nq, const std::uint64_t* references,
                  std::int64_t nr, std::int64_t k, std::int64_t* indices, std::int32_t* distances,
                  int threads, int variant) {
  if (nq < 0 || nr < 1 || k < 1 || k > nr) throw std::invalid_argument("hamming_topk: need 1 <= k <= len(references)");
  if (variant < 0 || variant > 3) throw std::invalid_argument("hamming_topk: variant must be 0..3");
  // Automatic: the widest popcount the instruction set in use allows (POPCNT comes with every AVX2 CPU).
  const Isa isa = variant == 0 ? isa_in_use() : Isa::Baseline;
  const bool wide = variant == 3 || (variant == 0 && isa == Isa::Avx512 && has_avx512_popcount());
  const bool hw = variant == 2 || (variant == 0 && isa != Isa::Baseline && has_hardware_popcount());
  if ((variant == 3 && !has_avx512_popcount()) || (variant == 2 && !has_hardware_popcount()))
    throw std::invalid_argument("hamming_topk: this CPU lacks the requested popcount instructions");
  const int nt = threads_for(threads, nq * nr, 1 << 22);
  if (k > kLargeK) {
#pragma omp parallel num_threads(nt)
    {
      std::vector<std::uint8_t> d(nr);
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t i = 0; i < nq; ++i) {
        if (hw || wide)
          counting_popcnt(queries[i], references, nr, k, d.data(), indices + i * k, distances + i * k);
        else
          counting_portable(queries[i], references, nr, k, d.data(), indices + i * k, distances + i * k);
      }
    }
    return;
  }
  const std::int64_t blocks = (nq + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t q0 = blk * kQueryBlock;
    const int nb = static_cast<int>(std::min<std::int64_t>(kQueryBlock, nq - q0));
    TopK top[kQueryBlock];
    for (int b = 0; b < nb; ++b) {
      top[b] = TopK{distances + (q0 + b) * k, indices + (q0 + b) * k, k, kNoDistance};
      top[b].reset();
    }
    if (wide)
      scan_avx512(queries + q0, nb, references, nr, top);
    else if (hw)
      scan_popcnt(queries + q0, nb, references, nr, top);
    else
      scan_portable(queries + q0, nb, references, nr, top);
  }
}

}  // namespace genrobust
