// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The CUDA driver of a partial prefill's schedule (prefill/schedule.hpp): a copy
//! stream lands the sender's E (cuda::copy_e) and KV (cuda::copy_kv) layer by layer while a
//! compute stream runs the recomputed intervals and the suffix through a cuda::DeviceEngine,
//! the two ordered by events only: no host synchronisation between enqueue() and the caller's
//! own wait on the compute stream. Host header: include it from any C++ file; link
//! droidspeak::kernels.
//!
//! Mapping of the schedule's steps:
//! - kSendE l:  copy_e of the sender's E rows [0, n) of layer l into an f32 device landing
//!   buffer (converting from the sender's dtype), on the copy stream; then an event.
//! - kSendKv l: nothing of its own: the adoption below reads the sender's buffer in place, so
//!   the bytes cross the link (PCIe / NVLink for pinned host or peer memory) inside copy_kv.
//! - kAdopt l:  copy_kv of layer l, tokens [0, n), from the sender's view into the engine's
//!   kv_cache() (any layout and dtype pair), on the copy stream; then an event.
//! - kRecompute [s, e]: on the compute stream, cudaStreamWaitEvent on the event of kSendE s
//!   (s > 0), then run_layers(s, e + 1) over the landed E rows in place (the landing rows of s
//!   are read by that interval only), or over embed(context) when s == 0. With a
//!   KvOnlyDeviceEngine the step's dead tail (kv_only_last) is run_layers(s, e) followed by
//!   run_layer_kv_only(e): the same cache without layer e's attention output and MLP.
//! - kSuffix: waits on the event of the last transfer-lane step (every adoption), declares
//!   the n positions valid (set_num_tokens, host bookkeeping) and enqueues embed(suffix),
//!   run_layers(0, L, n, m) and the logits of the last row.
//! The copy stream first waits on an event recorded on the compute stream (a fork), so it
//! starts after whatever the caller enqueued there before, and the suffix's wait joins it back:
//! the whole prefill is therefore capturable as one CUDA graph from the compute stream
//! (set_num_tokens runs at capture time, not at replay). With copy == compute everything runs
//! in list order on one stream: the sequential driver on a device.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/cuda/device_engine.hpp"
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/cuda/stream_ops.hpp"
#include "droidspeak/layout/e_cache_layout.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/execution.hpp"  // detail::check_sender, check_logits
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/sender_caches.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

//! One partial prefill of a DeviceEngine receiver, prepared on the host once and enqueued on
//! two streams (as often as wanted: each enqueue recomputes the same cache from the buffers'
//! current contents, which is how a graph replay or a benchmark repeats it).
//!
//! Buffers (all must stay valid and unchanged by others until the compute stream passes the
//! end of an enqueue()):
//! - `context` `[n]`, `suffix` `[m]` int32 token ids in device memory.
//! - `sender.kv`: the sender's KV of at least the reused layers, tokens [0, n), any layout
//!   and dtype cuda::copy_kv converts from, in device, peer or mapped pinned host memory.
//! - `sender.e`: the sender's E of at least the plan's entry layers, tokens [0, n), any
//!   dtype, in memory the device can read (may be empty when the plan has no entry layers).
//! - `last_logits`: empty, or `[V]` f32 device memory receiving the logits of the suffix's
//!   last row (then m > 0).
template <DeviceEngine E>
class StreamPrefill {
 public:
  StreamPrefill(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                const prefill::SenderCaches& sender, std::span<const std::int32_t> suffix,
                std::span<float> last_logits)
      : r_(receiver), plan_(plan), context_(context), sender_(sender), suffix_(suffix),
        last_logits_(last_logits), g_(receiver.geometry()),
        n_(static_cast<std::int64_t>(context.size())), m_(static_cast<std::int64_t>(suffix.size())) {}

