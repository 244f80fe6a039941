// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What every partial-prefill driver shares: the report types, and `detail::Execution`,
//! one partial prefill in progress on the receiver (argument checks, reset and reserve, the
//! schedule, the landing buffers, the body of each schedule step, and the report). A driver
//! only decides on which thread each step runs and when; it holds no prefill logic.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/finite.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/prefill/transport.hpp"

#include <chrono>
#include <cstdint>
#include <memory>  // std::make_unique_for_overwrite: landing buffers
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! One phase of a partial prefill on the receiver's clock (seconds since it began).
struct TimelineEvent {
  enum class Kind : std::uint8_t { kTransferE, kTransferKv, kAdopt, kRecompute, kSuffix };
  Kind kind = Kind::kRecompute;
  std::int64_t first_layer = 0;  //!< the layer (transfers, adoption) or the interval's first
  std::int64_t last_layer = 0;   //!< inclusive
  double start = 0.0;
  double end = 0.0;
};

//! What a partial prefill did.
struct PrefillReport {
  std::int64_t layers_recomputed = 0;
  std::int64_t layers_reused = 0;
  std::int64_t kv_bytes_adopted = 0;     //!< bytes of sender KV read into the receiver's cache
  std::int64_t e_bytes_used = 0;         //!< bytes of sender E used to enter intervals
  std::int64_t layer_token_passes = 0;   //!< sum over recomputed layers of the tokens run, plus
                                         //!< the suffix: L * m (the compute actually spent)
  std::int64_t kv_only_layers = 0;       //!< interval tails run K/V-only (of layers_recomputed;
                                         //!< 0 when the engine has no K/V-only member)
  double adopt_seconds = 0.0;            //!< transfers + adoption, as seen on their own lane
  double recompute_seconds = 0.0;        //!< running the intervals (incl. waiting for E)
  double suffix_seconds = 0.0;
  double total_seconds = 0.0;
  std::vector<TimelineEvent> timeline;   //!< compute-lane phases in order, then transfer-lane ones
};

