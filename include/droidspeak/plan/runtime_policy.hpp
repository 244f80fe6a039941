// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A run-time policy over profiled plans: given the receiver's load and a latency
//! target, move along the quality/cost frontier (DroidSpeak, appendix B).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/pareto.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

struct RuntimePolicyOptions {
  double quality_budget_idle = 0.01;  //!< drop allowed on an idle receiver (paper: 1 % online)
  double quality_budget_busy = 0.05;  //!< drop allowed at full load (paper: 5 %)
  std::int64_t max_intervals = 1;
};

//! Chooses a plan per request. Load is the fraction in [0, 1) of the receiver's compute
//! already taken by other work: recomputation then runs 1 / (1 - load) times slower (transfers
//! do not), and the quality budget widens linearly from idle to busy.
class RuntimePolicy {
 public:
  static Result<RuntimePolicy> create(std::vector<ProfiledPlan> points, std::int64_t num_layers,
                                      const RuntimePolicyOptions& options = {}) {
    if (!(options.quality_budget_idle >= 0.0) || !(options.quality_budget_busy >= options.quality_budget_idle)) {
      return Status::invalid_argument("runtime policy: need 0 <= quality_budget_idle <= quality_budget_busy");
    }
    if (options.max_intervals < 1) return Status::invalid_argument("runtime policy: max_intervals must be >= 1");
    for (const ProfiledPlan& p : points) {
      if (p.plan.num_layers() != num_layers) {
        return Status::invalid_argument("runtime policy: plan " + p.plan.to_string() + " is for " +
                                        std::to_string(p.plan.num_layers()) + " layers, not " +
                                        std::to_string(num_layers));
      }
    }
    points.push_back({ReusePlan::full_recompute(num_layers), 0.0});
    RuntimePolicy r;
    r.points_ = std::move(points);
    r.options_ = options;
    r.num_layers_ = num_layers;
    return r;
  }

  //! The quality budget at `load`.
  double budget(double load) const {
    return options_.quality_budget_idle + (options_.quality_budget_busy - options_.quality_budget_idle) * load;
  }

  //! Among plans within budget(load) (full recompute always is), the best-quality plan whose
  //! predicted time under load meets `latency_target_seconds`; when none does, the fastest of
  //! them. Ties go to the faster plan.
  Result<ProfiledPlan> choose(double load, double latency_target_seconds, const CostInputs& nominal) const {
    if (!(load >= 0.0 && load < 1.0)) {
      return Status::invalid_argument("runtime policy: load must be in [0, 1), got " + std::to_string(load));
    }
    CostInputs in = nominal;
    in.layer_seconds_per_token /= 1.0 - load;
    in.suffix_seconds /= 1.0 - load;
    DROIDSPEAK_TRY(in.validate());
    const double allowed = budget(load);
    const ProfiledPlan* best_meeting = nullptr;
    double best_meeting_time = 0.0;
    const ProfiledPlan* fastest = nullptr;
    double fastest_time = 0.0;
    for (const ProfiledPlan& p : points_) {
      if (std::isnan(p.quality_drop) || p.quality_drop > allowed || p.plan.num_intervals() > options_.max_intervals) {
        continue;
      }
      Result<CostPrediction> c = predict_cost(p.plan, in);
      if (!c) return c.status();
      if (fastest == nullptr || c->total < fastest_time) {
        fastest = &p;
        fastest_time = c->total;
      }
      if (c->total <= latency_target_seconds &&
          (best_meeting == nullptr || p.quality_drop < best_meeting->quality_drop ||
           (p.quality_drop == best_meeting->quality_drop && c->total < best_meeting_time))) {
        best_meeting = &p;
        best_meeting_time = c->total;
      }
    }
    return best_meeting != nullptr ? *best_meeting : *fastest;
  }

 private:
  std::vector<ProfiledPlan> points_;
  RuntimePolicyOptions options_;
  std::int64_t num_layers_ = 0;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
