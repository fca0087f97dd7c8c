#pragma once
// Thread counts for the kernels' OpenMP regions (serial code when built without OpenMP).
#ifdef _OPENMP
#include <omp.h>
#endif

namespace genrobust {

// Number of threads the kernels use when the caller passes threads <= 0 (implemented in parallel.cpp).
int default_thread_count();

// True when the library was compiled with OpenMP.
bool has_openmp();

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
