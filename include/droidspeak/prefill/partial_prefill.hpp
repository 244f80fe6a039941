// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file DroidSpeak's partial prefill, driven through any prefill::Engine: the sender's
//! prefill with E capture, and the receiver's prefill that adopts the sender's KV for reused
//! layers and recomputes the plan's intervals from the sender's hidden states — directly from
//! the sender's views, or streamed through a transport with the E-first pipelined schedule.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/transport.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>  // std::make_unique_for_overwrite: landing buffers
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::prefill {

//! What the sender hands over for one context of n tokens: its KV (every reused layer,
//! tokens [0, n), any layout and dtype the receiver's cache can convert from) and its E cache
//! (at least the plan's entry layers, tokens [0, n), any dtype).
struct SenderCaches {
  layout::ConstKvView kv;
  layout::ConstEView e;
};

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
  double adopt_seconds = 0.0;            //!< transfers + adoption, as seen on their own thread
  double recompute_seconds = 0.0;        //!< running the intervals (incl. waiting for E)
  double suffix_seconds = 0.0;
  double total_seconds = 0.0;
  std::vector<TimelineEvent> timeline;   //!< in the order the phases began on each thread
};

//! How the pipelined executor orders its work.
enum class Schedule : std::uint8_t {
  kSequential,  //!< every transfer and adoption first, then the recomputation, one thread
  kPipelined,   //!< E first then KV on a transfer thread; intervals start as soon as their E lands
};

namespace detail {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <Engine E>
Status check_plan_for(const E& engine, const plan::ReusePlan& plan, std::int64_t n, std::int64_t m) {
  const layout::ModelGeometry g = engine.geometry();
  if (plan.num_layers() != g.num_layers) {
    return Status::invalid_argument("partial prefill: plan for " + std::to_string(plan.num_layers()) +
                                    " layers, receiver has " + std::to_string(g.num_layers));
  }
  if (n <= 0) return Status::invalid_argument("partial prefill: empty context");
  if (m < 0) return Status::invalid_argument("partial prefill: negative suffix length");
  return Status::ok();
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

// The part both executors share once the context's cache is filled: mark it valid, run the
// suffix, complete the report.
template <Engine E>
Status finish(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> suffix, std::int64_t n,
              std::span<float> last_logits, Clock::time_point t0, PrefillReport& rep, PrefillReport* report) {
  const layout::ModelGeometry g = receiver.geometry();
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(receiver.set_num_tokens(n));
  const double suffix_start = since(t0);
  DROIDSPEAK_TRY(run_suffix(receiver, suffix, n, last_logits));
  rep.suffix_seconds = since(t0) - suffix_start;
  if (m > 0) rep.timeline.push_back({TimelineEvent::Kind::kSuffix, 0, g.num_layers - 1, suffix_start, since(t0)});
  rep.layers_recomputed = plan.num_recomputed();
  rep.layers_reused = plan.reused().count();
  rep.layer_token_passes = plan.num_recomputed() * n + g.num_layers * m;
  rep.total_seconds = since(t0);
  if (report != nullptr) *report = std::move(rep);
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

}  // namespace detail

//! The sender's side: a full prefill of `context` that captures the residual stream entering
//! the layers of `e_out.layout.entry_layers` into `e_out` (rows [0, n)). Afterwards the
//! sender's kv_cache() holds its KV for every layer.
//! @param e_out [entries][>= n][hidden] host buffer, any dtype; may be an empty view
//!              (data == nullptr) when no E is needed.
template <Engine E>
Status sender_prefill(E& sender, std::span<const std::int32_t> context, const layout::EView& e_out) {
  const layout::ModelGeometry g = sender.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  DROIDSPEAK_TRY(sender.reset());
  DROIDSPEAK_TRY(sender.reserve(n));
  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  DROIDSPEAK_TRY(sender.embed(context, h));
  return sender.run_layers(0, g.num_layers, 0, n, h, e_out.data == nullptr ? nullptr : &e_out);
}

//! The receiver's full prefill of context + suffix (the baseline every plan is measured
//! against), with the logits of the last suffix token (or of the last context token when the
//! suffix is empty).
//! @param last_logits [vocab_size] or empty.
template <Engine E>
Status full_prefill(E& r, std::span<const std::int32_t> context, std::span<const std::int32_t> suffix,
                    std::span<float> last_logits) {
  const layout::ModelGeometry g = r.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(r.reset());
  DROIDSPEAK_TRY(r.reserve(n + m));
  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  DROIDSPEAK_TRY(r.embed(context, h));
  DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, 0, n, h, nullptr));
  if (m > 0) return detail::run_suffix(r, suffix, n, last_logits);
  if (last_logits.empty()) return Status::ok();
  return r.logits(std::span<const float>(h).last(static_cast<std::size_t>(g.hidden_size)), last_logits);
}

