// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The queue's input to the run-time policy: requests ahead at an arrival, the load
//! fraction q / (q + 1), and the policy moving to cheaper plans as the queue grows.
#include "droidspeak/serving/queue_load.hpp"

#include "droidspeak/plan/runtime_policy.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <vector>

using namespace droidspeak;

TEST_CASE("requests ahead: earlier requests that complete after the arrival, or are still in service") {
  const double in_service = std::numeric_limits<double>::infinity();
  const std::vector<double> completions = {1.0, 3.0, 2.5, in_service};
  CHECK(serving::requests_ahead(completions, 2.0) == 3);
  CHECK(serving::requests_ahead(completions, 3.0) == 1);  // completing at the arrival: gone
  CHECK(serving::requests_ahead({}, 2.0) == 0);
}

TEST_CASE("load is q / (q + 1): the slowdown 1 / (1 - load) is q + 1 service times") {
  CHECK(*serving::load_from_queue(0) == 0.0);
  CHECK(*serving::load_from_queue(1) == 0.5);
  CHECK(*serving::load_from_queue(3) == 0.75);
  for (std::int64_t q : {0, 1, 2, 7, 1000000}) {
    const double load = *serving::load_from_queue(q);
    CHECK(load < 1.0);
    CHECK(1.0 / (1.0 - load) == doctest::Approx(static_cast<double>(q + 1)));
  }
  CHECK(serving::load_from_queue(-1).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("as the queue grows the run-time policy moves to cheaper plans") {
  const auto plan = [](const char* t) { return *plan::ReusePlan::parse(t, 8); };
  const std::vector<plan::ProfiledPlan> points = {{plan("none"), 0.2}, {plan("7"), 0.04}, {plan("4-7"), 0.008}};
  const plan::RuntimePolicy policy = *plan::RuntimePolicy::create(points, 8);
  plan::CostInputs in;
  in.num_layers = 8;
  in.context_tokens = 100;
  in.layer_seconds_per_token = 1e-5;  // 1 ms per layer of context
  in.bytes_per_second = 1e9;
  in.e_bytes_per_layer = 1000;
  in.kv_bytes_per_layer = 2000;
  const double target = 5e-3;
  // Idle: 4-7 (~4 ms) meets 5 ms at 0.8 % drop. Three ahead (load 0.75, compute 4x slower,
  // budget 4 %): only the one-layer plan 7 still meets it.
  CHECK(policy.choose(*serving::load_from_queue(0), target, in)->plan.to_string() == "4-7");
  CHECK(policy.choose(*serving::load_from_queue(3), target, in)->plan.to_string() == "7");
}