  //! Host side, once: checks the arguments (as prefill's drivers do), resets the receiver
  //! and reserves n + m positions, builds the schedule, allocates the f32 E landing buffer
  //! `[entry layers][n][H]`, the hidden rows of layer-0 intervals and of the suffix, and one
  //! event per kSendE / kAdopt step. Synchronous; not capturable.
  [[nodiscard]] Status prepare() {
    if (plan_.num_layers() != g_.num_layers) {
      return Status::invalid_argument("cuda prefill: plan for " + std::to_string(plan_.num_layers()) +
                                      " layers, receiver has " + std::to_string(g_.num_layers));
    }
    if (n_ <= 0) return Status::invalid_argument("cuda prefill: empty context");
    DROIDSPEAK_TRY(prefill::detail::check_sender(sender_, plan_, g_, n_));
    DROIDSPEAK_TRY(prefill::detail::check_logits(last_logits_, r_.vocab_size(), m_));
    Result<prefill::Schedule> s =
        prefill::make_schedule(plan_, g_, n_, m_, prefill::chunk_sizes(g_, n_, DType::kF32, sender_.kv.dtype));
    if (!s) return s.status();
    schedule_ = std::move(s).value();
    DROIDSPEAK_TRY(r_.reset());
    DROIDSPEAK_TRY(r_.reserve(n_ + m_));
    cache_ = r_.kv_cache();

    const layout::ECacheLayout landing{plan_.entry_layers(), n_, g_.hidden_size};
    DROIDSPEAK_TRY(e_landing_.allocate(static_cast<std::size_t>(landing.pool_elements()) * sizeof(float)));
    e_dst_ = layout::EView(e_landing_.get(), DType::kF32, landing);
    const std::int64_t rows = n_ > m_ ? n_ : m_;
    DROIDSPEAK_TRY(hidden_.allocate(static_cast<std::size_t>(rows * g_.hidden_size) * sizeof(float)));

    events_.clear();
    events_.resize(schedule_.steps.size());
    for (std::size_t i = 0; i < schedule_.steps.size(); ++i) {
      const prefill::StepKind k = schedule_.steps[i].kind;
      if (k == prefill::StepKind::kSendE || k == prefill::StepKind::kAdopt) DROIDSPEAK_TRY(events_[i].create());
    }
    DROIDSPEAK_TRY(fork_.create());
    prepared_ = true;
    return Status::ok();
  }

  const prefill::Schedule& schedule() const { return schedule_; }

  //! Enqueues the whole prefill: the transfer lane on `copy`, the compute lane on `compute`
  //! (see the file comment). No host synchronisation; the cache and `last_logits` are
  //! complete once `compute` reaches the end of what this enqueued. `copy` may equal
  //! `compute` (one stream, list order). Fails with invalid_argument before prepare(), or
  //! with the first failed call's error, labelled with its lane (work already enqueued stays
  //! queued: synchronise before reusing the buffers).
  [[nodiscard]] Status enqueue(CUstream_st* compute, CUstream_st* copy) {
    if (!prepared_) return Status::invalid_argument("cuda prefill: enqueue before prepare");
    // Fork only when the copy lane has work: a capture rejects a forked stream that is
    // never joined back, and the suffix's wait on the last transfer step is the join.
    if (copy != compute && schedule_.last_of(prefill::Lane::kTransfer) != prefill::kNoStep) {
      DROIDSPEAK_TRY(record_event(fork_.get(), compute));
      DROIDSPEAK_TRY(wait_event(copy, fork_.get()));
    }
    DROIDSPEAK_TRY(enqueue_transfer(copy).with_context("cuda prefill: transfer"));
    return enqueue_compute(compute).with_context("cuda prefill: compute");
  }

  //! The transfer lane alone on `copy` (after prepare()): the copies and the events the
  //! compute lane waits on. With enqueue_compute, lets a benchmark time each lane in
  //! isolation; enqueue() is the two with their fork.
  [[nodiscard]] Status enqueue_transfer(CUstream_st* copy) {
    if (!prepared_) return Status::invalid_argument("cuda prefill: enqueue before prepare");
    for (std::size_t i = 0; i < schedule_.steps.size(); ++i) {
      const prefill::ScheduleStep& step = schedule_.steps[i];
      if (step.lane != prefill::Lane::kTransfer) continue;
      const layout::LayerSet layer = layout::LayerSet::range(step.first_layer, step.first_layer + 1);
      if (step.kind == prefill::StepKind::kSendE) {
        DROIDSPEAK_TRY(copy_e({sender_.e, e_dst_, layer, {0, n_}, 0}, copy));
      } else if (step.kind == prefill::StepKind::kAdopt) {
        DROIDSPEAK_TRY(copy_kv({sender_.kv, cache_, layer, {0, n_}, 0}, copy));
      }
      if (events_[i].get() != nullptr) DROIDSPEAK_TRY(record_event(events_[i].get(), copy));
    }
    return Status::ok();
  }

