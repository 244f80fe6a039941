// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Runtime CPU dispatch: the level this CPU runs, and the lowering that keeps a wide copy
//! from ever running where its instructions would fault.
#include "droidspeak/core/simd_level.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace droidspeak;

TEST_CASE("simd_level: every level has a name") {
  CHECK(std::string(to_string(SimdLevel::kGeneric)) == "generic");
  CHECK(std::string(to_string(SimdLevel::kAvx2)) == "avx2");
  CHECK(std::string(to_string(SimdLevel::kAvx512)) == "avx512");
}

TEST_CASE("simd_level: the CPU's level is stable, and a wanted level is lowered to it, never raised") {
  const SimdLevel have = cpu_simd_level();
  CHECK(cpu_simd_level() == have);
  for (SimdLevel wanted : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    const SimdLevel got = runnable_simd_level(wanted);
    CHECK(got <= wanted);
    CHECK(got <= have);
    CHECK((got == wanted || got == have));
  }
#if !DROIDSPEAK_HAVE_X86_DISPATCH
  CHECK(have == SimdLevel::kGeneric);  // no wide copies exist off x86
#endif
}
