// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What measuring plans cost, every pass counted: the sender's prefill with E capture,
//! the receiver's reference prefill, context recomputation and suffix evaluation, in
//! layer-token passes (deterministic) and wall time.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/plan/profile_cost.hpp"

#include <chrono>
#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

// The plain data lives in plan/ (the plan file stores it); the profiler fills it.
using plan::PassCount;
using plan::ProfileCost;

namespace detail {
// Times `fn` (returning a Status) into `c`, adding `passes`; the passes count only on success.
template <class F>
auto timed(PassCount& c, std::int64_t passes, F&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  auto status = fn();
  c.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status.is_ok()) c.layer_token_passes += passes;
  return status;
}
}  // namespace detail

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
