// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/runtime_policy.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using namespace droidspeak::plan;

namespace {
ReusePlan make_plan(const char* t) { return *ReusePlan::parse(t, 8); }
CostInputs inputs() {
  CostInputs in;
  in.num_layers = 8;
  in.context_tokens = 100;
  in.layer_seconds_per_token = 1e-5;  // 1 ms per layer of context
  in.suffix_seconds = 0.0;
  in.bytes_per_second = 1e9;          // transfers nearly free
  in.e_bytes_per_layer = 1000;
  in.kv_bytes_per_layer = 2000;
  return in;
}
std::vector<ProfiledPlan> points() {
  return {{make_plan("none"), 0.2}, {make_plan("7"), 0.04}, {make_plan("4-7"), 0.008}};
}
}  // namespace

TEST_CASE("idle: the best quality within the 1 % budget that meets the target") {
  const RuntimePolicy p = *RuntimePolicy::create(points(), 8);
  // 4-7 (0.8 %) takes ~4 ms, full recompute 8 ms: with a 5 ms target 4-7 wins.
  CHECK(p.choose(0.0, 5e-3, inputs())->plan.to_string() == "4-7");
  // With a loose target the exact full recompute (drop 0) is best.
  CHECK(p.choose(0.0, 20e-3, inputs())->plan.to_string() == "0-7");
}

TEST_CASE("under load the budget widens and cheaper plans are chosen") {
  const RuntimePolicy p = *RuntimePolicy::create(points(), 8);
  CHECK(p.budget(0.0) == doctest::Approx(0.01));
  CHECK(p.budget(0.75) == doctest::Approx(0.04));
  // At 75 % load compute is 4x slower: 4-7 takes 16 ms, 7 takes 4 ms; target 5 ms.
  CHECK(p.choose(0.75, 5e-3, inputs())->plan.to_string() == "7");
  // Nothing meets an impossible target: the fastest plan within budget.
  CHECK(p.choose(0.75, 1e-6, inputs())->plan.to_string() == "7");
  CHECK(p.choose(0.0, 1e-6, inputs())->plan.to_string() == "4-7");
}

TEST_CASE("the policy refuses bad configuration and load") {
  CHECK(RuntimePolicy::create(points(), 9).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(RuntimePolicy::create(points(), 8, {.quality_budget_idle = 0.1, .quality_budget_busy = 0.05, .max_intervals = 1})
            .status().message() == "runtime policy: need 0 <= quality_budget_idle <= quality_budget_busy");
  const RuntimePolicy p = *RuntimePolicy::create(points(), 8);
  CHECK(p.choose(1.0, 1.0, inputs()).status().message() == "runtime policy: load must be in [0, 1), got 1.000000");
}
