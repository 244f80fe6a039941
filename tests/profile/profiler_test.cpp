// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The profiler: incremental evaluation equals evaluation from scratch, the compute it
//! reports, the identities it must show, and bad input.
#include "droidspeak/profile/profiler.hpp"

#include "droidspeak/plan/pareto.hpp"

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
         a.kl_sum == b.kl_sum && a.kl_rows == b.kl_rows && a.f1_sum == b.f1_sum && a.exact_sum == b.exact_sum &&
         a.answers == b.answers;
}

// Task samples over samples(seed): answers of token ids, a stop token on every other one.
std::vector<profile::Sample> task_samples(std::uint64_t seed) {
  std::vector<profile::Sample> out = samples(seed);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].answer = {1, 2, 3};
    out[i].answer_kind = profile::AnswerKind::kIds;
    out[i].max_answer_tokens = 5 + static_cast<std::int64_t>(i);
    out[i].stop_token = i % 2 == 0 ? 7 : -1;
  }
  return out;
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
    Result<profile::ProfileResult> r = profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = g, .progress = {}, .prune_for = {}});
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
    std::int64_t intervals = 0;
    for (std::int64_t s = 0; s < 6; s += g) intervals += (6 - s + g - 1) / g;
    CHECK(static_cast<std::int64_t>(r->grid.size()) == 1 + intervals);
    // Compute spent: sum over starts of (L - s) layers per context token.
    std::int64_t per_token = 0;
    for (std::int64_t s = 0; s < 6; s += g) per_token += 6 - s;
    CHECK(r->context_tokens == 20 + 27 + 34);
    CHECK(r->context_layer_token_passes == per_token * r->context_tokens);
    CHECK(r->exhaustive_context_layer_token_passes > r->context_layer_token_passes);
    // Every pass counted. Per suffix token: full reuse runs all 6 layers; each start s > 0 a
    // trunk of 6 - s layers; each interval [s, e] a tail of 5 - e layers. The start-0 chain
    // (context and suffix) is the receiver's own prefill.
    std::int64_t suffix_per_token = 6, context_per_token = 0;
    for (std::int64_t s = g; s < 6; s += g) {
      suffix_per_token += 6 - s;
      context_per_token += 6 - s;
    }
    for (const profile::PlanQuality& pq : r->grid) {
      if (pq.plan.num_intervals() == 1) suffix_per_token += 5 - pq.plan.intervals()[0].last;
    }
    const std::int64_t m_sum = 3 * 6;
    const profile::ProfileCost& c = r->cost;
    CHECK(c.sender_prefill.layer_token_passes == 6 * r->context_tokens);
    CHECK(c.reference_prefill.layer_token_passes == 6 * (r->context_tokens + m_sum));
    CHECK(c.context_recompute.layer_token_passes == context_per_token * r->context_tokens);
    CHECK(c.suffix.layer_token_passes == suffix_per_token * m_sum);
    CHECK(r->suffix_layer_token_passes == c.suffix.layer_token_passes);
    CHECK(c.full_prefill_passes == 6 * (r->context_tokens + m_sum));
    CHECK(c.timed);
    // The exhaustive count is what evaluate_plans measures when it runs the sweep.
    profile::ProfileCost swept;
    REQUIRE(profile::evaluate_plans(sender, receiver, std::span(smp), std::span(plans), nullptr, &swept).is_ok());
    CHECK(swept.sender_prefill.layer_token_passes == r->exhaustive_cost.sender_prefill.layer_token_passes);
    CHECK(swept.reference_prefill.layer_token_passes == r->exhaustive_cost.reference_prefill.layer_token_passes);
    CHECK(swept.context_recompute.layer_token_passes == r->exhaustive_cost.context_recompute.layer_token_passes);
    CHECK(swept.suffix.layer_token_passes == r->exhaustive_cost.suffix.layer_token_passes);
    CHECK(swept.full_prefill_passes == c.full_prefill_passes);
    CHECK(swept.context_recompute.layer_token_passes == r->exhaustive_context_layer_token_passes);
    CHECK(c.total().layer_token_passes < swept.total().layer_token_passes);
    // Every interval starts and ends on the granularity (or at the last layer), and the
    // grid holds each start 0, g, 2g, ... below 6 layers.
    std::vector<bool> is_start(6, false);
    for (const ReusePlan& plan : plans) {
      if (plan.intervals().empty()) continue;  // full reuse
      REQUIRE(plan.intervals().size() == 1);
      const auto& iv = plan.intervals()[0];
      CHECK(iv.first % g == 0);
      CHECK(((iv.last + 1) % g == 0 || iv.last == 5));
      is_start[static_cast<std::size_t>(iv.first)] = true;
    }
    std::int64_t starts = 0;
    for (bool b : is_start) starts += b ? 1 : 0;
    CHECK(starts == (6 + g - 1) / g);
  }
}

