// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The candidate-plan search: every plan of a given number of intervals and recomputed
//! layers, and the step that extends a profiled single-interval grid with cheaper
//! multi-interval plans and selects again.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/reuse_plan.hpp"

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! Which plans candidate_plans() lists: intervals and recomputed layers, both bounds inclusive.
struct CandidateBounds {
  std::int64_t min_intervals = 1;
  std::int64_t max_intervals = 1;
  std::int64_t min_recomputed = 1;
  std::int64_t max_recomputed = INT64_MAX;  //!< in effect at most num_layers
};

namespace detail {
// Appends every plan whose next interval starts at or after `from`, given the intervals so far.
inline void append_candidates(std::int64_t L, const CandidateBounds& b, std::int64_t from, std::int64_t used,
                              std::vector<LayerInterval>& so_far, std::vector<ReusePlan>& out) {
  const auto count = static_cast<std::int64_t>(so_far.size());
  if (count >= b.min_intervals && used >= b.min_recomputed) out.push_back(*ReusePlan::create(L, so_far));
  if (count == b.max_intervals) return;
  for (std::int64_t first = from; first < L; ++first) {
    for (std::int64_t last = first; last < L && used + (last - first + 1) <= b.max_recomputed; ++last) {
      so_far.push_back({first, last});
      // Adjacent intervals are allowed: the next one may start right after this one ends.
      append_candidates(L, b, last + 1, used + (last - first + 1), so_far, out);
      so_far.pop_back();
    }
  }
}
}  // namespace detail

//! Every valid plan for `num_layers` layers with between `bounds.min_intervals` and
//! `bounds.max_intervals` intervals that recomputes between `bounds.min_recomputed` and
//! `bounds.max_recomputed` layers, each exactly once, in lexicographic order of the
//! intervals' (first, last).
//!
//! Adjacent intervals count as distinct candidates: [a, b], [b + 1, c] recomputes as many
//! layers as [a, c] (same compute) but enters layer b + 1 with the sender's E again instead of
//! the receiver's own hidden state, so its quality differs; ReusePlan treats them as different
//! plans for the same reason. With j intervals (adjacency allowed) there are C(L + j, 2j)
//! plans in all (C(L + 1, 2j) if a gap were required).
//! Errors: num_layers outside [1, kMaxLayers], min_intervals < 0, max_intervals < min_intervals,
//! or min_recomputed > max_recomputed.
inline Result<std::vector<ReusePlan>> candidate_plans(std::int64_t num_layers, const CandidateBounds& bounds) {
  if (num_layers < 1 || num_layers > layout::kMaxLayers) {
    return Status::invalid_argument("candidate plans: num_layers " + std::to_string(num_layers) + " outside [1, " +
                                    std::to_string(layout::kMaxLayers) + "]");
  }
  if (bounds.min_intervals < 0 || bounds.max_intervals < bounds.min_intervals ||
      bounds.min_recomputed > bounds.max_recomputed) {
    return Status::invalid_argument("candidate plans: empty bounds (intervals [" +
                                    std::to_string(bounds.min_intervals) + ", " + std::to_string(bounds.max_intervals) +
                                    "], recomputed layers [" + std::to_string(bounds.min_recomputed) + ", " +
                                    std::to_string(bounds.max_recomputed) + "])");
  }
  std::vector<ReusePlan> out;
  std::vector<LayerInterval> so_far;
  detail::append_candidates(num_layers, bounds, 0, 0, so_far, out);
  return out;
}

//! Measures plans: given plans, their quality drops in the same order (or an error).
template <class F>
concept PlanEvaluator = requires(F& f, std::span<const ReusePlan> plans) {
  { f(plans) } -> std::same_as<Result<std::vector<double>>>;
};

//! What select_extended() chose, and what it measured beyond the grid.
struct ExtendedSelection {
  ProfiledPlan selected;
  std::vector<ProfiledPlan> extension;  //!< the multi-interval plans evaluated (empty: none)
};

//! Selects a plan from a measured grid, then looks for a cheaper plan with several intervals:
//! 1. select_plan(grid, num_layers, threshold, max_intervals);
//! 2. if max_intervals >= 2 and the selection recomputes k > 2 layers, every plan with 2 to
//!    max_intervals intervals recomputing 2 to k - 1 layers (candidate_plans(), adjacent
//!    intervals included) is measured by `evaluate`, which must return one drop per plan;
//! 3. select_plan again over the grid and those plans.
//! A plan with fewer than 2 layers has one interval, so it is already in a grid of single
//! intervals at granularity 1; at a coarser granularity it is not searched either.
//! @param grid the measured single-interval plans (and full reuse), drops relative to the
//!             receiver's full prefill, as select_plan() takes them.
template <PlanEvaluator F>
Result<ExtendedSelection> select_extended(std::span<const ProfiledPlan> grid, std::int64_t num_layers,
                                          double threshold, std::int64_t max_intervals, F&& evaluate) {
  Result<ProfiledPlan> sel = select_plan(grid, num_layers, threshold, max_intervals);
  if (!sel) return sel.status();
  ExtendedSelection out{*sel, {}};
  const std::int64_t k = sel->plan.num_recomputed();
  if (max_intervals < 2 || k <= 2) return out;
  Result<std::vector<ReusePlan>> extra = candidate_plans(
      num_layers, {.min_intervals = 2, .max_intervals = max_intervals, .min_recomputed = 2, .max_recomputed = k - 1});
  if (!extra) return extra.status();
  Result<std::vector<double>> drops = evaluate(std::span<const ReusePlan>(*extra));
  if (!drops) return drops.status();
  if (drops->size() != extra->size()) {
    return Status::internal("select_extended: the evaluator returned " + std::to_string(drops->size()) +
                            " drops for " + std::to_string(extra->size()) + " plans");
  }
  std::vector<ProfiledPlan> all(grid.begin(), grid.end());
  for (std::size_t i = 0; i < extra->size(); ++i) {
    out.extension.push_back({(*extra)[i], (*drops)[i]});
    all.push_back(out.extension.back());
  }
  sel = select_plan(all, num_layers, threshold, max_intervals);
  if (!sel) return sel.status();
  out.selected = *sel;
  return out;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