namespace detail {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline Status check_sender(const SenderCaches& s, const plan::ReusePlan& plan,
                           const layout::ModelGeometry& g, std::int64_t n) {
  if (!plan.reused().empty()) {
    DROIDSPEAK_TRY(layout::validate_view(s.kv, "partial prefill: sender kv", false));
    if (s.kv.layout.num_tokens() < n || s.kv.layout.num_layers() < g.num_layers ||
        s.kv.layout.num_kv_heads() != g.num_kv_heads || s.kv.layout.head_dim() != g.head_dim) {
      return Status::invalid_argument("partial prefill: sender kv " + s.kv.layout.describe() +
                                      " does not cover " + std::to_string(g.num_layers) + " layers x " +
                                      std::to_string(n) + " tokens of " + std::to_string(g.num_kv_heads) +
                                      " kv heads x head_dim " + std::to_string(g.head_dim));
    }
  }
  const layout::LayerSet entries = plan.entry_layers();
  if (!entries.empty()) {
    if (!is_valid(s.e.dtype) || s.e.data == nullptr) {
      return Status::invalid_argument("partial prefill: the plan needs E for layers " +
                                      entries.to_string() + " but the sender's E cache is empty");
    }
    DROIDSPEAK_TRY(s.e.layout.validate().with_context("partial prefill: sender E"));
    if (entries.minus(s.e.layout.entry_layers).count() != 0) {
      return Status::invalid_argument("partial prefill: the plan needs E for layers " +
                                      entries.to_string() + ", the sender's E cache holds " +
                                      s.e.layout.entry_layers.to_string());
    }
    if (s.e.layout.num_tokens < n || s.e.layout.hidden_size != g.hidden_size) {
      return Status::invalid_argument("partial prefill: sender E has " +
                                      std::to_string(s.e.layout.num_tokens) + " tokens of hidden " +
                                      std::to_string(s.e.layout.hidden_size) + ", need " +
                                      std::to_string(n) + " of " + std::to_string(g.hidden_size));
    }
  }
  return Status::ok();
}

// What streaming adds: each layer's chunk must be one contiguous run of bytes.
inline Status check_streamable(const SenderCaches& s, const plan::ReusePlan& plan, std::int64_t n) {
  if (!plan.reused().empty() &&
      (s.kv.layout.kind != layout::LayoutKind::kTransfer || s.kv.layout.num_tokens() != n)) {
    return Status::invalid_argument("streamed partial prefill: sender kv must use the transfer layout with "
                                    "exactly the context's " + std::to_string(n) + " tokens, got " +
                                    s.kv.layout.describe());
  }
  if (!plan.entry_layers().empty() && s.e.layout.num_tokens != n) {
    return Status::invalid_argument("streamed partial prefill: sender E must hold exactly the context's " +
                                    std::to_string(n) + " tokens, got " + std::to_string(s.e.layout.num_tokens));
  }
  return Status::ok();
}

inline Status check_logits(std::span<float> last_logits, std::int64_t vocab, std::int64_t m) {
  if (!last_logits.empty() && (m == 0 || static_cast<std::int64_t>(last_logits.size()) != vocab)) {
    return Status::invalid_argument("partial prefill: last_logits must be empty or hold vocab_size " +
                                    std::to_string(vocab) + " floats after a non-empty suffix, got " +
                                    std::to_string(last_logits.size()));
  }
  return Status::ok();
}

// E rows [0, n) of `layer` as f32 into `hidden` [n][H].
inline Status load_entry(const layout::ConstEView& e, std::int64_t layer, std::int64_t n,
                         std::span<float> hidden) {
  const layout::ECacheLayout one{layout::LayerSet::range(layer, layer + 1), n, e.layout.hidden_size};
  const layout::EView dst(reinterpret_cast<std::byte*>(hidden.data()), DType::kF32, one);
  return layout::copy_e({e, dst, layout::LayerSet::range(layer, layer + 1), {0, n}, 0});
}

// The suffix through every layer over the (mixed) cache, logits of its last row.
template <Engine E>
Status run_suffix(E& r, std::span<const std::int32_t> suffix, std::int64_t n,
                  std::span<float> last_logits) {
  const layout::ModelGeometry g = r.geometry();
  const auto m = static_cast<std::int64_t>(suffix.size());
  if (m == 0) return Status::ok();
  std::vector<float> h(static_cast<std::size_t>(m * g.hidden_size));
  DROIDSPEAK_TRY(r.embed(suffix, h));
  DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, n, m, h, nullptr));
  if (last_logits.empty()) return Status::ok();
  return r.logits(std::span<const float>(h).last(static_cast<std::size_t>(g.hidden_size)), last_logits);
}

//! One partial prefill on the receiver, driven step by step. Without a transport (direct),
//! adoption and recomputation read the sender's views in place and send steps do nothing;
//! with one (streamed), send steps move each chunk into receiver-side landing buffers and
//! the other steps read those. Transfer-lane steps (send, adopt) and compute-lane steps
//! (recompute, suffix) touch disjoint members, so a driver may run the two lanes on two
//! threads as long as it honours the schedule's dependencies.
template <Engine E>
class Execution {
 public:
  //! `streamed`: the sender's bytes cross a transport (see the class comment).
  Execution(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
            const SenderCaches& sender, std::span<const std::int32_t> suffix, std::span<float> last_logits,
            bool streamed)
      : r_(receiver), plan_(plan), context_(context), sender_(sender), suffix_(suffix),
        last_logits_(last_logits), streamed_(streamed), g_(receiver.geometry()),
        n_(static_cast<std::int64_t>(context.size())), m_(static_cast<std::int64_t>(suffix.size())) {}

  //! Checks the arguments, resets the receiver and reserves n + m positions, builds the
  //! schedule and (streamed) allocates the landing buffers. Call once, before any step.
  Status prepare() {
    if (plan_.num_layers() != g_.num_layers) {
      return Status::invalid_argument("partial prefill: plan for " + std::to_string(plan_.num_layers()) +
                                      " layers, receiver has " + std::to_string(g_.num_layers));
    }
    if (n_ <= 0) return Status::invalid_argument("partial prefill: empty context");
    DROIDSPEAK_TRY(check_sender(sender_, plan_, g_, n_));
    DROIDSPEAK_TRY(check_logits(last_logits_, r_.vocab_size(), m_));
    if (streamed_) DROIDSPEAK_TRY(check_streamable(sender_, plan_, n_));
    Result<Schedule> s = make_schedule(plan_, g_, n_, m_, chunk_sizes(g_, n_, sender_.e.dtype, sender_.kv.dtype));
    if (!s) return s.status();
    schedule_ = std::move(s).value();
    DROIDSPEAK_TRY(r_.reset());
    DROIDSPEAK_TRY(r_.reserve(n_ + m_));
    cache_ = r_.kv_cache();
    e_src_ = sender_.e;
    kv_src_ = sender_.kv;
    if (streamed_) allocate_landing();
    return Status::ok();
  }