TEST_CASE("pruned profiling gives the exhaustive sweep's front and selections, for less") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.base), receiver = engine(p.tuned);
  std::vector<profile::Sample> smp = samples(5);
  const std::vector<profile::Sample> more = samples(8);
  smp.insert(smp.end(), more.begin(), more.end());
  for (std::int64_t g : {1, 2, 4}) {
    Result<profile::ProfileResult> full = profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = g, .progress = {}, .prune_for = {}});
    REQUIRE(full.is_ok());
    std::vector<ReusePlan> plans;
    for (const profile::PlanQuality& pq : full->grid) plans.push_back(pq.plan);
    profile::QualityMetrics base;
    Result<std::vector<profile::PlanQuality>> scratch =
        profile::evaluate_plans(sender, receiver, std::span(smp), std::span(plans), &base);
    REQUIRE(scratch.is_ok());
    for (profile::QualityMeasure measure :
         {profile::QualityMeasure::kLoss, profile::QualityMeasure::kKl, profile::QualityMeasure::kAccuracy}) {
      CAPTURE(g);
      CAPTURE(static_cast<int>(measure));
      std::int64_t last_done = 0, last_total = 0;
      bool monotone = true;
      auto progress = [&](std::int64_t done, std::int64_t total) {
        monotone = monotone && done >= last_done && done <= total;
        last_done = done;
        last_total = total;
      };
      Result<profile::ProfileResult> r = profile::profile_intervals(
          sender, receiver, std::span(smp), {.granularity = g, .progress = progress, .prune_for = measure});
      REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
      // Progress counts (plan, sample) pairs settled, measured or pruned, up to all of them.
      CHECK(monotone);
      CHECK(last_total == static_cast<std::int64_t>(plans.size() * smp.size()));
      CHECK(last_done == last_total);
      // The context passes: the receiver's own prefill (the start-0 chain) plus the chains
      // of the other starts, which run only as far as a plan still measured needed.
      CHECK(r->context_layer_token_passes ==
            6 * r->context_tokens + r->cost.context_recompute.layer_token_passes);
      CHECK(r->cost.sender_prefill.layer_token_passes == full->cost.sender_prefill.layer_token_passes);
      CHECK(r->cost.reference_prefill.layer_token_passes == full->cost.reference_prefill.layer_token_passes);
      CHECK(r->cost.full_prefill_passes == full->cost.full_prefill_passes);
      REQUIRE(r->grid.size() == plans.size());
      CHECK(same(r->full_prefill, base));
      std::vector<plan::ProfiledPlan> exhaustive;
      std::int64_t pruned = 0;
      for (std::size_t i = 0; i < plans.size(); ++i) {
        CAPTURE(plans[i].to_string());
        CHECK(r->grid[i].plan == plans[i]);
        if (r->grid[i].complete) {
          CHECK(same(r->grid[i].quality, (*scratch)[i].quality));
        } else {
          ++pruned;
        }
        exhaustive.push_back({plans[i], profile::quality_drop((*scratch)[i].quality, base, measure)});
      }
      const std::vector<plan::ProfiledPlan> drops = r->drops(measure);
      const std::vector<plan::ProfiledPlan> front = plan::pareto_front(drops);
      const std::vector<plan::ProfiledPlan> want = plan::pareto_front(exhaustive);
      REQUIRE(front.size() == want.size());
      for (std::size_t i = 0; i < front.size(); ++i) {
        CHECK(front[i].plan == want[i].plan);
        CHECK(front[i].quality_drop == want[i].quality_drop);
      }
      for (double threshold : {0.0, 0.001, 0.01, 0.05, 0.2, 1.0}) {
        const plan::ProfiledPlan a = *plan::select_plan(drops, 6, threshold, 1);
        const plan::ProfiledPlan b = *plan::select_plan(exhaustive, 6, threshold, 1);
        CHECK(a.plan == b.plan);
        CHECK(a.quality_drop == b.quality_drop);
      }
      if (measure == profile::QualityMeasure::kAccuracy) {
        CHECK(pruned == 0);  // accuracy is not monotone in the samples: nothing may be pruned
        CHECK(r->cost.total().layer_token_passes == full->cost.total().layer_token_passes);
      } else {
        CHECK(r->cost.total().layer_token_passes <= full->cost.total().layer_token_passes);
      }
      // KL is 0 for exact plans and grows fast for poor ones: here it prunes. (Loss sums are
      // large and close together for every plan, so pruning by loss stops plans only late.)
      if (measure == profile::QualityMeasure::kKl) {
        CHECK(pruned > 0);
        CHECK(r->cost.total().layer_token_passes < full->cost.total().layer_token_passes);
        // Pruned plans stop their start's context chain short of the last layer.
        CHECK(r->cost.context_recompute.layer_token_passes < full->cost.context_recompute.layer_token_passes);
      }
      CHECK(r->cost.context_recompute.layer_token_passes <= full->cost.context_recompute.layer_token_passes);
    }
  }
}

