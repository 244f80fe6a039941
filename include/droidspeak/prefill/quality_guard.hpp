// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A run-time quality guard: after a partial prefill, the receiver recomputes its own
//! KV for the last few context positions over the mixed cache and compares it with what it
//! adopted; when reuse went wrong (the deviation passes a threshold) it falls back to its full
//! prefill.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::prefill {

struct GuardOptions {
  std::int64_t probe_tokens = 4;   //!< last context positions recomputed for the check
  double max_relative_l2 = 0.5;    //!< fall back when ||own - adopted|| / ||own|| exceeds this
};

struct GuardReport {
  double relative_l2 = 0.0;  //!< of the receiver's own KV vs the adopted KV, reused layers, probe rows
  bool fell_back = false;    //!< the result is the receiver's full prefill
  std::int64_t probe_layer_token_passes = 0;
  PrefillReport prefill;     //!< of the partial prefill (before any fallback)
};

//! partial_prefill() with a check. After the context is prefilled with `plan`, the last
//! r = min(probe_tokens, n) context tokens run through every receiver layer again, attending
//! to the mixed cache (cost: r * L layer-token passes, like r suffix tokens); their K and V
//! in the reused layers are compared with the adopted ones (layout::kv_deviation). If the
//! relative L2 exceeds `max_relative_l2` the receiver's full prefill replaces the result;
//! otherwise the adopted rows are put back (the guard changes nothing when it passes) and the
//! suffix runs. Plans that reuse no layer are not checked. The threshold is the caller's: a
//! useful value comes from profiling samples of the same pair.
template <Engine E>
Status guarded_partial_prefill(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                               const SenderCaches& sender, std::span<const std::int32_t> suffix,
                               std::span<float> last_logits, const GuardOptions& options,
                               GuardReport* report = nullptr) {
  if (options.probe_tokens < 1 || !(options.max_relative_l2 >= 0.0)) {
    return Status::invalid_argument("quality guard: need probe_tokens >= 1 and max_relative_l2 >= 0");
  }
  GuardReport rep;
  DROIDSPEAK_TRY(partial_prefill(receiver, plan, context, sender, {}, {}, &rep.prefill));
  const layout::ModelGeometry g = receiver.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(detail::check_logits(last_logits, receiver.vocab_size(), m));
  DROIDSPEAK_TRY(receiver.reserve(n + m));
  const layout::LayerSet reused = plan.reused();
  if (!reused.empty()) {
    const std::int64_t r = std::min(options.probe_tokens, n);
    const layout::TransferLayout rows{g.num_layers, r, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
    std::vector<float> adopted(static_cast<std::size_t>(rows.pool_elements())), own(adopted.size());
    const layout::KvView adopted_view(reinterpret_cast<std::byte*>(adopted.data()), DType::kF32, rows);
    const layout::KvView own_view(reinterpret_cast<std::byte*>(own.data()), DType::kF32, rows);
    const layout::LayerSet all = layout::LayerSet::all(g.num_layers);
    DROIDSPEAK_TRY(layout::copy_kv({receiver.kv_cache(), adopted_view, all, {n - r, n}, 0}));
    DROIDSPEAK_TRY(receiver.set_num_tokens(n - r));
    std::vector<float> h(static_cast<std::size_t>(r * g.hidden_size));
    DROIDSPEAK_TRY(receiver.embed(context.subspan(static_cast<std::size_t>(n - r)), h));
    DROIDSPEAK_TRY(receiver.run_layers(0, g.num_layers, n - r, r, h, nullptr));
    rep.probe_layer_token_passes = r * g.num_layers;
    DROIDSPEAK_TRY(layout::copy_kv({receiver.kv_cache(), own_view, all, {n - r, n}, 0}));
    std::vector<layout::KvDeviation> dev(static_cast<std::size_t>(g.num_layers));
    DROIDSPEAK_TRY(layout::kv_deviation({own_view, adopted_view, reused, {0, r}}, dev));
    layout::DeviationStats total;
    for (std::int64_t i = 0; i < reused.count(); ++i) total = total.merged(dev[static_cast<std::size_t>(reused.nth(i))].both());
    rep.relative_l2 = total.relative_l2();
    // Put the partial prefill's rows back: a passing guard leaves its result unchanged.
    DROIDSPEAK_TRY(layout::copy_kv({adopted_view, receiver.kv_cache(), all, {0, r}, n - r}));
    DROIDSPEAK_TRY(receiver.set_num_tokens(n));
    if (!(rep.relative_l2 <= options.max_relative_l2)) {
      rep.fell_back = true;
      DROIDSPEAK_TRY(full_prefill(receiver, context, suffix, last_logits));
      if (report != nullptr) *report = std::move(rep);
      return Status::ok();
    }
  }
  DROIDSPEAK_TRY(detail::run_suffix(receiver, suffix, n, last_logits));
  if (report != nullptr) *report = std::move(rep);
  return Status::ok();
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::prefill
