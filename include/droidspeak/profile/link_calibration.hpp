// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Calibrating the link the cost model is told about (profile::LinkSpec), in the run that
//! uses it: chunks of known sizes are fetched through the very transport the prefill will use,
//! each timed, and the cost model's own link law, seconds = latency + bytes / bandwidth per
//! chunk, is fitted to them. A nominal rate (a NIC's, a tc limit's) says what a link may carry;
//! what a transfer achieves over it also depends on the stacks and CPUs on both ends, and the
//! prediction must use the latter.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/transport.hpp"
#include "droidspeak/profile/cost_calibration.hpp"  // LinkSpec
#include "droidspeak/profile/paired_timing.hpp"     // RatioSummary, summarize

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>  // std::make_unique_for_overwrite: the round's buffer
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! One timed transfer of one chunk.
struct LinkSample {
  std::int64_t bytes = 0;
  double seconds = 0.0;
};

//! Fits the cost model's link law, seconds = latency + bytes / bytes_per_second, to `samples`:
//! the median time of each distinct chunk size (robust to a stray slow chunk), then least
//! squares through those points. A fit that would make the latency negative (noise on a link
//! whose latency is small beside its transfer times) or that has a single size to go by is
//! refitted through the origin: latency 0, the rate those chunks achieved.
//! Errors: no samples, a size <= 0, a time that is not finite or is < 0, or all times 0.
inline Result<LinkSpec> fit_link(std::span<const LinkSample> samples) {
  if (samples.empty()) return Status::invalid_argument("fit_link: no samples");
  std::map<std::int64_t, std::vector<double>> by_size;
  for (const LinkSample& s : samples) {
    if (s.bytes <= 0 || !std::isfinite(s.seconds) || s.seconds < 0.0) {
      return Status::invalid_argument("fit_link: need bytes > 0 and a finite time >= 0, got " +
                                      std::to_string(s.bytes) + " bytes in " + std::to_string(s.seconds) + " s");
    }
    by_size[s.bytes].push_back(s.seconds);
  }
  std::vector<double> x, y;  // bytes, median seconds
  for (auto& [bytes, times] : by_size) {
    x.push_back(static_cast<double>(bytes));
    y.push_back(summarize(times)->median);
  }
  const auto n = static_cast<double>(x.size());
  if (x.size() >= 2) {
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    const double slope = sxy / sxx;
    const double intercept = my - slope * mx;
    if (slope > 0.0 && intercept >= 0.0) return LinkSpec{1.0 / slope, intercept};
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sxy += x[i] * y[i], sxx += x[i] * x[i];
  if (!(sxy > 0.0)) return Status::invalid_argument("fit_link: every transfer took no time");
  return LinkSpec{sxx / sxy, 0.0};
}

//! One chunk a calibration round fetches: what the transport is asked for, and its size.
struct LinkChunk {
  prefill::TransferTag tag;
  std::int64_t bytes = 0;
};

//! How many rounds a link calibration makes.
struct LinkCalibrationOptions {
  std::int64_t warmup_rounds = 1;  //!< rounds run first and discarded (connection set-up, TCP's window)
  std::int64_t rounds = 4;         //!< rounds measured, at most; >= 1
  //! Measured rounds stop once this much time has passed (at least one is made), so that a
  //! slow link costs a bounded time.
  double max_seconds = 3.0;
};

//! What a link calibration measured.
struct LinkCalibration {
  LinkSpec link;                   //!< fit_link over every measured chunk
  RatioSummary rate;               //!< per measured round: its bytes / its transfer time, B/s
  std::int64_t rounds = 0;         //!< measured
  std::int64_t bytes_per_round = 0;
  std::vector<LinkSample> samples;  //!< every measured chunk, in order
};

//! Measures `transport` with `chunks` `[k]` (k >= 1, each of > 0 bytes), as the prefill would
//! use it: per round `begin_round()` (a callable returning Status: e.g. a remote receiver's
//! request for exactly those chunks), then each chunk transmitted in order into a buffer
//! allocated for the round, the chunks side by side, from a source of the chunk's size (a
//! transport that fetches remote bytes never reads it). A fresh buffer per round, as the
//! executor allocates its landing buffers per prefill: the first touch of new pages is part of
//! what a transfer costs. Each transmit is timed on the steady clock; begin_round is not (its cost, one
//! request per prefill, is not part of the cost model). The first failure is returned.
template <prefill::Transport T, class BeginRound>
  requires std::invocable<BeginRound&> && std::same_as<std::invoke_result_t<BeginRound&>, Status>
Result<LinkCalibration> measure_link(T& transport, std::span<const LinkChunk> chunks, BeginRound&& begin_round,
                                     const LinkCalibrationOptions& options = {}) {
  if (chunks.empty() || options.rounds < 1 || options.warmup_rounds < 0 || !(options.max_seconds >= 0.0)) {
    return Status::invalid_argument("measure_link: need >= 1 chunk, rounds >= 1, warmup_rounds >= 0, max_seconds >= 0");
  }
  std::int64_t largest = 0, round_bytes = 0;
  for (const LinkChunk& c : chunks) {
    if (c.bytes <= 0) return Status::invalid_argument("measure_link: a chunk of " + std::to_string(c.bytes) + " bytes");
    largest = std::max(largest, c.bytes);
    round_bytes += c.bytes;
  }
  using Clock = std::chrono::steady_clock;
  const std::vector<std::byte> src(static_cast<std::size_t>(largest));
  LinkCalibration out;
  out.bytes_per_round = round_bytes;
  std::vector<double> rates;
  Clock::time_point started{};
  for (std::int64_t r = 0; r < options.warmup_rounds + options.rounds; ++r) {
    const bool measured = r >= options.warmup_rounds;
    if (measured && r == options.warmup_rounds) started = Clock::now();
    if (measured && r > options.warmup_rounds &&
        std::chrono::duration<double>(Clock::now() - started).count() > options.max_seconds) {
      break;
    }
    DROIDSPEAK_TRY(begin_round().with_context("link calibration"));
    double round_seconds = 0.0;
    const auto dst = std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(round_bytes));
    std::size_t at = 0;
    for (const LinkChunk& c : chunks) {
      const auto size = static_cast<std::size_t>(c.bytes);
      const auto t0 = Clock::now();
      DROIDSPEAK_TRY(transport.transmit(c.tag, std::span<const std::byte>(src.data(), size),
                                        std::span<std::byte>(dst.get() + at, size))
                         .with_context("link calibration"));
      at += size;
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      round_seconds += s;
      if (measured) out.samples.push_back({c.bytes, s});
    }
    if (measured) {
      ++out.rounds;
      if (round_seconds > 0.0) rates.push_back(static_cast<double>(round_bytes) / round_seconds);
    }
  }
  Result<LinkSpec> fit = fit_link(out.samples);
  if (!fit) return fit.status().with_context("link calibration");
  out.link = *fit;
  if (rates.empty()) return Status::invalid_argument("link calibration: every round took no time");
  out.rate = *summarize(rates);
  return out;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