TEST_CASE("pruning by KL: what it saves, in passes") {
  std::vector<profile::Sample> smp = samples(5);
  const std::vector<profile::Sample> more = samples(8);
  smp.insert(smp.end(), more.begin(), more.end());
  const profile::ProfileOptions kl{.granularity = 1, .progress = {}, .prune_for = profile::QualityMeasure::kKl};
  const profile::ProfileOptions unpruned{.granularity = 1, .progress = {}, .prune_for = {}};
  std::int64_t n_sum = 0, m_sum = 0;
  for (const profile::Sample& s : smp) {
    n_sum += static_cast<std::int64_t>(s.context.size());
    m_sum += static_cast<std::int64_t>(s.suffix.size());
  }

  SUBCASE("identical models: full reuse is exact, so no plan is measured at all") {
    const Pair p = pair(LayerSet::all(6), true);
    auto sender = engine(p.tuned), receiver = engine(p.tuned);
    Result<profile::ProfileResult> r = profile::profile_intervals(sender, receiver, std::span(smp), kl);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->grid[0].quality.kl_sum == 0.0);
    for (std::size_t i = 1; i < r->grid.size(); ++i) CHECK_FALSE(r->grid[i].complete);
    // What no pruning can save, and nothing more: the sender's prefill, the reference
    // prefill and full reuse's suffix pass.
    const profile::ProfileCost& c = r->cost;
    CHECK(c.sender_prefill.layer_token_passes == 6 * n_sum);
    CHECK(c.reference_prefill.layer_token_passes == 6 * (n_sum + m_sum));
    CHECK(c.context_recompute.layer_token_passes == 0);
    CHECK(c.suffix.layer_token_passes == 6 * m_sum);
  }

  SUBCASE("one sample: a plan's first sample is its last") {
    const Pair p = pair(LayerSet::all(6), true);
    auto sender = engine(p.base), receiver = engine(p.tuned);
    const std::span<const profile::Sample> one(smp.data(), 1);
    Result<profile::ProfileResult> full = profile::profile_intervals(sender, receiver, one, unpruned);
    REQUIRE(full.is_ok());
    for (profile::QualityMeasure measure : {profile::QualityMeasure::kKl, profile::QualityMeasure::kLoss}) {
      Result<profile::ProfileResult> r =
          profile::profile_intervals(sender, receiver, one, {.granularity = 1, .progress = {}, .prune_for = measure});
      REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
      const std::vector<plan::ProfiledPlan> front = plan::pareto_front(r->drops(measure));
      const std::vector<plan::ProfiledPlan> want = plan::pareto_front(full->drops(measure));
      REQUIRE(front.size() == want.size());
      for (std::size_t i = 0; i < front.size(); ++i) CHECK(front[i].plan == want[i].plan);
      CHECK(r->cost.total().layer_token_passes <= full->cost.total().layer_token_passes);
    }
  }

  SUBCASE("a random pair: the front is the sweep's, for less") {
    const Pair p = pair(LayerSet::all(6), true);
    auto sender = engine(p.base), receiver = engine(p.tuned);
    Result<profile::ProfileResult> full = profile::profile_intervals(sender, receiver, std::span(smp), unpruned);
    Result<profile::ProfileResult> r = profile::profile_intervals(sender, receiver, std::span(smp), kl);
    REQUIRE(full.is_ok());
    REQUIRE(r.is_ok());
    const std::vector<plan::ProfiledPlan> front = plan::pareto_front(r->drops(profile::QualityMeasure::kKl));
    const std::vector<plan::ProfiledPlan> want = plan::pareto_front(full->drops(profile::QualityMeasure::kKl));
    REQUIRE(front.size() == want.size());
    for (std::size_t i = 0; i < front.size(); ++i) {
      CHECK(front[i].plan == want[i].plan);
      CHECK(front[i].quality_drop == want[i].quality_drop);
    }
    const std::int64_t pruned_passes = r->cost.total().layer_token_passes;
    const std::int64_t unpruned_passes = full->cost.total().layer_token_passes;
    // The tails and chains of dominated plans: here 0.77 of the unpruned passes remain (the
    // counts are deterministic, given one BLAS configuration); a fifth saved at least.
    CHECK(pruned_passes * 5 < unpruned_passes * 4);
    CHECK(r->cost.suffix.layer_token_passes * 5 < full->cost.suffix.layer_token_passes * 4);
    CHECK(r->cost.context_recompute.layer_token_passes * 5 < full->cost.context_recompute.layer_token_passes * 4);
  }
}

