// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/reuse_plan.hpp"

#include <doctest/doctest.h>

using namespace droidspeak;
using namespace droidspeak::plan;
using droidspeak::layout::LayerSet;

TEST_CASE("a plan knows what it recomputes, reuses and needs E for") {
  Result<ReusePlan> p = ReusePlan::create(12, {{0, 1}, {5, 7}, {8, 8}});
  REQUIRE(p.is_ok());
  CHECK(p->num_recomputed() == 6);
  CHECK(p->num_intervals() == 3);
  CHECK(p->recomputed() == LayerSet::from_mask(0b111100011));
  CHECK(p->reused() == LayerSet::all(12).minus(LayerSet::from_mask(0b111100011)));
  // Layer 0 starts from the receiver's own embeddings: no E needed there.
  CHECK(p->entry_layers() == LayerSet::from_mask((1u << 5) | (1u << 8)));
  CHECK(p->to_string() == "0-1,5-7,8");
}

TEST_CASE("the two ends") {
  const ReusePlan none = ReusePlan::full_reuse(12);
  CHECK(none.num_recomputed() == 0);
  CHECK(none.reused() == LayerSet::all(12));
  CHECK(none.entry_layers().empty());
  CHECK(none.to_string() == "none");
  const ReusePlan all = ReusePlan::full_recompute(12);
  CHECK(all.num_recomputed() == 12);
  CHECK(all.reused().empty());
  CHECK(all.entry_layers().empty());
}

TEST_CASE("parse reads what to_string writes") {
  for (const char* text : {"none", "0-11", "3", "0-1,5-7,8", "2-3,4-5"}) {
    Result<ReusePlan> p = ReusePlan::parse(text, 12);
    REQUIRE_MESSAGE(p.is_ok(), text);
    CHECK(p->to_string() == text);
  }
  CHECK(ReusePlan::parse("all", 12)->num_recomputed() == 12);
  CHECK(ReusePlan::parse("", 12)->num_recomputed() == 0);
}

TEST_CASE("invalid plans are refused with the reason") {
  CHECK(ReusePlan::create(12, {{3, 2}}).status().message() ==
        "reuse plan: interval [3, 2] is not inside layers [0, 11]");
  CHECK(ReusePlan::create(12, {{10, 12}}).status().code() == StatusCode::kErrorOutOfRange);
  CHECK(ReusePlan::create(12, {{4, 6}, {6, 8}}).status().message() ==
        "reuse plan: intervals must be sorted and disjoint, but [4, 6] is followed by [6, 8]");
  CHECK(ReusePlan::create(12, {{6, 8}, {1, 2}}).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(ReusePlan::create(0, {}).status().message() == "reuse plan: num_layers 0 outside [1, 256]");
  CHECK(ReusePlan::parse("1-x", 12).status().message() ==
        "reuse plan: cannot read interval '1-x' (expected N or N-M)");
  CHECK(ReusePlan::parse("1,,2", 12).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(ReusePlan::parse("5-3", 12).status().code() == StatusCode::kErrorOutOfRange);
}
