// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The schedule a plan builds: its exact steps in order, and the invariants every
//! driver relies on (E before KV, no KV for recomputed layers, recompute after its E).
#include "droidspeak/prefill/schedule.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;
using prefill::Lane;
using prefill::ScheduleStep;
using prefill::StepKind;
using prefill::kNoStep;

namespace {

layout::ModelGeometry geometry(std::int64_t layers) {
  return {.num_layers = layers, .hidden_size = 32, .num_q_heads = 4, .num_kv_heads = 2, .head_dim = 8};
}

prefill::Schedule build(const ReusePlan& plan, std::int64_t n, std::int64_t m) {
  auto s = prefill::make_schedule(plan, geometry(plan.num_layers()), n, m, {100, 200});
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(s).value();
}

prefill::Schedule build(const char* plan, std::int64_t layers, std::int64_t n, std::int64_t m) {
  return build(*ReusePlan::parse(plan, layers), n, m);
}

}  // namespace

TEST_CASE("two intervals: E sends, then KV sends each followed by its adoption, recomputes, suffix") {
  const prefill::Schedule s = build("1-2,4", 6, 10, 3);
  const std::vector<ScheduleStep> expect = {
      {StepKind::kSendE, Lane::kTransfer, 1, 1, 10, 100, kNoStep},      // 0
      {StepKind::kSendE, Lane::kTransfer, 4, 4, 10, 100, kNoStep},      // 1
      {StepKind::kSendKv, Lane::kTransfer, 0, 0, 10, 200, kNoStep},     // 2
      {StepKind::kAdopt, Lane::kTransfer, 0, 0, 10, 200, 2},            // 3
      {StepKind::kSendKv, Lane::kTransfer, 3, 3, 10, 200, kNoStep},     // 4
      {StepKind::kAdopt, Lane::kTransfer, 3, 3, 10, 200, 4},            // 5
      {StepKind::kSendKv, Lane::kTransfer, 5, 5, 10, 200, kNoStep},     // 6
      {StepKind::kAdopt, Lane::kTransfer, 5, 5, 10, 200, 6},            // 7
      {StepKind::kRecompute, Lane::kCompute, 1, 2, 10, 100, 0, true},   // waits for E[1]; 2 K/V-only
      {StepKind::kRecompute, Lane::kCompute, 4, 4, 10, 100, 1, true},   // waits for E[4]; 4 K/V-only
      {StepKind::kSuffix, Lane::kCompute, 0, 5, 3, 0, 7},               // after the last adoption
  };
  CHECK(s.steps == expect);
  CHECK(s.num_layers == 6);
  CHECK(s.context_tokens == 10);
  CHECK(s.suffix_tokens == 3);
  CHECK(s.last_of(Lane::kTransfer) == 7);
  CHECK(s.last_of(Lane::kCompute) == 10);
}

TEST_CASE("an interval from layer 0 needs no E; full recompute sends nothing; full reuse recomputes nothing") {
  CHECK(build("0-1", 4, 5, 0).steps == std::vector<ScheduleStep>{
            {StepKind::kSendKv, Lane::kTransfer, 2, 2, 5, 200, kNoStep},
            {StepKind::kAdopt, Lane::kTransfer, 2, 2, 5, 200, 0},
            {StepKind::kSendKv, Lane::kTransfer, 3, 3, 5, 200, kNoStep},
            {StepKind::kAdopt, Lane::kTransfer, 3, 3, 5, 200, 2},
            {StepKind::kRecompute, Lane::kCompute, 0, 1, 5, 0, kNoStep, true},
            {StepKind::kSuffix, Lane::kCompute, 0, 3, 0, 0, 3},
        });
  CHECK(build("all", 3, 5, 2).steps == std::vector<ScheduleStep>{
            {StepKind::kRecompute, Lane::kCompute, 0, 2, 5, 0, kNoStep, true},
            {StepKind::kSuffix, Lane::kCompute, 0, 2, 2, 0, kNoStep},
        });
  const prefill::Schedule none = build("none", 3, 5, 2);
  REQUIRE(none.steps.size() == 7);
  CHECK(none.steps[6] == ScheduleStep{StepKind::kSuffix, Lane::kCompute, 0, 2, 2, 0, 5});
  CHECK(none.last_of(Lane::kTransfer) == 5);
}

