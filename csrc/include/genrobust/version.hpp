#pragma once

namespace genrobust {

// Number of threads the kernels use when the caller passes threads <= 0.
int default_thread_count();

// True when the library was compiled with OpenMP.
bool has_openmp();

}  // namespace genrobust