//! Partial prefill straight from the sender's views (same process, no transport): resets
//! the receiver, reserves n + m positions, adopts the sender's KV for every reused layer
//! (converted into the receiver's layout and dtype by layout::copy_kv), recomputes each
//! interval [s, e] from E_S[s] (from the receiver's own embeddings when s == 0), marks the n
//! context positions valid, then runs the suffix through every layer.
//! @param context     [n] token ids, n >= 1.
//! @param sender      see SenderCaches; only reused layers' KV and entry layers' E are read.
//! @param suffix      [m] token ids, m >= 0.
//! @param last_logits [vocab_size] logits of the last suffix token, or empty to skip them.
//! @param report      optional: what was done and how long it took.
//! On a deterministic engine (is_deterministic<E>()), the full-recompute plan gives exactly
//! the receiver's full prefill and identical sender/receiver weights give it for any plan.
template <Engine E>
Status partial_prefill(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                       const SenderCaches& sender, std::span<const std::int32_t> suffix,
                       std::span<float> last_logits, PrefillReport* report = nullptr) {
  const auto t0 = detail::Clock::now();
  const layout::ModelGeometry g = receiver.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(detail::check_plan_for(receiver, plan, n, m));
  DROIDSPEAK_TRY(detail::check_sender(sender, plan, g, n));
  DROIDSPEAK_TRY(detail::check_logits(last_logits, receiver.vocab_size(), m));
  PrefillReport rep;
  DROIDSPEAK_TRY(receiver.reset());
  DROIDSPEAK_TRY(receiver.reserve(n + m));

  const layout::LayerSet reused = plan.reused();
  DROIDSPEAK_TRY(layout::copy_kv({sender.kv, receiver.kv_cache(), reused, {0, n}, 0}));
  rep.kv_bytes_adopted = reused.count() * 2 * n * g.kv_row_elements() * dtype_size(sender.kv.dtype);
  rep.adopt_seconds = detail::since(t0);
  rep.timeline.push_back({TimelineEvent::Kind::kAdopt, 0, g.num_layers - 1, 0.0, rep.adopt_seconds});

  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  for (const plan::LayerInterval& v : plan.intervals()) {
    const double start = detail::since(t0);
    if (v.first == 0) {
      DROIDSPEAK_TRY(receiver.embed(context, h));
    } else {
      DROIDSPEAK_TRY(detail::load_entry(sender.e, v.first, n, h));
      rep.e_bytes_used += n * g.hidden_size * dtype_size(sender.e.dtype);
    }
    DROIDSPEAK_TRY(receiver.run_layers(v.first, v.last + 1, 0, n, h, nullptr));
    rep.timeline.push_back({TimelineEvent::Kind::kRecompute, v.first, v.last, start, detail::since(t0)});
  }
  rep.recompute_seconds = detail::since(t0) - rep.adopt_seconds;
  return detail::finish(receiver, plan, suffix, n, last_logits, t0, rep, report);
}

