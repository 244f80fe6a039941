// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What a replay of many requests measured: time to first token per request, its
//! nearest-rank percentiles (p50, p99) and mean, and the throughput over the makespan.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace serving {

//! One served request on the replay's clock, in seconds.
struct RequestTiming {
  double arrival = 0.0;     //!< when the request arrived
  double completion = 0.0;  //!< when its first token was ready (its prefill completed)
};

//! The summary of a set of served requests. Times in seconds.
struct LatencySummary {
  std::int64_t count = 0;
  double p50 = 0.0;         //!< nearest-rank 50th percentile of the time to first token
  double p99 = 0.0;         //!< nearest-rank 99th percentile
  double mean = 0.0;
  double makespan = 0.0;    //!< last completion - first arrival
  double throughput = 0.0;  //!< count / makespan, requests per second
};

//! The nearest-rank `percent`-th percentile of `sorted` (ascending, non-empty): the smallest
//! value such that at least `percent` % of the values are <= it, i.e. sorted[ceil(p/100 * N) - 1]
//! (sorted[0] for p = 0). Always one of the values: a p99 is a latency some request had, never
//! an interpolation between two. Fails on an empty set or `percent` outside [0, 100].
inline Result<double> percentile_nearest_rank(std::span<const double> sorted, double percent) {
  if (sorted.empty()) return Status::invalid_argument("percentile: no values");
  if (!(percent >= 0.0 && percent <= 100.0)) {
    return Status::invalid_argument("percentile: need 0 <= percent <= 100, got " + std::to_string(percent));
  }
  const auto n = static_cast<double>(sorted.size());
  // A rank that is an integer up to rounding (99.9 % of 1000 may come out as 999.0000000001)
  // is that integer, not the next one.
  const double rank = std::ceil(percent * n / 100.0 - 1e-9);
  const auto index = static_cast<std::size_t>(std::clamp(rank, 1.0, n)) - 1;
  return sorted[index];
}

//! Summarises `requests` (non-empty; every time finite and completion >= arrival): the time to
//! first token of a request is completion - arrival; p50 and p99 are nearest-rank percentiles
//! (percentile_nearest_rank), the mean is arithmetic, the makespan runs from the earliest
//! arrival to the latest completion and the throughput is count / makespan (0 when the
//! makespan is 0).
inline Result<LatencySummary> summarize_requests(std::span<const RequestTiming> requests) {
  if (requests.empty()) return Status::invalid_argument("latency summary: no requests");
  std::vector<double> ttft;
  ttft.reserve(requests.size());
  double first = requests[0].arrival, last = requests[0].completion, sum = 0.0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const RequestTiming& r = requests[i];
    if (!std::isfinite(r.arrival) || !std::isfinite(r.completion) || r.completion < r.arrival) {
      return Status::invalid_argument("latency summary: request " + std::to_string(i) + " arrives at " +
                                      std::to_string(r.arrival) + " s and completes at " +
                                      std::to_string(r.completion) + " s (need finite times, completion >= arrival)");
    }
    first = std::min(first, r.arrival);
    last = std::max(last, r.completion);
    ttft.push_back(r.completion - r.arrival);
    sum += r.completion - r.arrival;
  }
  std::sort(ttft.begin(), ttft.end());
  LatencySummary s;
  s.count = static_cast<std::int64_t>(requests.size());
  s.p50 = *percentile_nearest_rank(ttft, 50.0);
  s.p99 = *percentile_nearest_rank(ttft, 99.0);
  s.mean = sum / static_cast<double>(requests.size());
  s.makespan = last - first;
  s.throughput = s.makespan > 0.0 ? static_cast<double>(s.count) / s.makespan : 0.0;
  return s;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::serving
