// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A run-time quality guard: after a partial prefill, the receiver recomputes its own
//! KV for the last few context positions over the mixed cache and compares it with what it
//! adopted; when reuse went wrong (the deviation passes a threshold) it falls back to its full
//! prefill.
//!
//! Two statistics. Uncalibrated, the reused layers' deviations are pooled into one relative
//! L2 and compared with a fixed `max_relative_l2`; that value depends on the pair and the plan
//! (0.26-0.42 on the bundled base -> ft-code for every plan), so a fixed threshold cannot tell
//! a working cache from a broken one. Calibrated (GuardOptions::layer_max_relative_l2, from
//! profile::calibrate_guard), each reused layer's relative L2 is compared with that layer's
//! own bound, derived from what the same plan gives with the genuine sender on profiling
//! samples: a broken sender cache (corrupted bytes, another model's or another context's KV)
//! shows in the layers it breaks instead of being diluted by the layers it does not.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

struct GuardOptions {
  std::int64_t probe_tokens = 4;   //!< last context positions recomputed for the check
  double max_relative_l2 = 0.5;    //!< uncalibrated: fall back when the pooled ||own - adopted|| / ||own|| exceeds this
  //! Calibrated: [num_layers] per-layer bounds on ||own - adopted|| / ||own|| (entries of
  //! layers the plan recomputes are ignored). When non-empty it replaces max_relative_l2:
  //! the guard falls back when any reused layer's relative L2 exceeds its bound (a NaN
  //! counts as exceeding). See profile::calibrate_guard.
  std::vector<double> layer_max_relative_l2 = {};
};

struct GuardReport {
  double relative_l2 = 0.0;  //!< of the receiver's own KV vs the adopted KV, reused layers pooled, probe rows
  //! [num_layers] each layer's relative L2 on the probe rows; 0 for layers not reused.
  std::vector<double> layer_relative_l2;
  //! [num_layers] each reused layer's deviation on the probe rows (own = a, adopted = b).
  std::vector<layout::KvDeviation> layer_deviation;
  //! The calibrated statistic: max over reused layers of relative L2 / the layer's bound; the
  //! guard falls back when it exceeds 1 (NaN when a deviation is NaN). 0 when uncalibrated.
  double worst_bound_ratio = 0.0;
  bool fell_back = false;    //!< the result is the receiver's full prefill
  //! Why it fell back: the probe's deviation, or the partial prefill's refusal of corrupt
  //! sender data (kErrorDataCorrupt: a non-finite value in the sender's KV or E). Empty when not.
  std::string fallback_reason;
  std::int64_t probe_layer_token_passes = 0;
  PrefillReport prefill;     //!< of the partial prefill (before any fallback)
};

namespace detail {

inline Status check_guard_options(const GuardOptions& options, std::int64_t num_layers) {
  if (options.probe_tokens < 1 || !(options.max_relative_l2 >= 0.0)) {
    return Status::invalid_argument("quality guard: need probe_tokens >= 1 and max_relative_l2 >= 0");
  }
  if (options.layer_max_relative_l2.empty()) return Status::ok();
  if (static_cast<std::int64_t>(options.layer_max_relative_l2.size()) != num_layers) {
    return Status::invalid_argument("quality guard: layer_max_relative_l2 has " +
                                    std::to_string(options.layer_max_relative_l2.size()) + " entries, the receiver " +
                                    std::to_string(num_layers) + " layers");
  }
  for (const double b : options.layer_max_relative_l2) {
    if (!(b >= 0.0)) return Status::invalid_argument("quality guard: layer_max_relative_l2 holds " + std::to_string(b) + ", not >= 0");
  }
  return Status::ok();
}

}  // namespace detail

