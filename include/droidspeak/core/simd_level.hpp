// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Runtime CPU dispatch: which vector width this CPU runs, and the target attributes that
//! let one function body be compiled again for it. The library is built for generic x86-64
//! (SSE2); a hot loop compiled a second time under DROIDSPEAK_TARGET_AVX2 or
//! DROIDSPEAK_TARGET_AVX512 and chosen with cpu_simd_level() runs at that width where the CPU
//! has it, and the binary still runs on every x86-64.
//!
//! NOTE: the wide copies compile with fp-contract=off. Under GCC's default -ffp-contract=fast,
//! AVX-512F (which carries its own FMA) would fuse a * b + c in float code and change its
//! rounding, so the wide copies would no longer be bit-identical to the generic one; every
//! dispatched function promises that they are for every value that is not NaN (a NaN stays a
//! NaN, but which operand's sign and payload it carries follows the compiler's operand order).
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define DROIDSPEAK_HAVE_X86_DISPATCH 1
#if defined(__clang__)
// Clang has no optimize attribute; its contraction is per expression, turned off where the
// float arithmetic is (DROIDSPEAK_NO_FP_CONTRACT).
#define DROIDSPEAK_TARGET_AVX2 __attribute__((target("avx2")))
#define DROIDSPEAK_TARGET_AVX512 __attribute__((target("avx2,avx512f,avx512vl,avx512dq,avx512bw")))
#else
#define DROIDSPEAK_TARGET_AVX2 __attribute__((target("avx2"), optimize("fp-contract=off")))
#define DROIDSPEAK_TARGET_AVX512 __attribute__((target("avx2,avx512f,avx512vl,avx512dq,avx512bw"), optimize("fp-contract=off")))
#endif
#else
#define DROIDSPEAK_HAVE_X86_DISPATCH 0
#endif

// The first statement of a function body whose float arithmetic a dispatched copy inlines:
// under Clang, no a * b + c fused into one rounding there (GCC: see the targets above).
#if defined(__clang__)
#define DROIDSPEAK_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define DROIDSPEAK_NO_FP_CONTRACT
#endif

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! A vector width a dispatched function can run at, narrowest first.
enum class SimdLevel : std::uint8_t {
  kGeneric,  //!< what the build targets (SSE2 on x86-64, NEON on arm64)
  kAvx2,     //!< 256-bit AVX2
  kAvx512,   //!< 512-bit AVX-512 (F, VL, DQ, BW)
};

inline const char* to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::kGeneric: return "generic";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

//! The widest level this CPU and its operating system run (cpuid and the OS's saved vector
//! state, as the compiler's runtime reads them), looked up once. kGeneric off x86 or without
//! GCC/Clang.
inline SimdLevel cpu_simd_level() {
#if DROIDSPEAK_HAVE_X86_DISPATCH
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) {
      return SimdLevel::kAvx512;
    }
    return __builtin_cpu_supports("avx2") ? SimdLevel::kAvx2 : SimdLevel::kGeneric;
  }();
  return level;
#else
  return SimdLevel::kGeneric;
#endif
}

//! `wanted`, lowered to what this CPU runs: never a level whose instructions would fault here.
inline SimdLevel runnable_simd_level(SimdLevel wanted) {
  const SimdLevel have = cpu_simd_level();
  return static_cast<std::uint8_t>(wanted) <= static_cast<std::uint8_t>(have) ? wanted : have;
}

}}  // namespace droidspeak::DROIDSPEAK_ABI
