// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file ThreadPool: its pieces cover every index once, for any thread count and any number
//! of pieces per thread.
#include "droidspeak/reference/thread_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

using namespace droidspeak;

TEST_CASE("thread pool: covers 0..n-1 exactly once in contiguous pieces") {
  for (int pieces : {1, 4}) {
    for (int threads : {1, 2, 3, 8}) {
      reference::ThreadPool pool(threads, pieces);
      CHECK(pool.num_threads() == threads);
      for (std::int64_t n : {0, 1, 5, 1000}) {
        for (std::int64_t min_per_thread : {1, 7}) {
          std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
          std::atomic<bool> empty_piece{false};  // doctest's CHECK is not thread-safe
          for (int rep = 0; rep < 3; ++rep) {
            pool.parallel_for(n, [&](std::int64_t b, std::int64_t e) {
              if (b >= e) empty_piece = true;
              for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
            }, min_per_thread);
          }
          for (auto& h : hits) CHECK(h.load() == 3);
          CHECK_FALSE(empty_piece.load());
        }
      }
    }
  }
}