TEST_CASE("ProfileCost: totals, prefill equivalents and its description") {
  profile::ProfileCost c;
  c.sender_prefill = {100, 0.5};
  c.reference_prefill = {100, 0.5};
  c.context_recompute = {250, 1.0};
  c.suffix = {50, 0.25};
  c.full_prefill_passes = 100;
  CHECK(c.total().layer_token_passes == 500);
  CHECK(c.total().seconds == 2.25);
  CHECK(c.prefills() == 5.0);
  CHECK(c.describe() == "5.00 prefills (sender 1.00, reference 1.00, context 2.50, suffix 0.50)");
  c.timed = true;
  CHECK(c.wall_prefills() == 4.5);
  CHECK(c.describe() ==
        "5.00 prefills (sender 1.00, reference 1.00, context 2.50, suffix 0.50); wall time 4.50 reference prefills");
  c.reference_prefill.seconds = 0.0;  // no baseline timed: no wall-time ratio
  CHECK(c.describe() == "5.00 prefills (sender 1.00, reference 1.00, context 2.50, suffix 0.50)");
  CHECK(profile::ProfileCost{}.prefills() == 0.0);
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
  CHECK(profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = 0, .progress = {}, .prune_for = {}}).status().message() ==
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

TEST_CASE("task samples: incremental answers and F1 equal those of every plan from scratch") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.base), receiver = engine(p.tuned);
  std::vector<profile::Sample> smp = task_samples(5);
  // Make the receiver's own answers the references, so that F1 and exact range over [0, 1].
  {
    Result<profile::ProfileResult> first =
        profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = 6, .progress = {}, .prune_for = {}});
    REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
    for (std::size_t j = 0; j < smp.size(); ++j) {
      std::vector<std::int32_t> own = first->full_prefill_answers[j];
      REQUIRE(!own.empty());
      if (own.back() == smp[j].stop_token) own.pop_back();
      if (own.empty()) own = {smp[j].stop_token == 0 ? 1 : 0};
      smp[j].answer = own;
    }
  }
  bool some_answer_differs = false;
  for (std::int64_t g : {1, 2, 4}) {
    CAPTURE(g);
    Result<profile::ProfileResult> r =
        profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = g, .progress = {}, .prune_for = {}});
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->full_prefill.answers == 3);
    std::vector<ReusePlan> plans;
    for (const profile::PlanQuality& pq : r->grid) plans.push_back(pq.plan);
    plans.push_back(ReusePlan::full_recompute(6));
    profile::QualityMetrics full;
    profile::ProfileCost swept;
    Result<std::vector<profile::PlanQuality>> scratch =
        profile::evaluate_plans(sender, receiver, std::span(smp), std::span(plans), &full, &swept);
    REQUIRE_MESSAGE(scratch.is_ok(), scratch.status().to_string());
    CHECK(same(full, r->full_prefill));
    // The full recompute (from scratch) answers as the receiver's own full prefill did.
    CHECK(scratch->back().answers == r->full_prefill_answers);
    CHECK(same(scratch->back().quality, r->full_prefill));
    for (std::size_t i = 0; i < r->grid.size(); ++i) {
      CAPTURE(plans[i].to_string());
      CHECK(r->grid[i].complete);
      CHECK(same(r->grid[i].quality, (*scratch)[i].quality));
      CHECK(r->grid[i].answers == (*scratch)[i].answers);
      CHECK(r->grid[i].quality.answers == 3);
      some_answer_differs = some_answer_differs || r->grid[i].answers != r->full_prefill_answers;
      for (std::size_t j = 0; j < smp.size(); ++j) {
        const std::vector<std::int32_t>& a = r->grid[i].answers[j];
        CHECK(!a.empty());
        CHECK(static_cast<std::int64_t>(a.size()) <= smp[j].max_answer_tokens);
        // Stopped early only at the stop token.
        if (static_cast<std::int64_t>(a.size()) < smp[j].max_answer_tokens) CHECK(a.back() == smp[j].stop_token);
      }
    }
    // The receiver's own answers are the references: F1 and exact 1 for it and the plan that
    // recomputes every layer.
    CHECK(r->full_prefill.f1() == 1.0);
    CHECK(r->full_prefill.exact() == 1.0);
    int recomputes_all = 0;
    for (const profile::PlanQuality& pq : r->grid) {
      if (pq.plan == ReusePlan::full_recompute(6)) {
        ++recomputes_all;
        CHECK(profile::quality_drop(pq.quality, r->full_prefill, profile::QualityMeasure::kF1) == 0.0);
        CHECK(profile::quality_drop(pq.quality, r->full_prefill, profile::QualityMeasure::kExact) == 0.0);
      }
    }
    CHECK(recomputes_all == 1);
    CHECK(profile::quality_drop(r->grid[0].quality, r->full_prefill, profile::QualityMeasure::kF1) ==
          1.0 - r->grid[0].quality.f1());
    // Decoding is counted, and the sweep's count is what evaluate_plans spends.
    CHECK(swept.reference_prefill.layer_token_passes == r->exhaustive_cost.reference_prefill.layer_token_passes);
    std::int64_t full_recompute_decoding = 0;
    for (const std::vector<std::int32_t>& a : scratch->back().answers) full_recompute_decoding += 6 * static_cast<std::int64_t>(a.size() - 1);
    const std::int64_t m_sum = 3 * 6;
    CHECK(swept.suffix.layer_token_passes - 6 * m_sum - full_recompute_decoding == r->exhaustive_cost.suffix.layer_token_passes);
    CHECK(r->cost.total().layer_token_passes < r->exhaustive_cost.total().layer_token_passes);
    // Pruning never applies to task samples, whatever the measure asked for.
    Result<profile::ProfileResult> pruned = profile::profile_intervals(
        sender, receiver, std::span(smp), {.granularity = g, .progress = {}, .prune_for = profile::QualityMeasure::kLoss});
    REQUIRE(pruned.is_ok());
    for (std::size_t i = 0; i < r->grid.size(); ++i) {
      CHECK(pruned->grid[i].complete);
      CHECK(same(pruned->grid[i].quality, r->grid[i].quality));
    }
  }
  CHECK(some_answer_differs);  // the test compares answers that depend on the plan
}

