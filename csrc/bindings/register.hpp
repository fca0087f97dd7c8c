#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "genrobust/image.hpp"

namespace genrobust::bindings {

// One register_<area> per bindings/register_<area>.cpp; register_all calls each.
void register_all(pybind11::module_& m);
void register_image(pybind11::module_& m);
void register_hash(pybind11::module_& m);

// Helpers shared by the register_*.cpp files: turn already-validated numpy arrays into raw views.
// genrobust_fast.kernels._checks gives the user-facing errors; these checks only keep memory safe.
namespace py = pybind11;

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

template <typename T>
inline bool is_dtype(const py::array& a) {
  return a.dtype().is(py::dtype::of<T>());
}

inline bool c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// A sequence of C-contiguous HWC (or HW) uint8 arrays -> image views.
inline std::vector<ImageU8> image_views(const py::sequence& images, const char* fn) {
  std::vector<ImageU8> views;
  views.reserve(py::len(images));
  for (py::handle item : images) {
    require(py::isinstance<py::array>(item), std::string(fn) + ": images must be numpy arrays");
    auto a = py::reinterpret_borrow<py::array>(item);
    require(is_dtype<std::uint8_t>(a) && c_contiguous(a) && (a.ndim() == 2 || a.ndim() == 3),
            std::string(fn) + ": images must be C-contiguous uint8 HWC arrays");
    const std::int64_t c = a.ndim() == 3 ? a.shape(2) : 1;
    views.push_back(ImageU8{static_cast<const std::uint8_t*>(a.data()), a.shape(0), a.shape(1), c});
  }
  return views;
}

}  // namespace genrobust::bindings
