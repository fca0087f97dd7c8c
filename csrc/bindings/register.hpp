#pragma once
#include <pybind11/pybind11.h>

namespace genrobust::bindings {

// One register_<area> per bindings/register_<area>.cpp; register_all calls each.
void register_all(pybind11::module_& m);

}  // namespace genrobust::bindings
