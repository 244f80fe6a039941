// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file ThreadPool: static splitting covers every index once, for any thread count.
#include "droidspeak/reference/thread_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

using namespace droidspeak;

TEST_CASE("thread pool: covers 0..n-1 exactly once in contiguous pieces") {
  for (int threads : {1, 2, 3, 8}) {
    reference::ThreadPool pool(threads);
    CHECK(pool.num_threads() == threads);
    for (std::int64_t n : {0, 1, 5, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      for (int rep = 0; rep < 3; ++rep) {
        pool.parallel_for(n, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
        });
      }
      for (auto& h : hits) CHECK(h.load() == 3);
    }
  }
}
