// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/pareto.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::plan;

namespace {
ProfiledPlan pp(const char* text, double drop) { return {*ReusePlan::parse(text, 8), drop}; }
}  // namespace

TEST_CASE("the front keeps the best plan per cost, strictly improving") {
  const std::vector<ProfiledPlan> points = {
      pp("none", 0.30), pp("0", 0.25), pp("3", 0.10), pp("0-1", 0.12), pp("3-4", 0.11),
      pp("2-4", 0.04),  pp("1,3-4", 0.04), pp("0-4", 0.05), pp("0-7", 0.0), pp("5", NAN)};
  const std::vector<ProfiledPlan> front = pareto_front(points);
  REQUIRE(front.size() == 4);
  CHECK(front[0].plan.to_string() == "none");
  CHECK(front[1].plan.to_string() == "3");      // 1 layer: 0.10 beats 0.25
  CHECK(front[2].plan.to_string() == "2-4");    // 3 layers: tie on drop, fewer intervals
  CHECK(front[3].plan.to_string() == "0-7");    // 2 and 5 layers are dominated
}

TEST_CASE("selection: cheapest within the threshold and the interval budget") {
  const std::vector<ProfiledPlan> points = {pp("none", 0.30), pp("3", 0.10), pp("1,3-4", 0.03),
                                            pp("2-4", 0.04), pp("0-7", 0.0)};
  CHECK(select_plan(points, 8, 0.05, 2)->plan.to_string() == "1,3-4");
  CHECK(select_plan(points, 8, 0.05, 1)->plan.to_string() == "2-4");
  CHECK(select_plan(points, 8, 0.10, 1)->plan.to_string() == "3");
  CHECK(select_plan(points, 8, 0.5, 1)->plan.to_string() == "none");
  // Nothing qualifies: full recompute, which always does.
  CHECK(select_plan(points, 8, 0.001, 1)->plan.to_string() == "0-7");
  CHECK(select_plan({}, 8, 0.05, 1)->plan.num_recomputed() == 8);
}

TEST_CASE("selection refuses bad arguments") {
  const std::vector<ProfiledPlan> points = {pp("3", 0.1)};
  CHECK(select_plan(points, 8, -0.1, 1).status().message() ==
        "select_plan: threshold must be >= 0, got -0.100000");
  CHECK(select_plan(points, 8, 0.1, 0).status().message() ==
        "select_plan: max_intervals must be >= 1, got 0");
  CHECK(select_plan(points, 12, 0.1, 1).status().message() ==
        "select_plan: a plan for 8 layers among plans for 12");
}
