// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The doctest main shared by every host test executable. A run in which a test case
//! called skip_test() (support/skip.hpp) and nothing failed exits with kSkipReturnCode, so
//! CTest reports it as skipped, never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit()) return rc;  // --help, --list-test-cases, ...
  if (rc == 0 && droidspeak::test::test_was_skipped()) return droidspeak::test::kSkipReturnCode;
  return rc;
}
