// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The threaded host driver: the schedule's transfer lane (sends, adoptions) runs on a
//! thread of its own while the caller's thread runs the compute lane, each interval starting
//! as soon as the E it enters from has landed, so the recomputation overlaps the KV stream.
//! Step bodies are Execution's (K/V-only interval tails included), as on the sequential
//! driver. The only prefill header that starts threads.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/execution.hpp"
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/sequential_driver.hpp"  // LaneLabels, run_labelled
#include "droidspeak/prefill/transport.hpp"

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill::detail {

//! Runs `x`'s prepared schedule on two threads. Failure handling: an error or exception on
//! the transfer thread ends that lane and wakes the compute side, which stops before the
//! next step that waits for a transfer; an error or exception on the compute side asks the
//! transfer thread to stop after its current chunk. The transfer thread is always joined
//! (std::jthread) before this returns. The transfer side's error wins when both failed,
//! since a missing E is then what stopped the compute side.
template <Engine E>
Status run_threaded(Execution<E>& x, TransportRef transport, LaneLabels labels) {
  const Schedule& schedule = x.schedule();
  const auto t0 = x.start_time();
  std::mutex mutex;
  std::condition_variable landed;
  std::vector<char> done(schedule.steps.size(), 0);  // guarded by mutex
  bool transfer_over = false;                        // guarded by mutex
  Status transfer_status, compute_status;
  double transfer_seconds = 0.0, compute_seconds = 0.0;
  {
    std::jthread transfer_thread([&](std::stop_token stop) {
      const double start = since(t0);
      Status s = run_labelled(labels.transfer, [&]() -> Status {
        for (std::size_t i = 0; i < schedule.steps.size(); ++i) {
          const ScheduleStep& step = schedule.steps[i];
          if (step.lane != Lane::kTransfer) continue;
          if (stop.stop_requested()) return Status::ok();  // the compute side failed and reports it
          DROIDSPEAK_TRY(x.run_transfer_step(step, &transport));
          {
            std::lock_guard<std::mutex> lock(mutex);
            done[i] = 1;
          }
          landed.notify_all();
        }
        return Status::ok();
      });
      transfer_seconds = since(t0) - start;
      {
        std::lock_guard<std::mutex> lock(mutex);
        transfer_over = true;
        static_cast<void>(transfer_status = std::move(s));  // nvcc reads the returned Status& as discarded
      }
      landed.notify_all();
    });

    const double start = since(t0);
    compute_status = run_labelled(labels.compute, [&]() -> Status {
      for (const ScheduleStep& step : schedule.steps) {
        if (step.lane != Lane::kCompute) continue;
        if (step.kind == StepKind::kSuffix) compute_seconds = since(t0) - start;
        if (step.waits_for != kNoStep) {
          const auto w = static_cast<std::size_t>(step.waits_for);
          std::unique_lock<std::mutex> lock(mutex);
          landed.wait(lock, [&] { return done[w] != 0 || transfer_over; });
          if (done[w] == 0) return Status::ok();  // the transfer failed: its status is returned below
        }
        DROIDSPEAK_TRY(x.run_compute_step(step));
      }
      return Status::ok();
    });
    if (!compute_status.is_ok()) transfer_thread.request_stop();
  }  // joins the transfer thread
  DROIDSPEAK_TRY(transfer_status);
  DROIDSPEAK_TRY(compute_status);
  x.set_lane_seconds(transfer_seconds, compute_seconds);
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill::detail
