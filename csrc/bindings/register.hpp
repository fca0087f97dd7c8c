#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "genrobust/image_view.hpp"

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

// Views of a sequence of C-contiguous HWC (or HW) uint8 arrays. The arrays themselves are held too:
// the kernels run with the GIL released, when another thread could replace an item of the caller's
// list and free its buffer, so the batch keeps a reference to each array until the call returns.
// Declare it before the py::gil_scoped_release so that it is destroyed with the GIL held again.
struct ImageBatch {
  std::vector<py::array> arrays;
  std::vector<ImageU8> views;
};

inline ImageBatch image_views(const py::sequence& images, const char* fn) {
  ImageBatch batch;
  const std::size_t n = py::len(images);
  batch.arrays.reserve(n);
  batch.views.reserve(n);
  for (py::handle item : images) {
    require(py::isinstance<py::array>(item), std::string(fn) + ": images must be numpy arrays");
    auto a = py::reinterpret_borrow<py::array>(item);
    require(is_dtype<std::uint8_t>(a) && c_contiguous(a) && (a.ndim() == 2 || a.ndim() == 3),
            std::string(fn) + ": images must be C-contiguous uint8 HWC arrays");
    const std::int64_t c = a.ndim() == 3 ? a.shape(2) : 1;
    batch.views.push_back(ImageU8{static_cast<const std::uint8_t*>(a.data()), a.shape(0), a.shape(1), c});
    batch.arrays.push_back(std::move(a));
  }
  return batch;
}

}  // namespace genrobust::bindings