TEST_CASE("task samples: with identical weights every plan answers as the full prefill") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.tuned), receiver = engine(p.tuned);
  const std::vector<profile::Sample> smp = task_samples(9);
  Result<profile::ProfileResult> r =
      profile::profile_intervals(sender, receiver, std::span(smp), {.granularity = 1, .progress = {}, .prune_for = {}});
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  for (const profile::PlanQuality& pq : r->grid) {
    CAPTURE(pq.plan.to_string());
    CHECK(pq.answers == r->full_prefill_answers);
    CHECK(same(pq.quality, r->full_prefill));
  }
}

TEST_CASE("evaluate_alone: a model's own full prefill and answers, scored against the receiver") {
  const Pair p = pair(LayerSet::all(6), true);
  auto sender = engine(p.base), receiver = engine(p.tuned);
  const std::vector<profile::Sample> smp = task_samples(5);
  // The receiver alone is the receiver's full prefill.
  profile::QualityMetrics own;
  const std::vector<ReusePlan> none{ReusePlan::full_reuse(6)};
  Result<std::vector<profile::PlanQuality>> reused =
      profile::evaluate_plans(sender, receiver, std::span(smp), std::span(none), &own);
  REQUIRE(reused.is_ok());
  std::vector<std::vector<std::int32_t>> answers;
  Result<profile::QualityMetrics> alone = profile::evaluate_alone(receiver, receiver, std::span(smp), &answers);
  REQUIRE_MESSAGE(alone.is_ok(), alone.status().to_string());
  CHECK(same(*alone, own));
  CHECK(alone->kl() == 0.0);
  // The sender alone: its loss, accuracy and answers are those of its own full prefill (the
  // sender as a receiver of itself); its KL is taken against the receiver.
  profile::QualityMetrics sender_own;
  const std::vector<ReusePlan> all{ReusePlan::full_recompute(6)};
  Result<std::vector<profile::PlanQuality>> self =
      profile::evaluate_plans(sender, sender, std::span(smp), std::span(all), &sender_own);
  REQUIRE(self.is_ok());
  alone = profile::evaluate_alone(sender, receiver, std::span(smp), &answers);
  REQUIRE(alone.is_ok());
  CHECK(alone->loss_sum == sender_own.loss_sum);
  CHECK(alone->correct == sender_own.correct);
  CHECK(alone->f1_sum == sender_own.f1_sum);
  CHECK(alone->answers == 3);
  CHECK(answers == (*self)[0].answers);
  CHECK(alone->kl() > 0.0);
  // Another vocabulary cannot be scored against the receiver.
  auto other = reference::make_random_model(
      test::tiny_config({.layers = 2, .hidden = 32, .head_dim = 8, .intermediate = 48, .vocab = 41}), 3);
  REQUIRE(other.is_ok());
  auto small = engine(*other);
  CHECK(profile::evaluate_alone(small, receiver, std::span(smp)).status().code() == StatusCode::kErrorInvalidArgument);
}
