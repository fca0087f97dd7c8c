#include "genrobust/parallel.hpp"

namespace genrobust {

int default_thread_count() { return resolve_threads(0); }

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace genrobust