//! The guard's check of a receiver whose cache already holds the context prefilled with
//! `plan` (partial_prefill, or the pipelined prefill::PipelinedPrefill: any way that leaves the
//! sender's adopted K and V in the reused layers). The last r = min(probe_tokens, n) context
//! tokens run through every receiver layer again, attending to the mixed cache (cost: r * L
//! layer-token passes, like r suffix tokens); their K and V in the reused layers are compared
//! with the adopted ones (layout::kv_deviation). The check fails when (calibrated) some reused
//! layer's relative L2 exceeds its bound in `layer_max_relative_l2`, or (uncalibrated) the
//! pooled relative L2 exceeds `max_relative_l2`. Either way the adopted rows are put back and
//! the receiver holds as many tokens as before the call: rows after the context (a suffix
//! the prefill already ran) are not touched, so a passing check leaves the cache, and logits
//! computed from it, exactly as they were. What to do on a failure (the receiver's full
//! prefill) is the caller's. The sender's caches are not needed: the adopted rows are read
//! from the receiver's own cache.
//! @param report filled with the deviations, worst_bound_ratio and the probe's passes; its
//!   `prefill` and `fell_back` are left as they were.
//! @return true when the cache passes (always for a plan that reuses no layer: nothing to check).
//! Errors: invalid options (see GuardOptions), a plan for another layer count, a receiver
//! holding fewer tokens than the context has, and any engine error.
template <Engine E>
Result<bool> guard_check(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                         const GuardOptions& options, GuardReport& report) {
  const layout::ModelGeometry g = receiver.geometry();
  DROIDSPEAK_TRY(detail::check_guard_options(options, g.num_layers));
  const auto n = static_cast<std::int64_t>(context.size());
  if (plan.num_layers() != g.num_layers) {
    return Status::invalid_argument("quality guard: plan " + plan.to_string() + " is for " +
                                    std::to_string(plan.num_layers()) + " layers, not " + std::to_string(g.num_layers));
  }
  const std::int64_t held = receiver.num_tokens();
  if (held < n) {
    return Status::invalid_argument("quality guard: the receiver holds " + std::to_string(held) +
                                    " tokens, fewer than the context's " + std::to_string(n));
  }
  const layout::LayerSet reused = plan.reused();
  if (reused.empty() || n == 0) return true;
  const bool calibrated = !options.layer_max_relative_l2.empty();
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
  report.probe_layer_token_passes = r * g.num_layers;
  DROIDSPEAK_TRY(layout::copy_kv({receiver.kv_cache(), own_view, all, {n - r, n}, 0}));
  std::vector<layout::KvDeviation> dev(static_cast<std::size_t>(g.num_layers));
  DROIDSPEAK_TRY(layout::kv_deviation({own_view, adopted_view, reused, {0, r}}, dev));
  layout::DeviationStats total;
  report.layer_relative_l2.assign(static_cast<std::size_t>(g.num_layers), 0.0);
  report.worst_bound_ratio = 0.0;
  bool within = true;
  for (std::int64_t i = 0; i < reused.count(); ++i) {
    const auto l = static_cast<std::size_t>(reused.nth(i));
    total = total.merged(dev[l].both());
    const double rel = dev[l].both().relative_l2();
    report.layer_relative_l2[l] = rel;
    if (calibrated) {
      const double bound = options.layer_max_relative_l2[l];
      // A zero bound (the layer was exact on every profiling sample) tolerates exactly zero.
      const double ratio = rel == 0.0 ? 0.0 : rel / bound;
      if (!std::isnan(report.worst_bound_ratio) && !(ratio <= report.worst_bound_ratio)) report.worst_bound_ratio = ratio;  // NaN sticks
      within = within && ratio <= 1.0;
    }
  }
  report.relative_l2 = total.relative_l2();
  report.layer_deviation = std::move(dev);
  if (!calibrated) within = report.relative_l2 <= options.max_relative_l2;
  // Put the partial prefill's rows back: a passing guard leaves its result unchanged.
  DROIDSPEAK_TRY(layout::copy_kv({adopted_view, receiver.kv_cache(), all, {0, r}, n - r}));
  DROIDSPEAK_TRY(receiver.set_num_tokens(held));
  return within;
}

//! partial_prefill() with a check: after the context is prefilled with `plan`, guard_check()
//! probes the mixed cache. If the check fails the receiver's full prefill replaces the result;
//! otherwise the adopted rows are back in place (the guard changes nothing when it passes) and
//! the suffix runs. Plans that reuse no layer are not checked. The bounds should come from
//! profiling samples of the same pair and plan (profile::calibrate_guard);
//! `layer_max_relative_l2` must then have num_layers entries.
template <Engine E>
Status guarded_partial_prefill(E& receiver, const plan::ReusePlan& plan, std::span<const std::int32_t> context,
                               const SenderCaches& sender, std::span<const std::int32_t> suffix,
                               std::span<float> last_logits, const GuardOptions& options,
                               GuardReport* report = nullptr) {
  DROIDSPEAK_TRY(detail::check_guard_options(options, receiver.geometry().num_layers));
  GuardReport rep;
  const auto n = static_cast<std::int64_t>(context.size());
  // Corrupt sender data is refused before it is used; the guard's answer to it is the same
  // as to a deviation: the receiver's own full prefill, with the reason said.
  if (Status s = partial_prefill(receiver, plan, context, sender, {}, {}, &rep.prefill); !s.is_ok()) {
    if (s.code() != StatusCode::kErrorDataCorrupt) return s;
    rep.fell_back = true;
    rep.fallback_reason = s.message();
    DROIDSPEAK_TRY(full_prefill(receiver, context, suffix, last_logits));
    if (report != nullptr) *report = std::move(rep);
    return Status::ok();
  }
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(detail::check_logits(last_logits, receiver.vocab_size(), m));
  DROIDSPEAK_TRY(receiver.reserve(n + m));
  Result<bool> passed = guard_check(receiver, plan, context, options, rep);
  if (!passed) return passed.status();
  if (!*passed) {
    rep.fell_back = true;
    rep.fallback_reason = "the probe's deviation exceeds its bound (worst bound ratio " +
                          std::to_string(rep.worst_bound_ratio) + ")";
    DROIDSPEAK_TRY(full_prefill(receiver, context, suffix, last_logits));
  } else {
    DROIDSPEAK_TRY(detail::run_suffix(receiver, suffix, n, last_logits));
  }
  if (report != nullptr) *report = std::move(rep);
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
