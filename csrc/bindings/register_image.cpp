// crop_resize_normalize and to_uint8: arguments are read with the GIL held, then released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "genrobust/convert.hpp"
#include "genrobust/resize.hpp"
#include "register.hpp"

namespace genrobust::bindings {

namespace {

void crop_resize_normalize_py(const py::sequence& images, const py::array& boxes, const py::array& flips,
                              std::int64_t out_h, std::int64_t out_w, const py::array& mean, const py::array& std,
                              const std::string& dtype, py::array out, int threads) {
  const char* fn = "crop_resize_normalize";
  const ImageBatch batch = image_views(images, fn);
  const auto n = static_cast<std::int64_t>(batch.views.size());
  require(is_dtype<std::int64_t>(boxes) && c_contiguous(boxes) && boxes.ndim() == 2 && boxes.shape(0) == n &&
              boxes.shape(1) == 4,
          "crop_resize_normalize: boxes must be a C-contiguous int64 (N, 4) array");
  require((is_dtype<std::uint8_t>(flips) || is_dtype<bool>(flips)) && c_contiguous(flips) && flips.ndim() == 1 &&
              flips.shape(0) == n,
          "crop_resize_normalize: flips must be a C-contiguous bool (N,) array");
  require(is_dtype<float>(mean) && is_dtype<float>(std) && mean.ndim() == 1 && std.ndim() == 1 &&
              mean.shape(0) == std.shape(0) && (mean.shape(0) == 1 || mean.shape(0) == 3) && c_contiguous(mean) &&
              c_contiguous(std),
          "crop_resize_normalize: mean and std must be float32 arrays of 1 or 3 entries");
  const std::int64_t c = mean.shape(0);
  OutDType kind;
  if (dtype == "float32") {
    kind = OutDType::Float32;
    require(is_dtype<float>(out), "crop_resize_normalize: out must be float32");
  } else if (dtype == "float16" || dtype == "bfloat16") {
    kind = dtype == "float16" ? OutDType::Float16 : OutDType::BFloat16;
    require(out.itemsize() == 2, "crop_resize_normalize: out must have 2-byte items for " + dtype);
  } else {
    throw std::invalid_argument("crop_resize_normalize: dtype must be float32, float16 or bfloat16");
  }
  require(c_contiguous(out) && out.writeable() && out.ndim() == 4 && out.shape(0) == n && out.shape(1) == c &&
              out.shape(2) == out_h && out.shape(3) == out_w,
          "crop_resize_normalize: out must be a writable C-contiguous (N, C, H, W) array");
  std::vector<CropBox> box_list(n);
  const auto* b = static_cast<const std::int64_t*>(boxes.data());
  for (std::int64_t i = 0; i < n; ++i) box_list[i] = CropBox{b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]};
  const auto* flip_data = static_cast<const std::uint8_t*>(flips.data());
  const auto* mean_data = static_cast<const float*>(mean.data());
  const auto* std_data = static_cast<const float*>(std.data());
  void* out_data = out.mutable_data();
  py::gil_scoped_release release;
  crop_resize_normalize(batch.views.data(), box_list.data(), flip_data, n, out_h, out_w, c, mean_data, std_data, kind,
                        out_data, threads);
}

void to_uint8_py(const py::array& images, py::array out, int threads) {
  const bool half = images.dtype().kind() == 'f' && images.itemsize() == 2;
  require((is_dtype<float>(images) || half) && c_contiguous(images) && images.ndim() == 4,
          "to_uint8: images must be a C-contiguous float32 or float16 NCHW array");
  const std::int64_t n = images.shape(0), c = images.shape(1), h = images.shape(2), w = images.shape(3);
  require(is_dtype<std::uint8_t>(out) && c_contiguous(out) && out.writeable() && out.ndim() == 4 &&
              out.shape(0) == n && out.shape(1) == h && out.shape(2) == w && out.shape(3) == c,
          "to_uint8: out must be a writable C-contiguous uint8 NHWC array");
  const void* in = images.data();
  auto* dst = static_cast<std::uint8_t*>(out.mutable_data());
  py::gil_scoped_release release;
  to_uint8(in, half, n, c, h, w, dst, threads);
}

}  // namespace

void register_image(py::module_& m) {
  m.def("crop_resize_normalize", &crop_resize_normalize_py, py::arg("images"), py::arg("boxes"), py::arg("flips"),
        py::arg("out_h"), py::arg("out_w"), py::arg("mean"), py::arg("std"), py::arg("dtype"), py::arg("out"),
        py::arg("threads") = 0,
        "Crop, antialiased bilinear resize, flip and normalise into `out` (N, C, H, W). "
        "Use genrobust_fast.kernels.crop_resize_normalize, which validates the arguments.");
  m.def("to_uint8", &to_uint8_py, py::arg("images"), py::arg("out"), py::arg("threads") = 0,
        "NCHW float32/float16 in [-1, 1] -> NHWC uint8 into `out`. Use genrobust_fast.kernels.to_uint8.");
}

}  // namespace genrobust::bindings
