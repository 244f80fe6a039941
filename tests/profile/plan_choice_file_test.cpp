// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Choosing the plan to run from a plan file: the profiled plans with their drops under
//! the file's measure, and the fastest within its threshold for the link.
#include "droidspeak/profile/plan_choice.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;

namespace {
// KL per row as the drop: kl_sum / kl_rows.
plan::QualityMetrics kl(double per_row) { return {.loss_sum = 10, .correct = 5, .predictions = 10, .kl_sum = 10 * per_row, .kl_rows = 10}; }

// 8 layers; "none" is too lossy, "6-7" and "4-7" are within 0.05 nats, "2-7" is too.
plan::PlanFile file() {
  plan::PlanFile f;
  f.plan = *ReusePlan::parse("6-7", 8);
  f.measure = plan::QualityMeasure::kKl;
  f.threshold = 0.05;
  f.max_intervals = 1;
  f.predicted_quality_drop = 0.04;
  f.full_prefill = kl(0.0);
  f.grid = {{"none", kl(0.5)}, {"6-7", kl(0.04)}, {"4-7", kl(0.01)}, {"2-7", kl(0.001)}};
  return f;
}

// As tests/plan/cost_model_test.cpp: 1 ms per layer of context compute, E 1000 B and KV 2000 B a layer.
plan::CostInputs inputs(double bytes_per_second) {
  plan::CostInputs in;
  in.num_layers = 8;
  in.context_tokens = 100;
  in.layer_seconds_per_token = 1e-5;
  in.suffix_seconds = 0.5e-3;
  in.bytes_per_second = bytes_per_second;
  in.e_bytes_per_layer = 1000;
  in.kv_bytes_per_layer = 2000;
  return in;
}
}  // namespace

TEST_CASE("profiled_plans: every grid plan with its drop under the file's measure") {
  const auto points = profile::profiled_plans(file());
  REQUIRE(points);
  REQUIRE(points->size() == 4);
  CHECK((*points)[0].plan.to_string() == "none");
  CHECK((*points)[0].quality_drop == doctest::Approx(0.5));
  CHECK((*points)[2].quality_drop == doctest::Approx(0.01));

  plan::PlanFile recompute_all = file();
  recompute_all.plan = ReusePlan::full_recompute(8);
  recompute_all.predicted_quality_drop = 0.0;
  const auto with_selected = profile::profiled_plans(recompute_all);
  REQUIRE(with_selected);
  REQUIRE(with_selected->size() == 5);  // the selected plan, not in the grid, is added
  CHECK(with_selected->back().plan == ReusePlan::full_recompute(8));

  plan::PlanFile broken = file();
  broken.grid[1].plan = "9-12";
  CHECK_FALSE(profile::profiled_plans(broken));
}

TEST_CASE("fastest_plan: the link decides among the plans within the threshold") {
  // A fast link: reusing is nearly free, the plan recomputing fewest layers wins.
  const auto fast = profile::fastest_plan(file(), inputs(1e9));
  REQUIRE(fast);
  CHECK(fast->plan.to_string() == "6-7");
  // A slow link (1 kB/s: 2 s per layer of KV): recomputing everything beats waiting.
  const auto slow = profile::fastest_plan(file(), inputs(1e3));
  REQUIRE(slow);
  CHECK(slow->plan == ReusePlan::full_recompute(8));
  // "none" is never chosen: it is over the threshold however fast the link.
  plan::PlanFile strict = file();
  strict.threshold = 0.02;
  CHECK(profile::fastest_plan(strict, inputs(1e12))->plan.to_string() == "4-7");
}
