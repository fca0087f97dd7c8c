#pragma once
// OpenMP helpers shared by the kernels (they compile to serial code without OpenMP).
#ifdef _OPENMP
#include <omp.h>
#endif

namespace genrobust {

// threads <= 0 means "all": OMP_NUM_THREADS when set, else every core.
inline int resolve_threads(int threads) {
#ifdef _OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

// Threads worth starting for `work` units when each thread should get at least `grain` of them:
// tiny calls stay on the calling thread instead of paying for a parallel region.
inline int threads_for(int threads, long long work, long long grain) {
  const long long useful = work / grain > 0 ? work / grain : 1;
  const int nt = resolve_threads(threads);
  return useful < nt ? static_cast<int>(useful) : nt;
}

}  // namespace genrobust
