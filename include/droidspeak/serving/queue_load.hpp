// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The run-time policy's input from a queue: how many requests are ahead of one when it
//! arrives, and the load fraction plan::RuntimePolicy takes, from that count.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace serving {

//! How many of the earlier requests are still in the system (queued or in service) at
//! `arrival`: those whose completion is later than `arrival`. A request still in service, its
//! completion unknown, passes +infinity. Completions are seconds on the replay's clock.
inline std::int64_t requests_ahead(std::span<const double> earlier_completions, double arrival) {
  std::int64_t ahead = 0;
  for (double c : earlier_completions) ahead += c > arrival ? 1 : 0;
  return ahead;
}

//! The load fraction for plan::RuntimePolicy::choose from the `requests_ahead` (>= 0) a
//! request finds when it arrives: q / (q + 1). Why this mapping: RuntimePolicy reads load as
//! the share of the receiver's compute already taken, recomputation then running
//! 1 / (1 - load) times slower; with q requests ahead of it, each needing about as much
//! compute as this one, a single receiver finishes this request after about q + 1 service
//! times, and 1 / (1 - q / (q + 1)) = q + 1 is exactly that slowdown. It is also the
//! utilisation at which an M/M/1 queue holds q requests on average (L = rho / (1 - rho)).
//! An idle receiver (q = 0) gives 0; the value stays below 1 for every finite queue, as
//! choose() requires. Fails on a negative count.
inline Result<double> load_from_queue(std::int64_t requests_ahead) {
  if (requests_ahead < 0) {
    return Status::invalid_argument("queue load: requests ahead must be >= 0, got " + std::to_string(requests_ahead));
  }
  const auto q = static_cast<double>(requests_ahead);
  return q / (q + 1.0);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::serving
