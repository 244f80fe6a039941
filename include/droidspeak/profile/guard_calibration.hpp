// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Calibrating the run-time quality guard (prefill::guarded_partial_prefill) of one plan
//! on profiling samples: what deviation the plan shows with the genuine sender, per layer,
//! and the bounds above which the guard falls back.
//!
//! Why per layer and relative to the same plan: the deviation of the receiver's own KV from
//! the adopted KV is the price of reuse and differs from layer to layer and plan to plan
//! (pooled, 0.26-0.42 on the bundled base -> ft-code for every plan), so one fixed threshold
//! either never fires or always does. The guard's job is not to rank plans (the profile did
//! that) but to notice a broken sender cache: corrupted bytes, another model's KV, another
//! context's KV. Such a cache moves the deviation of the layers it breaks far outside what the
//! genuine sender gave on any profiling sample, and a per-layer bound sees that even when the
//! break touches one layer of many.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/guard_thresholds.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/quality_guard.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/profile/sample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! How calibrate_guard derives the bounds.
struct GuardCalibrationOptions {
  //! As GuardOptions::probe_tokens; the run uses the same (guard_options()). 16 rather than the
  //! guard's default 4: a 4-row deviation varies so much between contexts that held-out ones
  //! reach 1.5x the profiled maximum; with 16 they stay within 1.1x (bundled base -> ft-code).
  std::int64_t probe_tokens = 16;
  //! bound = margin * the largest relative L2 a reused layer showed on any profiling sample.
  //! 1.5: held-out contexts of the bundled family stay within 1.1x of the profiled maximum,
  //! another context's cache lands at 1.7x or more, corrupted values (NaN, flipped exponent
  //! bits) at infinity or NaN.
  double margin = 1.5;
  //! The least bound of a reused layer. A layer that was exact on every profiling sample (an
  //! identical layer, or the sender is the receiver) still shows float rounding at run time,
  //! because the probe runs fewer tokens per matrix product than the prefill did (~1e-6).
  double min_bound = 1e-3;
};

//! The guard's calibration for one plan: what a plan file stores next to the plan, and what
//! guard_options() turns into the run's GuardOptions.
struct GuardCalibration {
  std::int64_t probe_tokens = 16;  //!< the probe size the statistics were measured with
  double margin = 1.5;             //!< bounds = max(margin * observed_max, min_bound) on reused layers
  double min_bound = 1e-3;         //!< see GuardCalibrationOptions::min_bound
  std::int64_t num_samples = 0;   //!< profiling samples measured
  //! [num_layers] max over samples of each reused layer's relative L2 (0 for recomputed layers).
  std::vector<double> observed_max;
  //! [num_layers] the guard's per-layer bounds: max(margin * observed_max, min_bound) for the
  //! layers the plan reuses, 0 for the others (the guard does not look at them).
  std::vector<double> layer_max_relative_l2;

  //! The options that run the guard with this calibration.
  prefill::GuardOptions guard_options() const {
    return {.probe_tokens = probe_tokens, .max_relative_l2 = 0.5, .layer_max_relative_l2 = layer_max_relative_l2};
  }

  //! As a plan file stores it (plan::PlanFile::guard).
  plan::GuardThresholds thresholds() const {
    return {probe_tokens, margin, min_bound, num_samples, observed_max, layer_max_relative_l2};
  }
  //! From a plan file's stored thresholds (validated when the file was read).
  static GuardCalibration from(const plan::GuardThresholds& t) {
    return {t.probe_tokens, t.margin, t.min_bound, t.num_samples, t.observed_max_relative_l2, t.layer_max_relative_l2};
  }
};

//! Measures, for every sample, the per-layer relative L2 that the guard sees when `receiver`
//! adopts `sender`'s genuine caches with `plan` (prefill::guarded_partial_prefill with no
//! bound, so it never falls back), and derives the bounds from their maxima. Cost per
//! sample: the sender's prefill (L * n layer-token passes), the plan's partial prefill and
//! the guard's probe (L * min(probe_tokens, n)); suffixes are not run.
//! @param samples at least one; their contexts are what is measured (suffixes are ignored).
//! Errors: invalid options, an empty sample list, mismatched geometries or plan size, and
//! any engine error. A non-finite deviation on a profiling sample is an error: the genuine
//! sender must not give one.
template <prefill::Engine E>
Result<GuardCalibration> calibrate_guard(E& sender, E& receiver, const plan::ReusePlan& plan,
                                         std::span<const Sample> samples, const GuardCalibrationOptions& options = {}) {
  if (options.probe_tokens < 1 || !(options.margin >= 1.0) || !std::isfinite(options.margin) ||
      !(options.min_bound >= 0.0) || !std::isfinite(options.min_bound)) {
    return Status::invalid_argument("calibrate_guard: need probe_tokens >= 1, a finite margin >= 1 and a finite min_bound >= 0");
  }
  if (samples.empty()) return Status::invalid_argument("calibrate_guard: no samples");
  const layout::ModelGeometry g = receiver.geometry();
  if (!(sender.geometry() == g)) {
    return Status::invalid_argument("calibrate_guard: sender and receiver differ in geometry");
  }
  if (plan.num_layers() != g.num_layers) {
    return Status::invalid_argument("calibrate_guard: plan " + plan.to_string() + " is for " +
                                    std::to_string(plan.num_layers()) + " layers, not " +
                                    std::to_string(g.num_layers));
  }
  GuardCalibration cal;
  cal.probe_tokens = options.probe_tokens;
  cal.margin = options.margin;
  cal.min_bound = options.min_bound;
  cal.observed_max.assign(static_cast<std::size_t>(g.num_layers), 0.0);
  const prefill::GuardOptions measure{.probe_tokens = options.probe_tokens,
                                      .max_relative_l2 = std::numeric_limits<double>::infinity()};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::vector<std::int32_t>& context = samples[i].context;
    if (context.empty()) return Status::invalid_argument("calibrate_guard: sample " + std::to_string(i) + " has no context");
    Result<prefill::SenderCacheBuffers> sent =
        prefill::SenderCacheBuffers::prefill(sender, plan, context, {.kv = prefill::SenderKv::kEngineCache});
    if (!sent) return sent.status();
    prefill::GuardReport rep;
    DROIDSPEAK_TRY(prefill::guarded_partial_prefill(receiver, plan, context, sent->caches(), {}, {}, measure, &rep));
    for (std::size_t l = 0; l < rep.layer_relative_l2.size(); ++l) {
      const double rel = rep.layer_relative_l2[l];
      if (!std::isfinite(rel)) {
        return Status::invalid_argument("calibrate_guard: sample " + std::to_string(i) + ", layer " + std::to_string(l) +
                                        ": non-finite deviation with the genuine sender");
      }
      cal.observed_max[l] = std::max(cal.observed_max[l], rel);
    }
    ++cal.num_samples;
  }
  cal.layer_max_relative_l2.assign(cal.observed_max.size(), 0.0);
  const layout::LayerSet reused = plan.reused();
  for (std::int64_t i = 0; i < reused.count(); ++i) {
    const auto l = static_cast<std::size_t>(reused.nth(i));
    cal.layer_max_relative_l2[l] = std::max(cal.margin * cal.observed_max[l], cal.min_bound);
  }
  return cal;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
