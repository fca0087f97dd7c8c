#include "register.hpp"

namespace genrobust::bindings {

void register_all(pybind11::module_& m) { (void)m; }

}  // namespace genrobust::bindings
