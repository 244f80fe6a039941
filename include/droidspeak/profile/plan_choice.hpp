// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Choosing the plan to run from a plan file for the link at hand: every plan the file
//! profiled, with its quality drop under the file's measure, and the fastest of those within
//! the file's threshold under the cost model (plan::select_fastest_plan). The plan file is
//! JSON: link droidspeak::io to use this header.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"  // the plan file is JSON: this header needs droidspeak::io
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/profile/quality.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! The plans `file` profiled (its grid, multi-interval extensions included) with their drops
//! relative to its full prefill under file.measure, in the file's order. The selected plan
//! is included when the grid lacks it (full recompute, say, with drop 0).
inline Result<std::vector<plan::ProfiledPlan>> profiled_plans(const plan::PlanFile& file) {
  const std::int64_t L = file.plan.num_layers();
  std::vector<plan::ProfiledPlan> out;
  bool has_selected = false;
  for (const plan::StoredPlanQuality& s : file.grid) {
    Result<plan::ReusePlan> p = plan::ReusePlan::parse(s.plan, L);
    if (!p) return p.status().with_context("plan file grid");
    has_selected = has_selected || *p == file.plan;
    out.push_back({*p, quality_drop(s.quality, file.full_prefill, file.measure)});
  }
  if (!has_selected) out.push_back({file.plan, file.predicted_quality_drop});
  return out;
}

//! The fastest of `file`'s profiled plans within its threshold and interval limit, predicted
//! with `inputs` (full recompute always qualifies). See plan::select_fastest_plan.
inline Result<plan::ProfiledPlan> fastest_plan(const plan::PlanFile& file, const plan::CostInputs& inputs) {
  Result<std::vector<plan::ProfiledPlan>> points = profiled_plans(file);
  if (!points) return points.status();
  return plan::select_fastest_plan(*points, inputs, file.threshold, file.max_intervals);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
