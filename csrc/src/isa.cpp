// Run-time choice of the kernels' instruction set: CPUID via GCC's __builtin_cpu_supports (which
// also checks that the OS saves the AVX / AVX-512 registers), overridable with GENROBUST_ISA.
#include "genrobust/isa.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace genrobust {
namespace {

constexpr Isa kAllIsas[] = {Isa::Baseline, Isa::Avx2, Isa::Avx512};
constexpr int kUnresolved = -1;

std::atomic<int> g_isa{kUnresolved};

bool cpu_supports(Isa isa) {
#if defined(GENROBUST_X86_ISA_PATHS)
  switch (isa) {
    case Isa::Baseline: return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::Avx512:
      return cpu_supports(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::Baseline;
#endif
}

std::string names(const std::vector<Isa>& isas) {
  std::string out;
  for (Isa isa : isas) out += (out.empty() ? "" : ", ") + std::string(isa_name(isa));
  return out;
}

std::string normalised(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  std::string out = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Baseline: return "baseline";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas)
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

Isa resolve_isa(const std::string& requested, const std::vector<Isa>& supported, const std::string& what) {
  if (supported.empty()) throw std::invalid_argument("resolve_isa: no supported instruction set given");
  const std::string name = normalised(requested);
  if (name.empty() || name == "auto") return supported.back();
  for (Isa isa : kAllIsas) {
    if (name != isa_name(isa)) continue;
    if (std::find(supported.begin(), supported.end(), isa) != supported.end()) return isa;
    throw std::invalid_argument(what + "=" + requested + ": this CPU does not support " + name +
                                "; expected one of " + names(supported) + " or auto");
  }
  throw std::invalid_argument(what + "=" + requested + " is not an instruction set; expected one of baseline, " +
                              "avx2, avx512 or auto; this CPU supports " + names(supported));
}

Isa isa_in_use() {
  const int chosen = g_isa.load(std::memory_order_acquire);
  if (chosen != kUnresolved) return static_cast<Isa>(chosen);
  const char* env = std::getenv(kIsaEnvVar);
  const Isa isa = resolve_isa(env ? env : "", supported_isas(), kIsaEnvVar);
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
  return isa;
}

void set_isa(const std::string& name) {
  g_isa.store(static_cast<int>(resolve_isa(name, supported_isas(), "isa")), std::memory_order_release);
}

void reset_isa() { g_isa.store(kUnresolved, std::memory_order_release); }

}  // namespace genrobust
