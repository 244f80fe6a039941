// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Nearest-rank percentiles and the latency summary against hand-computed cases.
#include "droidspeak/serving/latency_summary.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;
using serving::percentile_nearest_rank;

TEST_CASE("nearest-rank percentiles are values of the set") {
  const std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(*percentile_nearest_rank(ten, 50) == 5);   // ceil(5.0) = rank 5
  CHECK(*percentile_nearest_rank(ten, 99) == 10);  // ceil(9.9) = rank 10
  CHECK(*percentile_nearest_rank(ten, 0) == 1);
  CHECK(*percentile_nearest_rank(ten, 100) == 10);
  CHECK(*percentile_nearest_rank(ten, 55) == 6);   // ceil(5.5) = rank 6
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  CHECK(*percentile_nearest_rank(hundred, 99) == 99);  // rank exactly 99, not 100
  CHECK(*percentile_nearest_rank(hundred, 50) == 50);
  std::vector<double> thousand;
  for (int i = 1; i <= 1000; ++i) thousand.push_back(i);
  CHECK(*percentile_nearest_rank(thousand, 99.9) == 999);
  const std::vector<double> one = {0.25};
  CHECK(*percentile_nearest_rank(one, 50) == 0.25);
  CHECK(*percentile_nearest_rank(one, 99) == 0.25);
}

TEST_CASE("percentiles refuse an empty set and a percent outside [0, 100]") {
  CHECK(percentile_nearest_rank({}, 50).status().message() == "percentile: no values");
  const std::vector<double> v = {1.0};
  CHECK(!percentile_nearest_rank(v, -1).is_ok());
  CHECK(!percentile_nearest_rank(v, 100.5).is_ok());
  CHECK(!percentile_nearest_rank(v, std::nan("")).is_ok());
}

TEST_CASE("the summary of three requests, by hand") {
  // Times to first token 2, 2, 3; first arrival 0, last completion 5.
  const std::vector<serving::RequestTiming> r = {{0.0, 2.0}, {1.0, 3.0}, {2.0, 5.0}};
  const auto s = serving::summarize_requests(r);
  REQUIRE(s.is_ok());
  CHECK(s->count == 3);
  CHECK(s->p50 == 2.0);  // ceil(1.5) = rank 2 of {2, 2, 3}
  CHECK(s->p99 == 3.0);
  CHECK(s->mean == doctest::Approx(7.0 / 3.0));
  CHECK(s->makespan == 5.0);
  CHECK(s->throughput == doctest::Approx(0.6));
}

TEST_CASE("the makespan runs from the earliest arrival to the latest completion, in any order") {
  const std::vector<serving::RequestTiming> r = {{4.0, 4.5}, {1.0, 6.0}, {2.0, 2.5}};
  const auto s = *serving::summarize_requests(r);
  CHECK(s.makespan == 5.0);
  CHECK(s.throughput == doctest::Approx(0.6));
  CHECK(s.p50 == 0.5);
  CHECK(s.p99 == 5.0);
}

TEST_CASE("the summary refuses no requests, a completion before its arrival and non-finite times") {
  CHECK(serving::summarize_requests({}).status().message() == "latency summary: no requests");
  const std::vector<serving::RequestTiming> early = {{0.0, 1.0}, {2.0, 1.5}};
  CHECK(serving::summarize_requests(early).status().message().find("request 1 arrives at 2") != std::string::npos);
  const std::vector<serving::RequestTiming> nan = {{0.0, std::nan("")}};
  CHECK(!serving::summarize_requests(nan).is_ok());
}
