// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/cost_model.hpp"

#include <doctest/doctest.h>

#include <cmath>  // std::nan
#include <vector>

using namespace droidspeak;
using namespace droidspeak::plan;

namespace {
// 8 layers, 100 tokens, 1 ms per layer-token... scaled: 1e-5 s per layer-token -> 1 ms per
// layer of context; 1 MB/s link, E 1000 B (1 ms), KV 2000 B (2 ms) per layer, no latency.
CostInputs inputs() {
  CostInputs in;
  in.num_layers = 8;
  in.context_tokens = 100;
  in.layer_seconds_per_token = 1e-5;
  in.suffix_seconds = 0.5e-3;
  in.bytes_per_second = 1e6;
  in.latency_seconds = 0.0;
  in.e_bytes_per_layer = 1000;
  in.kv_bytes_per_layer = 2000;
  return in;
}
ReusePlan make_plan(const char* text) { return *ReusePlan::parse(text, 8); }
}  // namespace

TEST_CASE("the ends: full recompute is full prefill, full reuse is the KV stream") {
  const CostInputs in = inputs();
  CHECK(predict_cost(make_plan("0-7"), in)->total == doctest::Approx(8e-3 + 0.5e-3));
  CHECK(predict_full_prefill(in) == doctest::Approx(8.5e-3));
  const CostPrediction reuse = *predict_cost(make_plan("none"), in);
  CHECK(reuse.kv_adopted_end == doctest::Approx(16e-3));
  CHECK(reuse.recompute_end == 0.0);
  CHECK(reuse.total == doctest::Approx(16.5e-3));
}

TEST_CASE("pipelined: recomputation waits for its E and overlaps the KV stream") {
  CostInputs in = inputs();
  // Plan 2-3: E of layer 2 lands at 1 ms, layers 2-3 compute 1..3 ms; KV of the 6 reused
  // layers streams 1..13 ms; the suffix runs after 13 ms.
  const CostPrediction p = *predict_cost(make_plan("2-3"), in);
  CHECK(p.e_transfer_end == doctest::Approx(1e-3));
  CHECK(p.recompute_end == doctest::Approx(3e-3));
  CHECK(p.kv_adopted_end == doctest::Approx(13e-3));
  CHECK(p.total == doctest::Approx(13.5e-3));
  // Sequential: the same work without overlap.
  const CostPrediction s = *predict_cost(make_plan("2-3"), in, CostSchedule::kSequential);
  CHECK(s.total == doctest::Approx(13e-3 + 2e-3 + 0.5e-3));
  // Two intervals: the second waits for its own E (the second chunk, at 2 ms).
  const CostPrediction two = *predict_cost(make_plan("1,5"), in);
  CHECK(two.e_transfer_end == doctest::Approx(2e-3));
  CHECK(two.recompute_end == doctest::Approx(3e-3));  // [1] 1..2 ms, [5] 2..3 ms
  in.latency_seconds = 1e-3;
  CHECK(predict_cost(make_plan("1,5"), in)->e_transfer_end == doctest::Approx(4e-3));
}

TEST_CASE("the K/V-only tail: each interval's last layer costs kv_only_layer_ratio of a layer") {
  CostInputs in = inputs();
  in.kv_only_layer_ratio = 0.25;
  CHECK(dead_tail_layers(0, 0.25) == 0.0);
  CHECK(dead_tail_layers(1, 0.25) == doctest::Approx(0.25));
  CHECK(dead_tail_layers(8, 0.25) == doctest::Approx(7.25));
  // Full recompute: 7 full layers and a K/V-only one, still the full prefill's prediction
  // (prefill::full_prefill runs its last context layer K/V-only before a suffix too).
  CHECK(predict_cost(make_plan("0-7"), in)->total == doctest::Approx(7.25e-3 + 0.5e-3));
  CHECK(predict_full_prefill(in) == doctest::Approx(7.75e-3));
  // 2-3: E[2] lands at 1 ms, layer 2 in full (1 ms) and layer 3 K/V-only (0.25 ms).
  CHECK(predict_cost(make_plan("2-3"), in)->recompute_end == doctest::Approx(2.25e-3));
  // 1,5: two single-layer intervals, both K/V-only: [1] 1..1.25 ms, [5] waits for E[5] at 2 ms.
  const CostPrediction two = *predict_cost(make_plan("1,5"), in);
  CHECK(two.recompute_end == doctest::Approx(2.25e-3));
  // Sequential: after the 2 ms of E and 12 ms of KV, 0.25 + 0.25 ms of compute.
  CHECK(predict_cost(make_plan("1,5"), in, CostSchedule::kSequential)->recompute_end ==
        doctest::Approx(14.5e-3));
  // Without the member (ratio 1) the tail costs a full layer, as before.
  in.kv_only_layer_ratio = 1.0;
  CHECK(predict_cost(make_plan("2-3"), in)->recompute_end == doctest::Approx(3e-3));
  in.kv_only_layer_ratio = -0.1;
  CHECK(predict_cost(make_plan("2-3"), in).status().code() == StatusCode::kErrorInvalidArgument);
  in.kv_only_layer_ratio = std::nan("");
  CHECK(predict_cost(make_plan("2-3"), in).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("the fastest plan within the threshold depends on the link") {
  const std::vector<ProfiledPlan> points = {{make_plan("none"), 0.2}, {make_plan("6-7"), 0.04}, {make_plan("3-7"), 0.01},
                                            {make_plan("0-7"), 0.0}};
  CostInputs fast = inputs();
  fast.bytes_per_second = 1e9;  // transfers are free: reuse as much as quality allows
  CHECK(select_fastest_plan(points, fast, 0.05, 1)->plan.to_string() == "6-7");
  CostInputs slow = inputs();
  slow.bytes_per_second = 1e5;  // 20 ms per KV layer vs 1 ms compute: recompute everything
  CHECK(select_fastest_plan(points, slow, 0.05, 1)->plan.to_string() == "0-7");
  CHECK(select_fastest_plan(points, fast, -1.0, 1).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("the cost model refuses bad inputs") {
  CostInputs in = inputs();
  in.bytes_per_second = 0.0;
  CHECK(predict_cost(make_plan("1"), in).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(predict_cost(*ReusePlan::parse("1", 9), inputs()).status().message() ==
        "cost model: plan for 9 layers, inputs for 8");
}
