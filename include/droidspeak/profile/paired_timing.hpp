// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Paired timing: the one way the project turns wall-clock time into a result. A
//! candidate is timed against its baseline in the same run: warmed up, the two interleaved
//! pair by pair (the order alternating, so a drift of the machine's speed falls on both), and
//! the result is the median of the per-pair ratios candidate / baseline with its spread and
//! the load average beside it. A single unpaired time is never a result on a shared machine.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>  // getloadavg
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! How many repetitions to make.
struct PairedTimingOptions {
  std::int64_t warmup_pairs = 1;  //!< pairs run first and discarded (caches, page faults, clocks)
  std::int64_t pairs = 5;         //!< pairs measured; >= 1
};

//! The spread of a set of per-pair ratios.
struct RatioSummary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  //! Half the distance between the quartiles: the "±" printed beside the median (0 for fewer
  //! than 4 pairs, where min and max are the honest spread).
  double half_iqr = 0.0;
  std::int64_t count = 0;
};

//! What a paired timing measured. Times are in seconds; ratios are candidate / baseline.
struct PairedTiming {
  std::vector<double> baseline_seconds;   //!< [pairs]
  std::vector<double> candidate_seconds;  //!< [pairs]
  RatioSummary ratio;                     //!< of candidate_seconds[i] / baseline_seconds[i]
  double median_baseline_seconds = 0.0;   //!< for orientation only; the ratio is the result
  double median_candidate_seconds = 0.0;
  double load_before = -1.0;              //!< 1-minute load average; -1 where unavailable
  double load_after = -1.0;
};

//! The 1-minute load average, or -1 where the system does not report one.
inline double load_average() {
  double load[1] = {-1.0};
  if (getloadavg(load, 1) != 1) return -1.0;
  return load[0];
}

namespace detail {
// The q-quantile (0 <= q <= 1) of sorted values, linearly interpolated.
inline double quantile_sorted(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}
}  // namespace detail

//! Median, extremes and half inter-quartile range of `values` (any order, non-empty, finite).
inline Result<RatioSummary> summarize(std::vector<double> values) {
  if (values.empty()) return Status::invalid_argument("summarize: no values");
  for (double v : values) {
    if (!std::isfinite(v)) return Status::invalid_argument("summarize: a value is not finite");
  }
  std::sort(values.begin(), values.end());
  RatioSummary s;
  s.count = static_cast<std::int64_t>(values.size());
  s.median = detail::quantile_sorted(values, 0.5);
  s.min = values.front();
  s.max = values.back();
  if (values.size() >= 4) {
    s.half_iqr = 0.5 * (detail::quantile_sorted(values, 0.75) - detail::quantile_sorted(values, 0.25));
  }
  return s;
}

//! Times `candidate` against `baseline`: options.warmup_pairs unmeasured pairs, then
//! options.pairs measured ones, the order within a pair alternating (baseline first in even
//! pairs, candidate first in odd ones). Both are callables taking no argument and returning
//! Status; the first failure stops the measurement and is returned with its side named.
//! Measures wall time on the steady clock around each call only.
template <class Baseline, class Candidate>
Result<PairedTiming> time_paired(Baseline&& baseline, Candidate&& candidate,
                                 const PairedTimingOptions& options = {}) {
  if (options.pairs < 1 || options.warmup_pairs < 0) {
    return Status::invalid_argument("time_paired: need pairs >= 1 and warmup_pairs >= 0, got " +
                                    std::to_string(options.pairs) + " and " +
                                    std::to_string(options.warmup_pairs));
  }
  using Clock = std::chrono::steady_clock;
  auto timed = [](auto& f, double& seconds) -> Status {
    const auto t0 = Clock::now();
    Status s = f();
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return s;
  };
  PairedTiming out;
  out.load_before = load_average();
  for (std::int64_t i = 0; i < options.warmup_pairs + options.pairs; ++i) {
    double tb = 0.0, tc = 0.0;
    if (i % 2 == 0) {
      DROIDSPEAK_TRY(timed(baseline, tb).with_context("paired timing: baseline"));
      DROIDSPEAK_TRY(timed(candidate, tc).with_context("paired timing: candidate"));
    } else {
      DROIDSPEAK_TRY(timed(candidate, tc).with_context("paired timing: candidate"));
      DROIDSPEAK_TRY(timed(baseline, tb).with_context("paired timing: baseline"));
    }
    if (i < options.warmup_pairs) continue;
    out.baseline_seconds.push_back(tb);
    out.candidate_seconds.push_back(tc);
  }
  out.load_after = load_average();
  std::vector<double> ratios;
  for (std::size_t i = 0; i < out.baseline_seconds.size(); ++i) {
    // A call too fast for the clock has no ratio: say so instead of dividing by zero.
    if (!(out.baseline_seconds[i] > 0.0)) {
      return Status::out_of_range("paired timing: the baseline took no measurable time");
    }
    ratios.push_back(out.candidate_seconds[i] / out.baseline_seconds[i]);
  }
  Result<RatioSummary> r = summarize(ratios);
  if (!r) return r.status();
  out.ratio = *r;
  out.median_baseline_seconds = summarize(out.baseline_seconds)->median;
  out.median_candidate_seconds = summarize(out.candidate_seconds)->median;
  return out;
}

//! "0.71 (0.68-0.74 over 5 pairs, ±0.02, load 1.9)": the ratio as the project prints it.
inline std::string describe(const PairedTiming& t) {
  char buf[160];
  const double load = std::max(t.load_before, t.load_after);
  if (t.ratio.count >= 4) {
    std::snprintf(buf, sizeof buf, "%.2f (%.2f-%.2f over %lld pairs, \xC2\xB1%.2f, load %.1f)", t.ratio.median,
                  t.ratio.min, t.ratio.max, static_cast<long long>(t.ratio.count), t.ratio.half_iqr, load);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f (%.2f-%.2f over %lld pairs, load %.1f)", t.ratio.median, t.ratio.min,
                  t.ratio.max, static_cast<long long>(t.ratio.count), load);
  }
  return buf;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
