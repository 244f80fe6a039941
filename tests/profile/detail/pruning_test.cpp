// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The rules of the profiler's exact pruning: the bound, dominance (ties included), and
//! the two orderings that only change what pruning saves.
#include "droidspeak/profile/detail/pruning.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <vector>

using namespace droidspeak;
using profile::detail::CompletePlan;

TEST_CASE("drop_lower_bound: a partial sum on the final rows' scale") {
  profile::QualityMetrics full;
  full.loss_sum = 10.0;
  full.predictions = 10;
  full.kl_rows = 12;
  profile::QualityMetrics partial;  // 2 of the samples
  partial.loss_sum = 6.0;
  partial.predictions = 4;
  partial.kl_sum = 0.6;
  partial.kl_rows = 4;
  CHECK(profile::detail::drop_lower_bound(partial, full, profile::QualityMeasure::kKl) == doctest::Approx(0.05));
  CHECK(profile::detail::drop_lower_bound(partial, full, profile::QualityMeasure::kLoss) == doctest::Approx(-0.4));
  CHECK(profile::detail::pruned_value(partial, profile::QualityMeasure::kKl) == 0.6);
  CHECK(profile::detail::pruned_value(partial, profile::QualityMeasure::kLoss) == 6.0);
}

TEST_CASE("dominated: by a complete plan with fewer layers at least as good, or as many and better") {
  const std::vector<CompletePlan> complete{{0, 0, 0.5}, {2, 7, 0.2}};
  CHECK_FALSE(profile::detail::dominated(1, 3, 0.49, {}));
  CHECK_FALSE(profile::detail::dominated(1, 3, 0.49, complete));
  CHECK(profile::detail::dominated(1, 3, 0.5, complete));  // as good as full reuse, a layer more
  CHECK(profile::detail::dominated(3, 3, 0.2, complete));
  CHECK_FALSE(profile::detail::dominated(3, 3, 0.19, complete));
  // As many layers: only a better plan, or an equal one earlier in the grid, dominates.
  CHECK(profile::detail::dominated(2, 9, 0.21, complete));
  CHECK(profile::detail::dominated(2, 9, 0.2, complete));
  CHECK_FALSE(profile::detail::dominated(2, 5, 0.2, complete));
  CHECK_FALSE(profile::detail::dominated(2, 9, 0.19, complete));
  // A plan with more layers never bounds one with fewer.
  CHECK_FALSE(profile::detail::dominated(1, 2, 0.3, complete));
}

TEST_CASE("estimated_total: the partial sum scaled by full reuse's share on the same samples") {
  // Measured on samples holding 3 of full reuse's 12: the hard quarter.
  CHECK(profile::detail::estimated_total(2.0, 3.0, 12.0, 1, 8) == 8.0);
  // Full reuse exact there: the plain mean, scaled to all samples.
  CHECK(profile::detail::estimated_total(2.0, 0.0, 12.0, 2, 8) == 8.0);
  CHECK(profile::detail::estimated_total(0.0, 0.0, 0.0, 0, 8) == 0.0);
}

TEST_CASE("sample_order_like: the neighbour's worst samples first, then the fallback order") {
  const std::vector<std::size_t> fallback{3, 0, 2, 1, 4};
  CHECK(profile::detail::sample_order_like({}, fallback) == fallback);
  const std::vector<std::optional<double>> neighbour{0.1, std::nullopt, 0.7, 0.1, std::nullopt};
  // 2 (0.7), then 3 and 0 (0.1 each, in fallback order), then the unmeasured 1 and 4 (fallback order).
  CHECK(profile::detail::sample_order_like(neighbour, fallback) == std::vector<std::size_t>{2, 3, 0, 1, 4});
}