//! Partial prefill with the sender's bytes crossing `transport`, E first: the transfer side
//! sends E for every entry layer (ascending), then the KV of every reused layer (ascending)
//! and adopts each layer into the receiver's cache as it lands; the compute side recomputes
//! each interval as soon as its E has arrived. KV of recomputed layers is never sent.
//! With Schedule::kPipelined the transfer side runs on its own thread, so the recomputation
//! overlaps the KV stream; with kSequential everything runs on the caller's thread, transfers
//! first. Both give identical caches.
//!
//! On a GPU engine the same schedule maps onto two streams: the transfer side is a copy
//! stream recording one event per landed E and per adopted layer, the compute stream waits on
//! the event of E[s] (cudaStreamWaitEvent) before launching interval [s, e], and the suffix
//! waits on the last adoption event; no host synchronisation is needed in between.
//!
//! @param sender  `kv` must use the transfer layout (each layer's K and V are then one
//!                contiguous chunk) with exactly n tokens; `e` holds the entry layers with
//!                exactly n tokens (each entry one contiguous chunk).
//! Other parameters and the result as partial_prefill(). The engine must allow writes through
//! kv_cache() to layers outside the range a concurrent run_layers works on (the Engine
//! concept's contract: run_layers neither reads nor writes other layers).
template <Engine E, Transport T>
Status streamed_partial_prefill(E& receiver, const plan::ReusePlan& plan,
                                std::span<const std::int32_t> context, const SenderCaches& sender,
                                T& transport, Schedule schedule, std::span<const std::int32_t> suffix,
                                std::span<float> last_logits, PrefillReport* report = nullptr) {
  const auto t0 = detail::Clock::now();
  const layout::ModelGeometry g = receiver.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(detail::check_plan_for(receiver, plan, n, m));
  DROIDSPEAK_TRY(detail::check_sender(sender, plan, g, n));
  DROIDSPEAK_TRY(detail::check_logits(last_logits, receiver.vocab_size(), m));
  const layout::LayerSet reused = plan.reused();
  const layout::LayerSet entries = plan.entry_layers();
  if (!reused.empty() && (sender.kv.layout.kind != layout::LayoutKind::kTransfer ||
                          sender.kv.layout.num_tokens() != n)) {
    return Status::invalid_argument("streamed partial prefill: sender kv must use the transfer layout with "
                                    "exactly the context's " + std::to_string(n) + " tokens, got " +
                                    sender.kv.layout.describe());
  }
  if (!entries.empty() && sender.e.layout.num_tokens != n) {
    return Status::invalid_argument("streamed partial prefill: sender E must hold exactly the context's " +
                                    std::to_string(n) + " tokens, got " +
                                    std::to_string(sender.e.layout.num_tokens));
  }
  DROIDSPEAK_TRY(receiver.reset());
  DROIDSPEAK_TRY(receiver.reserve(n + m));
  const layout::KvView cache = receiver.kv_cache();

  // Receiver-side landing buffers: the KV shaped like the sender's transfer buffer (only the
  // reused layers' parts are written), E only for the plan's entry layers. Not zeroed: every
  // byte read was written by a transfer first.
  const std::size_t kv_bytes = static_cast<std::size_t>(reused.empty() ? 0 : sender.kv.pool_bytes());
  const std::unique_ptr<std::byte[]> kv_landing = std::make_unique_for_overwrite<std::byte[]>(kv_bytes);
  const layout::ConstKvView kv_landed(kv_landing.get(), sender.kv.dtype, sender.kv.layout);
  const layout::ECacheLayout e_landed_layout{entries, n, g.hidden_size};
  const std::unique_ptr<std::byte[]> e_landing = std::make_unique_for_overwrite<std::byte[]>(
      static_cast<std::size_t>(e_landed_layout.pool_elements() * dtype_size(sender.e.dtype)));
  const layout::ConstEView e_landed(e_landing.get(), sender.e.dtype, e_landed_layout);

  std::mutex mutex;
  std::condition_variable landed;
  layout::LayerSet e_arrived;
  bool transfer_failed = false;
  Status transfer_status;
  PrefillReport rep;
  std::vector<TimelineEvent> transfer_events;

  auto transfer_side = [&]() -> Status {
    const std::int64_t e_chunk = n * g.hidden_size * dtype_size(sender.e.dtype);
    for (std::int64_t i = 0; i < entries.count(); ++i) {
      const std::int64_t l = entries.nth(i);
      const double start = detail::since(t0);
      const std::int64_t from = sender.e.layout.row_offset(l, 0) * dtype_size(sender.e.dtype);
      const std::int64_t to = e_landed_layout.row_offset(l, 0) * dtype_size(sender.e.dtype);
      DROIDSPEAK_TRY(transport.transmit(
          {Payload::kE, l}, std::span<const std::byte>(sender.e.data + from, static_cast<std::size_t>(e_chunk)),
          std::span<std::byte>(e_landing.get() + to, static_cast<std::size_t>(e_chunk))));
      transfer_events.push_back({TimelineEvent::Kind::kTransferE, l, l, start, detail::since(t0)});
      {
        std::lock_guard<std::mutex> lock(mutex);
        e_arrived.insert(l);
      }
      landed.notify_all();
    }
    const std::int64_t kv_chunk = 2 * n * g.kv_row_elements() * dtype_size(sender.kv.dtype);
    for (std::int64_t i = 0; i < reused.count(); ++i) {
      const std::int64_t l = reused.nth(i);
      double start = detail::since(t0);
      const std::int64_t off = sender.kv.layout.row_offset(l, layout::KvPart::kK, 0, 0) * dtype_size(sender.kv.dtype);
      DROIDSPEAK_TRY(transport.transmit(
          {Payload::kKv, l}, std::span<const std::byte>(sender.kv.k_data + off, static_cast<std::size_t>(kv_chunk)),
          std::span<std::byte>(kv_landing.get() + off, static_cast<std::size_t>(kv_chunk))));
      transfer_events.push_back({TimelineEvent::Kind::kTransferKv, l, l, start, detail::since(t0)});
      start = detail::since(t0);
      DROIDSPEAK_TRY(layout::copy_kv({kv_landed, cache, layout::LayerSet::range(l, l + 1), {0, n}, 0}));
      transfer_events.push_back({TimelineEvent::Kind::kAdopt, l, l, start, detail::since(t0)});
    }
    rep.kv_bytes_adopted = reused.count() * kv_chunk;
    return Status::ok();
  };
  auto run_transfer_side = [&] {
    const auto start = detail::Clock::now();
    Status s = transfer_side();
    rep.adopt_seconds = detail::since(start);
    std::lock_guard<std::mutex> lock(mutex);
    if (!s.is_ok()) {
      transfer_failed = true;
      transfer_status = std::move(s);
    }
    landed.notify_all();
  };

  std::thread transfer_thread;
  if (schedule == Schedule::kPipelined) {
    transfer_thread = std::thread(run_transfer_side);
  } else {
    run_transfer_side();
  }

  Status compute_status;
  const double compute_start = detail::since(t0);
  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  for (const plan::LayerInterval& v : plan.intervals()) {
    const double start = detail::since(t0);
    if (v.first == 0) {
      compute_status = receiver.embed(context, h);
    } else {
      std::unique_lock<std::mutex> lock(mutex);
      landed.wait(lock, [&] { return e_arrived.contains(v.first) || transfer_failed; });
      if (!e_arrived.contains(v.first)) break;  // the transfer failed: reported below
      lock.unlock();
      compute_status = detail::load_entry(e_landed, v.first, n, h);
      rep.e_bytes_used += n * g.hidden_size * dtype_size(sender.e.dtype);
    }
    if (compute_status.is_ok()) compute_status = receiver.run_layers(v.first, v.last + 1, 0, n, h, nullptr);
    if (!compute_status.is_ok()) break;
    rep.timeline.push_back({TimelineEvent::Kind::kRecompute, v.first, v.last, start, detail::since(t0)});
  }
  rep.recompute_seconds = detail::since(t0) - compute_start;
  if (transfer_thread.joinable()) transfer_thread.join();
  DROIDSPEAK_TRY(transfer_status.with_context("streamed partial prefill: transfer"));
  DROIDSPEAK_TRY(compute_status.with_context("streamed partial prefill: recompute"));
  rep.timeline.insert(rep.timeline.end(), transfer_events.begin(), transfer_events.end());
  return detail::finish(receiver, plan, suffix, n, last_logits, t0, rep, report);
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::prefill
