#include "genrobust/version.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace genrobust {

int default_thread_count() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace genrobust
