// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
// Paired timing: the order of the calls, the statistics and the failures; never a time.
#include "droidspeak/profile/paired_timing.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace ds = droidspeak;

TEST_CASE("summarize: median, extremes and half inter-quartile range of hand-made values") {
  const ds::Result<ds::profile::RatioSummary> odd = ds::profile::summarize({0.9, 0.5, 0.7});
  REQUIRE(odd);
  CHECK(odd->median == doctest::Approx(0.7));
  CHECK(odd->min == doctest::Approx(0.5));
  CHECK(odd->max == doctest::Approx(0.9));
  CHECK(odd->half_iqr == 0.0);  // under 4 values the extremes are the spread
  CHECK(odd->count == 3);

  // Sorted 1 2 3 4 5: quartiles 2 and 4 (linear interpolation), median 3.
  const ds::Result<ds::profile::RatioSummary> five = ds::profile::summarize({5.0, 1.0, 4.0, 2.0, 3.0});
  REQUIRE(five);
  CHECK(five->median == doctest::Approx(3.0));
  CHECK(five->half_iqr == doctest::Approx(1.0));

  // Even count: the median interpolates between the middle two.
  const ds::Result<ds::profile::RatioSummary> even = ds::profile::summarize({1.0, 2.0, 4.0, 8.0});
  REQUIRE(even);
  CHECK(even->median == doctest::Approx(3.0));
}

TEST_CASE("summarize: refuses empty and non-finite input") {
  CHECK_FALSE(ds::profile::summarize({}));
  CHECK_FALSE(ds::profile::summarize({1.0, std::nan("")}));
}

TEST_CASE("time_paired: warm-up pairs are run but not kept, and the order alternates") {
  std::string order;
  auto baseline = [&] {
    order += 'B';
    return ds::Status::ok();
  };
  auto candidate = [&] {
    order += 'C';
    return ds::Status::ok();
  };
  // Work that takes measurable time, so no ratio divides by zero.
  auto spin = [] {
    volatile double x = 0.0;
    for (int i = 0; i < 20000; ++i) x = x + 1.0;
  };
  auto b = [&] { spin(); return baseline(); };
  auto c = [&] { spin(); return candidate(); };
  const ds::Result<ds::profile::PairedTiming> t =
      ds::profile::time_paired(b, c, {.warmup_pairs = 1, .pairs = 4});
  REQUIRE(t);
  CHECK(order == "BCCBBCCBBC");
  CHECK(t->baseline_seconds.size() == 4);
  CHECK(t->candidate_seconds.size() == 4);
  CHECK(t->ratio.count == 4);
  CHECK(ds::profile::describe(*t).find("over 4 pairs") != std::string::npos);
}

TEST_CASE("time_paired: the first failure stops the measurement and names its side") {
  int calls = 0;
  auto ok = [&] {
    ++calls;
    return ds::Status::ok();
  };
  auto failing = [&] {
    ++calls;
    return ds::Status::io_error("link down");
  };
  const ds::Result<ds::profile::PairedTiming> t = ds::profile::time_paired(ok, failing, {.warmup_pairs = 0, .pairs = 3});
  REQUIRE_FALSE(t);
  CHECK(t.status().message().find("candidate") != std::string::npos);
  CHECK(t.status().message().find("link down") != std::string::npos);
  CHECK(calls == 2);
}

TEST_CASE("time_paired: refuses no pairs and negative warm-up") {
  auto ok = [] { return ds::Status::ok(); };
  CHECK_FALSE(ds::profile::time_paired(ok, ok, {.warmup_pairs = 0, .pairs = 0}));
  CHECK_FALSE(ds::profile::time_paired(ok, ok, {.warmup_pairs = -1, .pairs = 2}));
}
