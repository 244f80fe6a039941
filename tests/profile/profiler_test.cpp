// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The profiler: incremental evaluation equals evaluation from scratch, the compute it
//! reports, the identities it must show, and bad input.
#include "droidspeak/profile/profiler.hpp"

#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"  // test::make_engine
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::LayerSet;
using droidspeak::plan::ReusePlan;

namespace {

io::HfConfig config() {
  return test::tiny_config({.layers = 6, .hidden = 32, .head_dim = 8, .intermediate = 48, .vocab = 40});
}

reference::Engine engine(const reference::ModelWeights& w) { return test::make_engine(w, {.page_size = 8}); }

std::vector<profile::Sample> samples(std::uint64_t seed) {
  reference::SplitMix64 g(seed);
  std::vector<profile::Sample> out(3);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].context.resize(20 + 7 * i);
    out[i].suffix.resize(6);
    for (auto& t : out[i].context) t = static_cast<std::int32_t>(g.next() % 40);
    for (auto& t : out[i].suffix) t = static_cast<std::int32_t>(g.next() % 40);
  }
  return out;
}

struct Pair {
  reference::ModelWeights base, tuned;
};

Pair pair(LayerSet perturbed, bool embeddings) {
  auto b = reference::make_random_model(config(), 21);
  REQUIRE(b.is_ok());
  auto t = reference::perturb_layers(*b, perturbed, 0.3f, 22, embeddings);
  REQUIRE(t.is_ok());
  return {std::move(b).value(), std::move(t).value()};
}

bool same(const profile::QualityMetrics& a, const profile::QualityMetrics& b) {
  return a.loss_sum == b.loss_sum && a.correct == b.correct && a.predictions == b.predictions &&
         a.kl_sum == b.kl_sum && a.kl_rows == b.kl_rows;
}

}  // namespace

TEST_CASE("score_suffix against hand-computed values") {
  // Two rows over a vocabulary of 2; suffix {0, 1}: row 0 predicts token 1.
  const float logits[] = {0.0f, std::log(3.0f), 5.0f, 5.0f};
  const std::int32_t suffix[] = {0, 1};
  Result<profile::QualityMetrics> q = profile::score_suffix(logits, suffix, 2, {});
  REQUIRE(q.is_ok());
  CHECK(q->predictions == 1);
  CHECK(q->loss() == doctest::Approx(-std::log(0.75)));
  CHECK(q->accuracy() == 1.0);
  CHECK(q->kl_rows == 0);
  // KL of a distribution against itself is 0; against a shifted one it is positive.
  const float ref[] = {std::log(3.0f), 0.0f, 5.0f, 5.0f};
  q = profile::score_suffix(logits, suffix, 2, ref);
  REQUIRE(q.is_ok());
  CHECK(q->kl_rows == 2);
  CHECK(q->kl_sum == doctest::Approx(0.75 * std::log(0.75 / 0.25) + 0.25 * std::log(0.25 / 0.75)));
  CHECK(profile::score_suffix(logits, suffix, 3, {}).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("incremental profiling equals evaluating every plan from scratch") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.base), receiver = engine(p.tuned);
  const auto smp = samples(5);
  for (std::int64_t g : {1, 2, 4}) {
    CAPTURE(g);
    Result<profile::ProfileResult> r = profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = g, .progress = {}});
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    std::vector<ReusePlan> plans;
    for (const profile::PlanQuality& pq : r->grid) plans.push_back(pq.plan);
    profile::QualityMetrics full;
    Result<std::vector<profile::PlanQuality>> scratch =
        profile::evaluate_plans(sender, receiver, std::span(smp), std::span(plans), &full);
    REQUIRE_MESSAGE(scratch.is_ok(), scratch.status().to_string());
    CHECK(same(full, r->full_prefill));
    for (std::size_t i = 0; i < plans.size(); ++i) {
      CAPTURE(plans[i].to_string());
      CHECK(same(r->grid[i].quality, (*scratch)[i].quality));
    }
    // The grid: full reuse plus every interval on the granularity.
    const std::int64_t starts = (6 + g - 1) / g;
    std::int64_t intervals = 0;
    for (std::int64_t s = 0; s < 6; s += g) intervals += (6 - s + g - 1) / g;
    CHECK(static_cast<std::int64_t>(r->grid.size()) == 1 + intervals);
    // Compute spent: sum over starts of (L - s) layers per context token.
    std::int64_t per_token = 0;
    for (std::int64_t s = 0; s < 6; s += g) per_token += 6 - s;
    CHECK(r->context_tokens == 20 + 27 + 34);
    CHECK(r->context_layer_token_passes == per_token * r->context_tokens);
    CHECK(r->suffix_layer_token_passes == static_cast<std::int64_t>(r->grid.size()) * 6 * 6 * 3);
    CHECK(r->exhaustive_context_layer_token_passes > r->context_layer_token_passes);
    CHECK(starts >= 1);
  }
}

TEST_CASE("the profile shows the identities: full recompute and frozen layers lose nothing") {
  const Pair p = pair(LayerSet::range(3, 6), false);  // layers 0..2 and embeddings frozen
  auto sender = engine(p.base), receiver = engine(p.tuned);
  const auto smp = samples(6);
  Result<profile::ProfileResult> r = profile::profile_intervals(sender, receiver, std::span(smp));
  REQUIRE(r.is_ok());
  CHECK(r->full_prefill.kl() == 0.0);
  for (const profile::PlanQuality& pq : r->grid) {
    CAPTURE(pq.plan.to_string());
    const bool exact = pq.plan.num_intervals() == 1 && pq.plan.intervals()[0].first <= 3 &&
                       pq.plan.intervals()[0].last == 5;
    if (exact) {
      CHECK(same(pq.quality, {r->full_prefill.loss_sum, r->full_prefill.correct, r->full_prefill.predictions,
                              0.0, r->full_prefill.kl_rows}));
    }
  }
  // Full reuse of a receiver whose upper layers changed is not exact.
  CHECK(r->grid[0].quality.kl() > 0.0);
  // The whole frontier costs about L/2 full prefills of context, here (L + 1) / 2.
  CHECK(r->context_prefills() == doctest::Approx(3.5));
}

TEST_CASE("the profiler refuses bad input") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.base), receiver = engine(p.tuned);
  auto smp = samples(7);
  CHECK(profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = 0, .progress = {}}).status().message() ==
        "profile: granularity 0 outside [1, 6]");
  CHECK(profile::profile_intervals(sender, receiver, std::span<const profile::Sample>{}).status().message() ==
        "profile: no samples");
  smp[1].suffix.resize(1);
  CHECK(profile::profile_intervals(sender, receiver, std::span(smp)).status().message() ==
        "profile: sample 1 needs a non-empty context and a suffix of at least 2 tokens");
  io::HfConfig other = config();
  other.vocab_size = 41;
  auto w = reference::make_random_model(other, 1);
  REQUIRE(w.is_ok());
  auto odd = engine(*w);
  CHECK(profile::profile_intervals(sender, odd, std::span<const profile::Sample>(smp)).status().message() ==
        "profile: sender and receiver differ in geometry or vocabulary");
}
