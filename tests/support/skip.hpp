// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Skipping a host test case at run time so that CTest reports it SKIPPED, not passed.
//!
//! Why at run time and not with doctest::skip: CTest lists the test cases when the binary
//! is built, and what a test needs (the bundled models, data files) may arrive later.
//! How: skip_test() prints the reason and records the skip; the shared test main
//! (tests/test_main.cpp) then exits with kSkipReturnCode when nothing failed, and every
//! host test is registered with SKIP_RETURN_CODE kSkipReturnCode (tests/CMakeLists.txt).
//! Each CTest test runs one test case, so exactly the skipped ones read SKIPPED.
//! Usage: `if (!have_models) return droidspeak::test::skip_test("no bundled models in ...");`
#pragma once

#include <doctest/doctest.h>

#include <string>

namespace droidspeak::test {

//! The exit code CTest reads as "skipped" (the CUDA tests use it too).
inline constexpr int kSkipReturnCode = 77;

//! True once a test case of this run called skip_test().
inline bool& test_was_skipped() {
  static bool skipped = false;
  return skipped;
}

//! Marks the running test case skipped, saying why. Return right after it.
inline void skip_test(const std::string& why) {
  MESSAGE("SKIPPED: " << why);
  test_was_skipped() = true;
}

}  // namespace droidspeak::test