  const Schedule& schedule() const { return schedule_; }
  bool streamed() const { return streamed_; }
  Clock::time_point start_time() const { return t0_; }

  //! Runs one transfer-lane step: a send (through `transport`; nothing when direct) or an adoption.
  Status run_transfer_step(const ScheduleStep& step, TransportRef* transport) {
    if (step.kind == StepKind::kAdopt) return adopt(step);
    if (!streamed_ || transport == nullptr) return Status::ok();
    return send(step, *transport);
  }

  //! Runs one compute-lane step: an interval's recomputation or the suffix.
  Status run_compute_step(const ScheduleStep& step) {
    return step.kind == StepKind::kSuffix ? suffix(step) : recompute(step);
  }

  //! The lanes' wall times as the driver measured them (a lane's time includes its waits).
  void set_lane_seconds(double transfer, double compute) {
    rep_.adopt_seconds = transfer;
    rep_.recompute_seconds = compute;
  }

  //! Completes the report (after every step has run) and hands it out.
  void finish(PrefillReport* report) {
    rep_.timeline.insert(rep_.timeline.end(), transfer_events_.begin(), transfer_events_.end());
    rep_.layers_recomputed = plan_.num_recomputed();
    rep_.layers_reused = plan_.reused().count();
    rep_.layer_token_passes = plan_.num_recomputed() * n_ + g_.num_layers * m_;
    rep_.total_seconds = since(t0_);
    if (report != nullptr) *report = std::move(rep_);
  }

 private:
  using Kind = TimelineEvent::Kind;

  // Receiver-side landing buffers: the KV shaped like the sender's transfer buffer (only the
  // reused layers' parts are written), E only for the plan's entry layers. Not zeroed: every
  // byte read was written by a send first.
  void allocate_landing() {
    const layout::LayerSet entries = plan_.entry_layers();
    const std::size_t kv_bytes = static_cast<std::size_t>(plan_.reused().empty() ? 0 : sender_.kv.pool_bytes());
    kv_landing_ = std::make_unique_for_overwrite<std::byte[]>(kv_bytes);
    kv_src_ = layout::ConstKvView(kv_landing_.get(), sender_.kv.dtype, sender_.kv.layout);
    const layout::ECacheLayout e_layout{entries, n_, g_.hidden_size};
    e_landing_ = std::make_unique_for_overwrite<std::byte[]>(
        static_cast<std::size_t>(e_layout.pool_elements() * dtype_size(sender_.e.dtype)));
    e_src_ = layout::ConstEView(e_landing_.get(), sender_.e.dtype, e_layout);
  }

  Status send(const ScheduleStep& step, TransportRef& transport) {
    const std::int64_t l = step.first_layer;
    const double start = since(t0_);
    const auto bytes = static_cast<std::size_t>(step.bytes);
    if (step.kind == StepKind::kSendE) {
      const std::int64_t width = dtype_size(sender_.e.dtype);
      const std::int64_t from = sender_.e.layout.row_offset(l, 0) * width;
      const std::int64_t to = e_src_.layout.row_offset(l, 0) * width;
      DROIDSPEAK_TRY(transport.transmit({Payload::kE, l}, std::span<const std::byte>(sender_.e.data + from, bytes),
                                        std::span<std::byte>(e_landing_.get() + to, bytes)));
      transfer_events_.push_back({Kind::kTransferE, l, l, start, since(t0_)});
    } else {
      const std::int64_t off = sender_.kv.layout.row_offset(l, layout::KvPart::kK, 0, 0) * dtype_size(sender_.kv.dtype);
      DROIDSPEAK_TRY(transport.transmit({Payload::kKv, l}, std::span<const std::byte>(sender_.kv.k_data + off, bytes),
                                        std::span<std::byte>(kv_landing_.get() + off, bytes)));
      transfer_events_.push_back({Kind::kTransferKv, l, l, start, since(t0_)});
    }
    return Status::ok();
  }

