// phash64 and hamming_topk: arguments are read with the GIL held, then released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "genrobust/hash.hpp"
#include "register.hpp"

namespace genrobust::bindings {

namespace {

void phash64_py(const py::sequence& images, py::array out, int threads) {
  const ImageBatch batch = image_views(images, "phash64");
  const auto n = static_cast<std::int64_t>(batch.views.size());
  require(is_dtype<std::uint64_t>(out) && c_contiguous(out) && out.writeable() && out.ndim() == 1 &&
              out.shape(0) == n,
          "phash64: out must be a writable uint64 (N,) array");
  auto* dst = static_cast<std::uint64_t*>(out.mutable_data());
  py::gil_scoped_release release;
  phash64(batch.views.data(), n, dst, threads);
}

void hamming_topk_py(const py::array& queries, const py::array& references, std::int64_t k, py::array indices,
                     py::array distances, int threads, int variant) {
  require(is_dtype<std::uint64_t>(queries) && is_dtype<std::uint64_t>(references) && queries.ndim() == 1 &&
              references.ndim() == 1 && c_contiguous(queries) && c_contiguous(references),
          "hamming_topk: queries and references must be C-contiguous uint64 (N,) arrays");
  const std::int64_t nq = queries.shape(0), nr = references.shape(0);
  require(k >= 1 && k <= nr, "hamming_topk: need 1 <= k <= len(references)");
  require(is_dtype<std::int64_t>(indices) && is_dtype<std::int32_t>(distances) && c_contiguous(indices) &&
              c_contiguous(distances) && indices.writeable() && distances.writeable() && indices.ndim() == 2 &&
              distances.ndim() == 2 && indices.shape(0) == nq && indices.shape(1) == k &&
              distances.shape(0) == nq && distances.shape(1) == k,
          "hamming_topk: indices (int64) and distances (int32) must be writable (Q, k) arrays");
  const auto* q = static_cast<const std::uint64_t*>(queries.data());
  const auto* r = static_cast<const std::uint64_t*>(references.data());
  auto* idx = static_cast<std::int64_t*>(indices.mutable_data());
  auto* dist = static_cast<std::int32_t*>(distances.mutable_data());
  py::gil_scoped_release release;
  hamming_topk(q, nq, r, nr, k, idx, dist, threads, variant);
}

}  // namespace

void register_hash(py::module_& m) {
  m.def("phash64", &phash64_py, py::arg("images"), py::arg("out"), py::arg("threads") = 0,
        "64-bit DCT perceptual hash per image into `out`. Use genrobust_fast.kernels.phash64.");
  m.def("hamming_topk", &hamming_topk_py, py::arg("queries"), py::arg("references"), py::arg("k"),
        py::arg("indices"), py::arg("distances"), py::arg("threads") = 0, py::arg("variant") = 0,
        "k nearest references by Hamming distance (variant 0 = best for isa(), 1 portable, 2 POPCNT, "
        "3 AVX-512 VPOPCNTDQ). "
        "Use genrobust_fast.kernels.hamming_topk.");
  m.def("has_hardware_popcount", &has_hardware_popcount);
  m.def("has_avx512_popcount", &has_avx512_popcount);
}

}  // namespace genrobust::bindings
