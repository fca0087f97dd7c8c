// Compiles the hot loops in the file named by GR_SIMD_INL once per instruction set: baseline (SSE2) always,
// AVX2+FMA and AVX-512 in GCC target regions on x86-64 (GENROBUST_X86_ISA_PATHS). That file puts its
// code in namespace GR_ISA_NS and may branch on GR_ISA_LEVEL (0, 1, 2); isa.cpp picks one at run time.
// One list of target flags for every kernel, so the paths cannot drift apart. No include guard: it is
// included once per kernel source, with GR_SIMD_INL defined:
//     #define GR_SIMD_INL "resize_simd.inl"
//     #include "isa_paths.inl"
//     #undef GR_SIMD_INL

#define GR_ISA_NS baseline
#define GR_ISA_LEVEL 0
#include GR_SIMD_INL
#undef GR_ISA_NS
#undef GR_ISA_LEVEL

#if defined(GENROBUST_X86_ISA_PATHS)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#define GR_ISA_NS avx2
#define GR_ISA_LEVEL 1
#include GR_SIMD_INL
#undef GR_ISA_NS
#undef GR_ISA_LEVEL
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which it then reports as maybe used
// uninitialised (GCC bug 105593, fixed in later releases).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define GR_ISA_NS avx512
#define GR_ISA_LEVEL 2
#include GR_SIMD_INL
#undef GR_ISA_NS
#undef GR_ISA_LEVEL
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
