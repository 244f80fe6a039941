// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The candidate-plan search: counts against the closed form and a brute force, no
//! duplicates, validity, adjacency, and extension + reselection on a hand-made grid.
#include "droidspeak/plan/candidates.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::plan::CandidateBounds;
using droidspeak::plan::ProfiledPlan;
using droidspeak::plan::ReusePlan;

namespace {

std::int64_t binomial(std::int64_t n, std::int64_t k) {
  if (k < 0 || k > n) return 0;
  std::int64_t r = 1;
  for (std::int64_t i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

// Brute force: a plan is a labelling of each layer as reused or recomputed plus, between two
// recomputed neighbours, whether an interval ends there. Counts those with j intervals.
std::int64_t brute_force_count(std::int64_t L, std::int64_t j) {
  std::int64_t count = 0;
  for (std::int64_t mask = 0; mask < (std::int64_t{1} << L); ++mask) {
    for (std::int64_t cuts = 0; cuts < (std::int64_t{1} << (L - 1)); ++cuts) {
      bool valid = true;
      std::int64_t intervals = 0;
      for (std::int64_t l = 0; l < L; ++l) {
        const bool rec = (mask >> l) & 1;
        const bool prev = l > 0 && ((mask >> (l - 1)) & 1);
        const bool cut = l > 0 && ((cuts >> (l - 1)) & 1);
        if (cut && !(rec && prev)) valid = false;  // a cut only between two recomputed layers
        if (rec && (!prev || cut)) ++intervals;
      }
      if (valid && intervals == j) ++count;
    }
  }
  return count;
}

std::vector<ReusePlan> plans(std::int64_t L, const CandidateBounds& b) {
  auto r = plan::candidate_plans(L, b);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("candidate counts: C(L + j, 2j) plans of j intervals, as a brute force counts them") {
  for (std::int64_t L = 1; L <= 7; ++L) {
    for (std::int64_t j = 1; j <= 3; ++j) {
      CAPTURE(L);
      CAPTURE(j);
      const auto got = static_cast<std::int64_t>(plans(L, {.min_intervals = j, .max_intervals = j}).size());
      CHECK(got == binomial(L + j, 2 * j));
      CHECK(got == brute_force_count(L, j));
    }
    // Up to k intervals is the sum; with zero intervals allowed, full reuse comes first.
    const std::vector<ReusePlan> up_to_2 = plans(L, {.min_intervals = 0, .max_intervals = 2, .min_recomputed = 0});
    CHECK(static_cast<std::int64_t>(up_to_2.size()) == 1 + binomial(L + 1, 2) + binomial(L + 2, 4));
    CHECK(up_to_2.front() == ReusePlan::full_reuse(L));
  }
}

TEST_CASE("candidates are valid, distinct, inside their bounds and ordered") {
  const std::int64_t L = 8;
  const std::vector<ReusePlan> ps =
      plans(L, {.min_intervals = 2, .max_intervals = 3, .min_recomputed = 3, .max_recomputed = 5});
  REQUIRE(!ps.empty());
  std::set<std::string> seen;
  for (const ReusePlan& p : ps) {
    CAPTURE(p.to_string());
    CHECK(seen.insert(p.to_string()).second);
    CHECK(ReusePlan::create(L, p.intervals()).is_ok());
    CHECK(p.num_layers() == L);
    CHECK(p.num_intervals() >= 2);
    CHECK(p.num_intervals() <= 3);
    CHECK(p.num_recomputed() >= 3);
    CHECK(p.num_recomputed() <= 5);
  }
  // Every plan in the bounds is listed: those of the unbounded list that fit.
  std::int64_t fitting = 0;
  for (const ReusePlan& p : plans(L, {.min_intervals = 0, .max_intervals = 3, .min_recomputed = 0})) {
    if (p.num_intervals() >= 2 && p.num_recomputed() >= 3 && p.num_recomputed() <= 5) ++fitting;
  }
  CHECK(fitting == static_cast<std::int64_t>(ps.size()));
  // Lexicographic by the intervals' (first, last).
  for (std::size_t i = 1; i < ps.size(); ++i) {
    const auto& a = ps[i - 1].intervals();
    const auto& b = ps[i].intervals();
    bool less = false;
    for (std::size_t j = 0; j < std::min(a.size(), b.size()); ++j) {
      if (a[j].first != b[j].first) { less = a[j].first < b[j].first; break; }
      if (a[j].last != b[j].last) { less = a[j].last < b[j].last; break; }
      if (j + 1 == std::min(a.size(), b.size())) less = a.size() < b.size();
    }
    CHECK(less);
  }
}

TEST_CASE("adjacent intervals are distinct candidates from their union") {
  const std::vector<ReusePlan> two = plans(6, {.min_intervals = 2, .max_intervals = 2});
  std::set<std::string> names;
  for (const ReusePlan& p : two) names.insert(p.to_string());
  CHECK(names.count("1-2,3-4") == 1);  // adjacent
  CHECK(names.count("1,3") == 1);      // with a gap
  CHECK(names.count("1-4") == 0);      // their union has one interval
  const std::vector<ReusePlan> one = plans(6, {.min_intervals = 1, .max_intervals = 1});
  CHECK(std::find(one.begin(), one.end(), *ReusePlan::parse("1-4", 6)) != one.end());
  // Same compute, different plans.
  CHECK(ReusePlan::parse("1-2,3-4", 6)->num_recomputed() == ReusePlan::parse("1-4", 6)->num_recomputed());
}

TEST_CASE("candidate_plans refuses empty bounds") {
  CHECK(plan::candidate_plans(0, {}).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(plan::candidate_plans(4, {.min_intervals = 2, .max_intervals = 1}).status().code() ==
        StatusCode::kErrorInvalidArgument);
  CHECK(plan::candidate_plans(4, {.min_intervals = 1, .max_intervals = 1, .min_recomputed = 3, .max_recomputed = 2})
            .status()
            .code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("select_extended: extends with cheaper multi-interval plans and selects again") {
  const std::int64_t L = 6;
  // A hand-made grid: single intervals get better with more layers; [1, 4] (4 layers) is the
  // cheapest within 5 %.
  std::vector<ProfiledPlan> grid{{ReusePlan::full_reuse(L), 0.5}};
  for (const ReusePlan& p : plans(L, {.min_intervals = 1, .max_intervals = 1})) {
    grid.push_back({p, p.to_string() == "1-4" ? 0.04 : 0.30 - 0.04 * static_cast<double>(p.num_recomputed())});
  }
  // The evaluator: "1,3-4" (3 layers, adjacent-free) is within threshold, "1-2,3" (3 layers,
  // adjacent) even better, everything else not.
  std::int64_t calls = 0;
  std::vector<std::string> asked;
  auto evaluate = [&](std::span<const ReusePlan> ps) -> Result<std::vector<double>> {
    ++calls;
    std::vector<double> d;
    for (const ReusePlan& p : ps) {
      asked.push_back(p.to_string());
      d.push_back(p.to_string() == "1,3-4" ? 0.03 : p.to_string() == "1-2,3" ? 0.02 : 0.2);
    }
    return d;
  };

  SUBCASE("one interval: no extension") {
    auto r = plan::select_extended(grid, L, 0.05, 1, evaluate);
    REQUIRE(r.is_ok());
    CHECK(r->selected.plan.to_string() == "1-4");
    CHECK(r->extension.empty());
    CHECK(calls == 0);
  }
  SUBCASE("two intervals: the best 3-layer two-interval plan wins") {
    auto r = plan::select_extended(grid, L, 0.05, 2, evaluate);
    REQUIRE(r.is_ok());
    CHECK(calls == 1);
    CHECK(r->selected.plan.to_string() == "1-2,3");
    CHECK(r->selected.quality_drop == 0.02);
    // Exactly the two-interval plans of 2 or 3 layers were asked for.
    const auto expected = plans(L, {.min_intervals = 2, .max_intervals = 2, .min_recomputed = 2, .max_recomputed = 3});
    REQUIRE(asked.size() == expected.size());
    for (std::size_t i = 0; i < asked.size(); ++i) CHECK(asked[i] == expected[i].to_string());
    CHECK(r->extension.size() == expected.size());
  }
  SUBCASE("an evaluator error is passed on, a wrong count is refused") {
    auto failing = [](std::span<const ReusePlan>) -> Result<std::vector<double>> {
      return Status::io_error("engine down");
    };
    CHECK(plan::select_extended(grid, L, 0.05, 2, failing).status().message() == "engine down");
    auto short_ = [](std::span<const ReusePlan>) -> Result<std::vector<double>> { return std::vector<double>{0.0}; };
    CHECK(plan::select_extended(grid, L, 0.05, 2, short_).status().code() == StatusCode::kErrorInternal);
  }
  SUBCASE("a selection of 2 layers or fewer is not extended") {
    grid[0].quality_drop = 0.01;  // full reuse already within threshold
    auto r = plan::select_extended(grid, L, 0.05, 2, evaluate);
    REQUIRE(r.is_ok());
    CHECK(r->selected.plan == ReusePlan::full_reuse(L));
    CHECK(calls == 0);
  }
}
