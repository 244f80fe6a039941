// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Request arrival times of a Poisson process: exponential inter-arrival times drawn by
//! inversion from a seeded 64-bit Mersenne Twister, so one seed gives the same times with
//! every standard library (std::exponential_distribution's algorithm is left to each one).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace serving {

//! The most arrivals one call makes (a replay is bounded in requests).
inline constexpr std::int64_t kMaxArrivals = std::int64_t{1} << 24;

//! `count` arrival times in seconds, ascending, of a Poisson process of `rate_per_second`
//! starting at time 0: arrival i is the sum of i + 1 independent exponential gaps of mean
//! 1 / rate (so the first request arrives after one gap, not at 0). Each gap is
//! -ln(u) / rate with u uniform in (0, 1], u = (k + 1) / 2^53 from the top 53 bits k of one
//! std::mt19937_64 draw (whose sequence the standard fixes), so the times depend only on
//! `seed`, `rate_per_second` and `count`. Fails on a rate that is not finite and > 0, or a
//! count outside [0, kMaxArrivals].
inline Result<std::vector<double>> poisson_arrivals(double rate_per_second, std::int64_t count, std::uint64_t seed) {
  if (!(rate_per_second > 0.0) || !std::isfinite(rate_per_second)) {
    return Status::invalid_argument("poisson arrivals: the rate must be finite and > 0, got " +
                                    std::to_string(rate_per_second) + " per second");
  }
  if (count < 0 || count > kMaxArrivals) {
    return Status::invalid_argument("poisson arrivals: the count must be in [0, " + std::to_string(kMaxArrivals) +
                                    "], got " + std::to_string(count));
  }
  std::mt19937_64 rng(seed);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(count));
  double t = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    const double u = static_cast<double>((rng() >> 11) + 1) * 0x1p-53;  // (0, 1]: ln never sees 0
    t += -std::log(u) / rate_per_second;
    out.push_back(t);
  }
  return out;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::serving