  Status adopt(const ScheduleStep& step) {
    const std::int64_t l = step.first_layer;
    const double start = since(t0_);
    DROIDSPEAK_TRY(check_finite_kv(l));
    DROIDSPEAK_TRY(layout::copy_kv({kv_src_, cache_, layout::LayerSet::range(l, l + 1), {0, n_}, 0}));
    rep_.kv_bytes_adopted += step.bytes;
    transfer_events_.push_back({Kind::kAdopt, l, l, start, since(t0_)});
    return Status::ok();
  }

  // The interval over the context; hidden_ is discarded afterwards, so the last layer runs
  // K/V-only where the schedule marks it dead and the engine has the member.
  Status recompute(const ScheduleStep& step) {
    const double start = since(t0_);
    hidden_.resize(static_cast<std::size_t>(n_ * g_.hidden_size));
    if (step.first_layer == 0) {
      DROIDSPEAK_TRY(r_.embed(context_, hidden_));
    } else {
      DROIDSPEAK_TRY(check_finite_e(step.first_layer));
      DROIDSPEAK_TRY(load_entry(e_src_, step.first_layer, n_, hidden_));
      rep_.e_bytes_used += step.bytes;
    }
    if (step.kv_only_last) {
      bool kv_only = false;
      DROIDSPEAK_TRY(run_layers_dead_tail(r_, step.first_layer, step.last_layer + 1, 0, n_, hidden_, &kv_only));
      if (kv_only) ++rep_.kv_only_layers;
    } else {
      DROIDSPEAK_TRY(r_.run_layers(step.first_layer, step.last_layer + 1, 0, n_, hidden_, nullptr));
    }
    rep_.timeline.push_back({Kind::kRecompute, step.first_layer, step.last_layer, start, since(t0_)});
    return Status::ok();
  }

  // Received bytes are checked where they enter the receiver: a NaN or infinity in the
  // sender's KV or E (a corrupted transfer, a broken sender) would otherwise spread through
  // attention into a finite-looking but wrong result. One read of what is adopted anyway.
  Status check_finite_kv(std::int64_t l) const {
    Result<layout::KvNonFinite> bad = layout::find_non_finite_kv(kv_src_, layout::LayerSet::range(l, l + 1), {0, n_});
    if (!bad) return bad.status();
    if (!bad->found) return Status::ok();
    return Status::data_corrupt("the sender's KV holds a non-finite value at " + bad->to_string());
  }
  Status check_finite_e(std::int64_t l) const {
    Result<layout::ENonFinite> bad = layout::find_non_finite_e(e_src_, layout::LayerSet::range(l, l + 1), {0, n_});
    if (!bad) return bad.status();
    if (!bad->found) return Status::ok();
    return Status::data_corrupt("the sender's E holds a non-finite value at " + bad->to_string());
  }

  Status suffix(const ScheduleStep& step) {
    DROIDSPEAK_TRY(r_.set_num_tokens(n_));
    const double start = since(t0_);
    DROIDSPEAK_TRY(run_suffix(r_, suffix_, n_, last_logits_));
    rep_.suffix_seconds = since(t0_) - start;
    if (m_ > 0) rep_.timeline.push_back({Kind::kSuffix, step.first_layer, step.last_layer, start, since(t0_)});
    return Status::ok();
  }

  E& r_;
  const plan::ReusePlan& plan_;
  std::span<const std::int32_t> context_;
  SenderCaches sender_;
  std::span<const std::int32_t> suffix_;
  std::span<float> last_logits_;
  bool streamed_;
  layout::ModelGeometry g_;
  std::int64_t n_, m_;
  Clock::time_point t0_ = Clock::now();
  Schedule schedule_;
  layout::KvView cache_;
  layout::ConstEView e_src_;   //!< where recomputation reads E: the sender's or the landed
  layout::ConstKvView kv_src_;  //!< where adoption reads KV: the sender's or the landed
  std::unique_ptr<std::byte[]> e_landing_, kv_landing_;
  std::vector<float> hidden_;                   //!< compute lane only
  PrefillReport rep_;                           //!< timeline, e_bytes_used, kv_only_layers:
                                                //!< compute lane;
                                                //!< kv_bytes_adopted: transfer lane
  std::vector<TimelineEvent> transfer_events_;  //!< transfer lane only
};

}  // namespace detail
}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
