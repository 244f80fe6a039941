// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The sequential host driver: runs a partial prefill's schedule front to back on the
//! caller's thread, every transfer and adoption first, then the intervals, then the suffix.
//! It serves partial_prefill (no transport: the sender's views are read in place) and
//! streamed_partial_prefill with Overlap::kSequential. Step bodies are Execution's, so the
//! interval tails run K/V-only (ScheduleStep::kv_only_last) exactly as on every driver.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/execution.hpp"
#include "droidspeak/prefill/no_throw.hpp"
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/transport.hpp"

#include <string_view>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill::detail {

//! The context an error of each lane carries ("streamed partial prefill: transfer", say).
struct LaneLabels {
  std::string_view transfer;
  std::string_view compute;
};

//! Runs `f` (returning Status) with its errors, thrown or returned, prefixed by `where`.
template <class F>
Status run_labelled(std::string_view where, F&& f) noexcept {
  return no_throw(where, [&] { return f().with_context(where); });
}

//! Runs every step of `x`'s prepared schedule in list order on this thread; `transport` is
//! null for a direct (unstreamed) execution. Stops at the first failure, labelled with its lane.
template <Engine E>
Status run_sequential(Execution<E>& x, TransportRef* transport, LaneLabels labels) {
  const auto t0 = x.start_time();
  double transfer_seconds = 0.0, compute_seconds = 0.0;
  for (const ScheduleStep& step : x.schedule().steps) {
    const double start = since(t0);
    if (step.lane == Lane::kTransfer) {
      DROIDSPEAK_TRY(run_labelled(labels.transfer, [&] { return x.run_transfer_step(step, transport); }));
      transfer_seconds += since(t0) - start;
    } else {
      DROIDSPEAK_TRY(run_labelled(labels.compute, [&] { return x.run_compute_step(step); }));
      if (step.kind != StepKind::kSuffix) compute_seconds += since(t0) - start;
    }
  }
  x.set_lane_seconds(transfer_seconds, compute_seconds);
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill::detail
