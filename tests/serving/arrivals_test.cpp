// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Poisson arrivals: deterministic for a seed, the documented inversion, the rate's
//! scaling, and refused inputs.
#include "droidspeak/serving/arrivals.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace droidspeak;

TEST_CASE("arrivals are the running sum of -ln(u) / rate, u from the seed's mt19937_64 draws") {
  const auto a = serving::poisson_arrivals(4.0, 3, 7);
  REQUIRE(a.is_ok());
  REQUIRE(a->size() == 3);
  std::mt19937_64 rng(7);
  double t = 0.0;
  for (double got : *a) {
    const double u = static_cast<double>((rng() >> 11) + 1) / 9007199254740992.0;  // 2^53
    t += -std::log(u) / 4.0;
    CHECK(got == t);
  }
}

TEST_CASE("one seed gives the same times, another seed others; the rate only scales them") {
  const auto a = *serving::poisson_arrivals(2.0, 200, 11);
  const auto b = *serving::poisson_arrivals(2.0, 200, 11);
  const auto c = *serving::poisson_arrivals(2.0, 200, 12);
  const auto d = *serving::poisson_arrivals(1.0, 200, 11);
  CHECK(a == b);
  CHECK(a != c);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i] > (i == 0 ? 0.0 : a[i - 1]));  // ascending, first after one gap
    CHECK(a[i] == doctest::Approx(d[i] / 2.0).epsilon(1e-12));
  }
}

TEST_CASE("the mean gap is 1 / rate over many arrivals") {
  const auto a = *serving::poisson_arrivals(50.0, 20000, 3);
  // 20000 exponential gaps: the mean's standard error is 0.7 % of it; this seed is fixed.
  CHECK(a.back() / 20000.0 == doctest::Approx(1.0 / 50.0).epsilon(0.03));
}

TEST_CASE("no arrivals for a count of 0; bad rates and counts are refused") {
  CHECK(serving::poisson_arrivals(1.0, 0, 1)->empty());
  for (double rate : std::vector<double>{0.0, -1.0, std::nan(""), INFINITY}) {
    CAPTURE(rate);
    CHECK(serving::poisson_arrivals(rate, 3, 1).status().code() == StatusCode::kErrorInvalidArgument);
  }
  CHECK(serving::poisson_arrivals(1.0, -1, 1).status().message().find("count must be in [0,") != std::string::npos);
  CHECK(!serving::poisson_arrivals(1.0, serving::kMaxArrivals + 1, 1).is_ok());
}
