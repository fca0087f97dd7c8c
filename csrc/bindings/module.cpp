// Entry point of genrobust_fast._core: each area registers its functions in its own file.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "genrobust/isa.hpp"
#include "genrobust/parallel.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace {

std::vector<std::string> isa_names(const std::vector<genrobust::Isa>& isas) {
  std::vector<std::string> out;
  for (genrobust::Isa isa : isas) out.emplace_back(genrobust::isa_name(isa));
  return out;
}

genrobust::Isa isa_named(const std::string& name) {
  for (genrobust::Isa isa : {genrobust::Isa::Baseline, genrobust::Isa::Avx2, genrobust::Isa::Avx512})
    if (name == genrobust::isa_name(isa)) return isa;
  throw std::invalid_argument("unknown instruction set " + name + "; expected baseline, avx2 or avx512");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "genrobust-fast native kernels (see genrobust_fast.kernels for the public API)";
  m.def("default_thread_count", &genrobust::default_thread_count);
  m.def("has_openmp", &genrobust::has_openmp);
  m.def("supported_isas", [] { return isa_names(genrobust::supported_isas()); },
        "Instruction sets this CPU can run the kernels on, baseline first.");
  m.def("isa", [] { return std::string(genrobust::isa_name(genrobust::isa_in_use())); },
        "The instruction set the kernels use: GENROBUST_ISA when set, else the best supported one, chosen on "
        "the first call. ValueError on a bad GENROBUST_ISA.");
  m.def("set_isa", &genrobust::set_isa, py::arg("name"),
        "Force an instruction set (baseline, avx2, avx512, or auto); ValueError when unknown or unsupported.");
  m.def("reset_isa", &genrobust::reset_isa, "Forget the choice: the next call reads GENROBUST_ISA again.");
  m.def(
      "resolve_isa",
      [](const std::string& requested, const std::vector<std::string>& supported) {
        std::vector<genrobust::Isa> isas;
        for (const std::string& name : supported) isas.push_back(isa_named(name));
        return std::string(genrobust::isa_name(genrobust::resolve_isa(requested, isas)));
      },
      py::arg("requested"), py::arg("supported"),
      "The instruction set a GENROBUST_ISA value selects on a CPU supporting `supported` (ValueError "
      "otherwise): the rule isa() applies, callable for any CPU.");
  genrobust::bindings::register_all(m);
}
