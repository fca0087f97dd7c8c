// Entry point of genrobust_fast._core: each area registers its functions in its own file.
#include <pybind11/pybind11.h>

#include "genrobust/version.hpp"
#include "register.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "genrobust-fast native kernels (see genrobust_fast.kernels for the public API)";
  m.def("default_thread_count", &genrobust::default_thread_count);
  m.def("has_openmp", &genrobust::has_openmp);
  genrobust::bindings::register_all(m);
}
