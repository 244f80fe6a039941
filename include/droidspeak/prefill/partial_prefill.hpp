// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file DroidSpeak's partial prefill, driven through any prefill::Engine: the receiver's
//! prefill that adopts the sender's KV for reused layers and recomputes the plan's intervals
//! from the sender's hidden states, directly from the sender's views or streamed through a
//! transport with the E-first schedule (schedule.hpp), and the receiver's full prefill it is
//! measured against. The public entry points; the work is done by the drivers
//! (sequential_driver.hpp, threaded_driver.hpp) over one detail::Execution (execution.hpp).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/execution.hpp"
#include "droidspeak/prefill/no_throw.hpp"
#include "droidspeak/prefill/sender_caches.hpp"  // SenderCaches, sender_prefill
#include "droidspeak/prefill/sequential_driver.hpp"
#include "droidspeak/prefill/threaded_driver.hpp"
#include "droidspeak/prefill/transport.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! How streamed_partial_prefill overlaps the schedule's two lanes.
enum class Overlap : std::uint8_t {
  kSequential,  //!< every transfer and adoption first, then the recomputation, one thread
  kPipelined,   //!< E first then KV on a transfer thread; intervals start as soon as their E lands
};

//! The receiver's full prefill of context + suffix (the baseline every plan is measured
//! against), with the logits of the last suffix token (or of the last context token when the
//! suffix is empty). Exceptions from the engine come back as a Status. When a suffix follows
//! or no logits are asked for, the context's hidden state after the last layer is dead and
//! that layer runs K/V-only where the engine can (run_layers_dead_tail), exactly as the
//! full-recompute plan's interval does: the same cache, and the same work, so a plan's time
//! is compared with a baseline that has the same saving.
//! @param last_logits [vocab_size] or empty.
template <Engine E>
Status full_prefill(E& r, std::span<const std::int32_t> context, std::span<const std::int32_t> suffix,
                    std::span<float> last_logits) {
  return detail::no_throw("full prefill", [&]() -> Status {
    const layout::ModelGeometry g = r.geometry();
    const auto n = static_cast<std::int64_t>(context.size());
    const auto m = static_cast<std::int64_t>(suffix.size());
    DROIDSPEAK_TRY(r.reset());
    DROIDSPEAK_TRY(r.reserve(n + m));
    std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
    DROIDSPEAK_TRY(r.embed(context, h));
    if (m > 0 || last_logits.empty()) {
      DROIDSPEAK_TRY(run_layers_dead_tail(r, 0, g.num_layers, 0, n, h));
      // An engine may count positions only after full [0, L) runs: declare them.
      DROIDSPEAK_TRY(r.set_num_tokens(n));
    } else {
      DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, 0, n, h, nullptr));
    }
    if (m > 0) return detail::run_suffix(r, suffix, n, last_logits);
    if (last_logits.empty()) return Status::ok();
    return r.logits(std::span<const float>(h).last(static_cast<std::size_t>(g.hidden_size)), last_logits);
  });
}

//! Partial prefill straight from the sender's views (same process, no transport): resets
//! the receiver, reserves n + m positions, adopts the sender's KV for every reused layer
//! (converted into the receiver's layout and dtype by layout::copy_kv), recomputes each
//! interval [s, e] from E_S[s] (from the receiver's own embeddings when s == 0), marks the n
//! context positions valid, then runs the suffix through every layer. Runs on the caller's
//! thread (the sequential driver).
//! @param context     [n] token ids, n >= 1.
//! @param sender      see SenderCaches; only reused layers' KV and entry layers' E are read.
//! @param suffix      [m] token ids, m >= 0.
//! @param last_logits [vocab_size] logits of the last suffix token, or empty to skip them.
//! @param report      optional: what was done and how long it took.
//! Errors of the adoption are prefixed "partial prefill: adopt", those of the engine's
//! layers "partial prefill: compute"; exceptions and failed allocations become such a Status.
//! On a deterministic engine (is_deterministic<E>()), the full-recompute plan gives exactly
//! the receiver's full prefill and identical sender/receiver weights give it for any plan.
template <Engine E>
Status partial_prefill(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                       const SenderCaches& sender, std::span<const std::int32_t> suffix,
                       std::span<float> last_logits, PrefillReport* report = nullptr) {
  return detail::no_throw("partial prefill: setup", [&]() -> Status {
    detail::Execution<E> x(receiver, plan, context, sender, suffix, last_logits, false);
    DROIDSPEAK_TRY(x.prepare());
    DROIDSPEAK_TRY(detail::run_sequential(x, nullptr, {"partial prefill: adopt", "partial prefill: compute"}));
    x.finish(report);
    return Status::ok();
  });
}

//! Partial prefill with the sender's bytes crossing `transport`, E first (see
//! make_schedule): the transfer lane sends E for every entry layer (ascending), then the KV
//! of every reused layer (ascending), adopting each layer into the receiver's cache as it
//! lands; the compute lane recomputes each interval as soon as its E has arrived. KV of
//! recomputed layers is never sent. With Overlap::kPipelined the transfer lane runs on its
//! own thread (threaded_driver.hpp), so the recomputation overlaps the KV stream; with
//! kSequential everything runs on the caller's thread, transfers first. Both give identical
//! caches. `transport` may be any Transport, or a TransportRef to one picked at run time.
//!
//! @param sender  `kv` must use the transfer layout (each layer's K and V are then one
//!                contiguous chunk) with exactly n tokens; `e` holds the entry layers with
//!                exactly n tokens (each entry one contiguous chunk).
//! Other parameters as partial_prefill(). Errors (returned or thrown, by the transport, the
//! engine or an allocation) are prefixed "streamed partial prefill: transfer" or
//! "streamed partial prefill: compute" by the lane they happened on; the other lane then
//! stops promptly and every thread is joined. The engine must allow writes through
//! kv_cache() to layers outside the range a concurrent run_layers works on (the Engine
//! concept's contract: run_layers neither reads nor writes other layers).
template <Engine E, Transport T>
Status streamed_partial_prefill(E& receiver, const plan::ReusePlan& plan,
                                std::span<const std::int32_t> context, const SenderCaches& sender,
                                T& transport, Overlap overlap, std::span<const std::int32_t> suffix,
                                std::span<float> last_logits, PrefillReport* report = nullptr) {
  return detail::no_throw("streamed partial prefill: setup", [&]() -> Status {
    detail::Execution<E> x(receiver, plan, context, sender, suffix, last_logits, true);
    DROIDSPEAK_TRY(x.prepare());
    TransportRef link(transport);
    const detail::LaneLabels labels{"streamed partial prefill: transfer", "streamed partial prefill: compute"};
    if (overlap == Overlap::kPipelined) {
      DROIDSPEAK_TRY(detail::run_threaded(x, link, labels));
    } else {
      DROIDSPEAK_TRY(detail::run_sequential(x, &link, labels));
    }
    x.finish(report);
    return Status::ok();
  });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
