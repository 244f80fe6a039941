// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The rules of the profiler's exact pruning (profile_intervals with
//! ProfileOptions::prune_for): when a partly measured plan can no longer reach the Pareto
//! front, and the two heuristics that only order the work (which plan of a layer count goes
//! on next, and on which sample). The heuristics change what pruning saves, never what it
//! decides: every prune rests on dominated() over exact partial sums.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/profile/quality.hpp"  // quality_drop, QualityMetrics, QualityMeasure

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile { namespace detail {

//! The drop `partial` (a plan's metrics summed over some of the samples) would have if no
//! further sample added anything: a lower bound of its final drop, since loss and KL sums
//! only grow. The row counts are those of `full` (all samples), so the bound is on the final
//! scale.
inline double drop_lower_bound(QualityMetrics partial, const QualityMetrics& full, QualityMeasure measure) {
  partial.predictions = full.predictions;
  partial.kl_rows = full.kl_rows;
  return quality_drop(partial, full, measure);
}

//! A grid plan measured on every sample: its recomputed layers, grid index and final drop.
struct CompletePlan {
  std::int64_t layers = 0;
  std::size_t index = 0;
  double drop = 0.0;
};

//! Whether a plan of `layers` recomputed layers at grid index `index`, whose final drop is
//! at least `drop_bound`, can be neither on the Pareto front nor chosen by plan::select_plan
//! whatever the threshold: some plan of `complete` with fewer layers is at least as good, or
//! one with as many layers is better (or as good and earlier in the grid, which wins ties).
//! Pure; false when `complete` is empty.
inline bool dominated(std::int64_t layers, std::size_t index, double drop_bound,
                      std::span<const CompletePlan> complete) {
  for (const CompletePlan& c : complete) {
    if (c.layers < layers && drop_bound >= c.drop) return true;
    if (c.layers == layers && (drop_bound > c.drop || (drop_bound == c.drop && c.index < index))) return true;
  }
  return false;
}

//! The per-sample value pruning sums: the KL sum for kKl, the loss sum otherwise (the
//! profiler prunes only for those two measures).
inline double pruned_value(const QualityMetrics& q, QualityMeasure measure) {
  return measure == QualityMeasure::kKl ? q.kl_sum : q.loss_sum;
}

//! A guess of a plan's value summed over all `count` samples from the `measured` (>= 1) it
//! has been measured on: its `partial` sum scaled by how much of full reuse's total
//! (`reuse_total`, known on every sample) those same samples hold (`reuse_partial`). Full
//! reuse is the control: a plan measured first on the samples that are hard for every plan
//! is not taken for a bad one. With reuse_partial == 0 the plain mean, scaled. Only orders
//! the work (see measure_group in profiler.hpp), so it need not be a bound.
inline double estimated_total(double partial, double reuse_partial, double reuse_total, std::size_t measured,
                              std::size_t count) {
  if (reuse_partial > 0.0) return partial * (reuse_total / reuse_partial);
  return measured == 0 ? 0.0 : partial * static_cast<double>(count) / static_cast<double>(measured);
}

//! The order in which a plan measures the samples, worst first, guessed from a plan like it
//! (a neighbour with one group fewer layers, already settled): the samples the neighbour
//! was measured on, by its value there, highest first, then the others in `fallback` order
//! (a permutation of the sample indices). A plan is pruned once its partial sum reaches a
//! bound, so its worst samples first prune it soonest; neighbouring intervals are bad on
//! the same samples.
//! @param neighbour [samples] the neighbour's value on each sample it was measured on;
//!                  empty when the plan has no neighbour (then the result is `fallback`)
//! @param fallback  [samples] a permutation of 0 .. samples - 1
//! Ties keep `fallback`'s order, so the result is deterministic.
inline std::vector<std::size_t> sample_order_like(std::span<const std::optional<double>> neighbour,
                                                  std::span<const std::size_t> fallback) {
  std::vector<std::size_t> order(fallback.begin(), fallback.end());
  if (neighbour.empty()) return order;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::optional<double>& x = neighbour[a];
    const std::optional<double>& y = neighbour[b];
    if (x.has_value() != y.has_value()) return x.has_value();  // measured samples first
    return x.has_value() && *x > *y;
  });
  return order;
}

}}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile::detail