TEST_CASE("for every plan of 6 layers: E before KV, KV only for reused layers, recompute after its E") {
  for (std::uint32_t mask = 0; mask < (1u << 6); ++mask) {
    std::vector<plan::LayerInterval> intervals;
    for (std::int64_t l = 0; l < 6; ++l) {
      if (((mask >> l) & 1u) == 0) continue;
      if (!intervals.empty() && intervals.back().last == l - 1) {
        intervals.back().last = l;
      } else {
        intervals.push_back({l, l});
      }
    }
    const ReusePlan p = *ReusePlan::create(6, intervals);
    CAPTURE(p.to_string());
    const prefill::Schedule s = build(p, 4, 1);
    std::int64_t kv_seen = 0, recomputes = 0;
    bool kv_started = false;
    layout::LayerSet kv_only_tails;
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
      const ScheduleStep& st = s.steps[i];
      CHECK(st.waits_for < static_cast<std::int64_t>(i));  // a dependency is always an earlier step
      if (st.kv_only_last) kv_only_tails.insert(st.last_layer);
      CHECK(st.kv_only_last == (st.kind == StepKind::kRecompute));  // only recomputes have a tail
      switch (st.kind) {
        case StepKind::kSendE:
          CHECK(!kv_started);
          CHECK(p.entry_layers().contains(st.first_layer));
          break;
        case StepKind::kSendKv:
          kv_started = true;
          ++kv_seen;
          CHECK(p.reused().contains(st.first_layer));
          break;
        case StepKind::kAdopt:
          REQUIRE(st.waits_for >= 0);
          CHECK(s.steps[static_cast<std::size_t>(st.waits_for)].kind == StepKind::kSendKv);
          CHECK(s.steps[static_cast<std::size_t>(st.waits_for)].first_layer == st.first_layer);
          break;
        case StepKind::kRecompute:
          ++recomputes;
          if (st.first_layer == 0) {
            CHECK(st.waits_for == kNoStep);
          } else {
            REQUIRE(st.waits_for >= 0);
            const ScheduleStep& e = s.steps[static_cast<std::size_t>(st.waits_for)];
            CHECK(e.kind == StepKind::kSendE);
            CHECK(e.first_layer == st.first_layer);
          }
          break;
        case StepKind::kSuffix:
          CHECK(i + 1 == s.steps.size());
          CHECK(st.waits_for == s.last_of(Lane::kTransfer));
          break;
      }
    }
    CHECK(kv_seen == p.reused().count());
    CHECK(recomputes == p.num_intervals());
    // Exactly the last layer of every interval is K/V-only (the model's last layer included).
    layout::LayerSet interval_ends;
    for (const plan::LayerInterval& v : p.intervals()) {
      interval_ends.insert(v.last);
    }
    CHECK(kv_only_tails == interval_ends);
  }
}

TEST_CASE("make_schedule refuses a plan for another model and empty contexts") {
  auto s = prefill::make_schedule(*ReusePlan::parse("1", 4), geometry(6), 4, 1, {1, 1});
  REQUIRE(!s.is_ok());
  CHECK(s.status().message() == "schedule: plan for 4 layers, model has 6");
  s = prefill::make_schedule(*ReusePlan::parse("1", 6), geometry(6), 0, 1, {1, 1});
  CHECK(s.status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(prefill::chunk_sizes(geometry(6), 10, DType::kBF16, DType::kF32).e_bytes == 10 * 32 * 2);
  CHECK(prefill::chunk_sizes(geometry(6), 10, DType::kBF16, DType::kF32).kv_bytes == 2 * 10 * 2 * 8 * 4);
}
