// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The Pareto front of profiled plans (best quality per number of recomputed layers)
//! and the selection of the cheapest plan within a quality threshold.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/reuse_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! A plan with its measured quality drop relative to the receiver's full prefill (e.g.
//! (loss_plan - loss_full) / loss_full): 0 is as good as full prefill, lower is better.
struct ProfiledPlan {
  ReusePlan plan;
  double quality_drop = 0.0;
};

//! The plans that no other plan beats: for each number of recomputed layers the one with
//! the lowest drop (ties: fewer intervals, then the earlier plan in `points`), kept only if
//! its drop is strictly lower than that of every cheaper plan kept. Sorted by recomputed
//! layers, ascending. NaN drops are ignored.
inline std::vector<ProfiledPlan> pareto_front(std::span<const ProfiledPlan> points) {
  std::vector<const ProfiledPlan*> sorted;
  for (const ProfiledPlan& p : points) {
    if (!std::isnan(p.quality_drop)) sorted.push_back(&p);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const ProfiledPlan* a, const ProfiledPlan* b) {
    if (a->plan.num_recomputed() != b->plan.num_recomputed()) {
      return a->plan.num_recomputed() < b->plan.num_recomputed();
    }
    if (a->quality_drop != b->quality_drop) return a->quality_drop < b->quality_drop;
    return a->plan.num_intervals() < b->plan.num_intervals();
  });
  std::vector<ProfiledPlan> front;
  for (const ProfiledPlan* p : sorted) {
    if (front.empty() || p->quality_drop < front.back().quality_drop) front.push_back(*p);
  }
  return front;
}

//! The plan to run: among `points` with quality_drop <= threshold and at most
//! `max_intervals` intervals, the one recomputing the fewest layers (ties: lower drop).
//! Full recompute always qualifies (its drop is 0 by definition) and is returned when
//! nothing cheaper does, so the result exists whenever num_layers > 0.
//! @param threshold    a relative drop, e.g. 0.05 for the paper's 5 % offline threshold.
//! @param max_intervals >= 1.
inline Result<ProfiledPlan> select_plan(std::span<const ProfiledPlan> points, std::int64_t num_layers,
                                        double threshold, std::int64_t max_intervals) {
  if (!(threshold >= 0.0)) {
    return Status::invalid_argument("select_plan: threshold must be >= 0, got " + std::to_string(threshold));
  }
  if (max_intervals < 1) {
    return Status::invalid_argument("select_plan: max_intervals must be >= 1, got " +
                                    std::to_string(max_intervals));
  }
  ProfiledPlan best{ReusePlan::full_recompute(num_layers), 0.0};
  for (const ProfiledPlan& p : points) {
    if (p.plan.num_layers() != num_layers) {
      return Status::invalid_argument("select_plan: a plan for " + std::to_string(p.plan.num_layers()) +
                                      " layers among plans for " + std::to_string(num_layers));
    }
    if (std::isnan(p.quality_drop) || p.quality_drop > threshold || p.plan.num_intervals() > max_intervals) {
      continue;
    }
    const std::int64_t n = p.plan.num_recomputed();
    if (n < best.plan.num_recomputed() ||
        (n == best.plan.num_recomputed() && p.quality_drop < best.quality_drop)) {
      best = p;
    }
  }
  return best;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