  //! The compute lane alone on `compute` (after prepare()): each step first waits on the
  //! event of its `waits_for` step, as last recorded by enqueue_transfer (an event never
  //! recorded counts as complete). Alone, it reads whatever the landing rows hold: the E
  //! of the last transfer, or the E[e] / E[e + 1] an earlier compute lane left there in
  //! place (with and without a K/V-only tail); so only for timing.
  [[nodiscard]] Status enqueue_compute(CUstream_st* compute) {
    if (!prepared_) return Status::invalid_argument("cuda prefill: enqueue before prepare");
    for (const prefill::ScheduleStep& step : schedule_.steps) {
      if (step.lane != prefill::Lane::kCompute) continue;
      if (step.waits_for != prefill::kNoStep) {
        CUevent_st* ready = events_[static_cast<std::size_t>(step.waits_for)].get();
        if (ready == nullptr) return Status::internal("cuda prefill: a step waits for a step without an event");
        DROIDSPEAK_TRY(wait_event(compute, ready));
      }
      if (step.kind == prefill::StepKind::kSuffix) {
        DROIDSPEAK_TRY(suffix(compute));
      } else {
        DROIDSPEAK_TRY(recompute(step, compute));
      }
    }
    return Status::ok();
  }

 private:
  std::span<float> rows(std::byte* base, std::int64_t count) const {
    return {reinterpret_cast<float*>(base), static_cast<std::size_t>(count * g_.hidden_size)};
  }

  Status recompute(const prefill::ScheduleStep& step, CUstream_st* compute) {
    std::span<float> h;
    if (step.first_layer == 0) {
      h = rows(hidden_.get(), n_);
      DROIDSPEAK_TRY(r_.embed(context_, h, compute));
    } else {
      const std::int64_t offset = e_dst_.layout.row_offset(step.first_layer, 0);
      h = rows(e_landing_.get() + offset * static_cast<std::int64_t>(sizeof(float)), n_);
    }
    if constexpr (KvOnlyDeviceEngine<E>) {
      if (step.kv_only_last) {
        DROIDSPEAK_TRY(r_.run_layers(step.first_layer, step.last_layer, 0, n_, h, compute));
        return r_.run_layer_kv_only(step.last_layer, 0, n_, std::span<const float>(h), compute);
      }
    }
    return r_.run_layers(step.first_layer, step.last_layer + 1, 0, n_, h, compute);
  }

  Status suffix(CUstream_st* compute) {
    DROIDSPEAK_TRY(r_.set_num_tokens(n_));
    if (m_ == 0) return Status::ok();
    const std::span<float> h = rows(hidden_.get(), m_);
    DROIDSPEAK_TRY(r_.embed(suffix_, h, compute));
    DROIDSPEAK_TRY(r_.run_layers(0, g_.num_layers, n_, m_, h, compute));
    if (last_logits_.empty()) return Status::ok();
    const std::span<const float> last = std::span<const float>(h).last(static_cast<std::size_t>(g_.hidden_size));
    return r_.logits(last, last_logits_, compute);
  }

  E& r_;
  const plan::ReusePlan& plan_;
  std::span<const std::int32_t> context_;
  prefill::SenderCaches sender_;
  std::span<const std::int32_t> suffix_;
  std::span<float> last_logits_;
  layout::ModelGeometry g_;
  std::int64_t n_, m_;
  bool prepared_ = false;
  prefill::Schedule schedule_;
  layout::KvView cache_;
  DeviceMemory e_landing_;          //!< f32 [entry layers][n][H]: written by the copy lane,
                                    //!< then used in place as an interval's hidden rows
  layout::EView e_dst_;
  DeviceMemory hidden_;             //!< f32 [max(n, m)][H]: layer-0 intervals and the suffix
  std::vector<SyncEvent> events_;   //!< per step: recorded after each kSendE / kAdopt
  SyncEvent fork_;                  //!< the copy stream's start, recorded on the compute stream
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
