// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The doctest main of the CUDA test executables: without a device every run exits
//! with 77, which CTest reports as skipped (SKIP_RETURN_CODE), never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include "droidspeak/cuda/device.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {

// Queries that only describe the tests (doctest_discover_tests runs --list-test-cases at
// build time) are answered with or without a device.
bool is_query(std::string_view arg) {
  for (std::string_view q : {"--list-", "-ltc", "-lts", "-lr", "--help", "-h", "-?",
                             "--version", "-v", "--count", "-c"}) {
    if (arg.substr(0, q.size()) == q) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  bool query = false;
  for (int i = 1; i < argc; ++i) query = query || is_query(argv[i]);
  if (!query && !droidspeak::cuda::has_device()) {
    std::printf("no CUDA device: skipping the GPU tests\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
