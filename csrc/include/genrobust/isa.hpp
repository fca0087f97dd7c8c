#pragma once
// Which SIMD instruction set the image kernels' inner loops use, chosen once at run time.
//
// Every path is compiled into the library (GCC `target` regions, never -march=native), so one build
// runs on any x86-64 CPU: the first kernel call picks GENROBUST_ISA when it is set, else the best
// path this CPU supports (CPUID). Other architectures and compilers have only the baseline path.
#include <string>
#include <vector>

// The AVX2 and AVX-512 paths are compiled where GCC's `#pragma GCC target` regions are available.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GENROBUST_X86_ISA_PATHS 1
#endif

namespace genrobust {

enum class Isa : int {
  Baseline = 0,  // x86-64 baseline (SSE2), or plain C++ elsewhere
  Avx2 = 1,      // AVX2 + FMA + F16C (x86-64-v3)
  Avx512 = 2,    // AVX-512 F/BW/DQ/VL (x86-64-v4)
};

constexpr const char* kIsaEnvVar = "GENROBUST_ISA";

const char* isa_name(Isa isa);

// The paths this CPU can run, baseline first.
std::vector<Isa> supported_isas();

// The path named `requested` ("baseline", "avx2", "avx512"; "auto" or "" = the last of `supported`),
// or std::invalid_argument saying `what`=requested is unknown or unsupported and naming the values
// `supported` allows. Case and surrounding spaces are ignored.
Isa resolve_isa(const std::string& requested, const std::vector<Isa>& supported,
                const std::string& what = kIsaEnvVar);

// The path in use: resolved from GENROBUST_ISA and CPUID on the first call (std::invalid_argument on
// a bad GENROBUST_ISA, re-raised on every call until it is fixed), then kept.
Isa isa_in_use();

// Force a path by name (same names and errors as resolve_isa against this CPU).
void set_isa(const std::string& name);

// Forget the choice: the next isa_in_use() reads GENROBUST_ISA again.
void reset_isa();

}  // namespace genrobust
