#include "register.hpp"

namespace genrobust::bindings {

void register_all(pybind11::module_& m) {
  register_image(m);
  register_hash(m);
}

}  // namespace genrobust::bindings
