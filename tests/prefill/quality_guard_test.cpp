// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/prefill/quality_guard.hpp"

#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"  // test::make_engine
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::LayerSet;
using droidspeak::plan::ReusePlan;

namespace {

io::HfConfig config() {
  return test::tiny_config({.layers = 4, .hidden = 32, .head_dim = 8, .intermediate = 48, .vocab = 40});
}

reference::Engine engine(const reference::ModelWeights& w) { return test::make_engine(w, {.page_size = 4}); }

struct Setup {
  reference::ModelWeights base, tuned;
  std::vector<std::int32_t> ctx{5, 9, 1, 33, 2, 8, 17, 4, 4, 21, 30, 11, 6, 0, 12, 3, 39, 19};
  std::vector<std::int32_t> sfx{7, 23, 14, 2};
  std::vector<float> e;
  layout::ECacheLayout el;
};

Setup setup(float scale) {
  Setup s;
  s.base = std::move(reference::make_random_model(config(), 1).value());
  s.tuned = std::move(reference::perturb_layers(s.base, LayerSet::all(4), scale, 2, true).value());
  return s;
}

prefill::SenderCaches sender_caches(reference::Engine& sender, Setup& s) {
  s.el = {LayerSet::all(4), static_cast<std::int64_t>(s.ctx.size()), 32};
  s.e.assign(static_cast<std::size_t>(s.el.pool_elements()), 0.0f);
  const layout::EView ev(reinterpret_cast<std::byte*>(s.e.data()), DType::kF32, s.el);
  REQUIRE(prefill::sender_prefill(sender, s.ctx, ev).is_ok());
  return {sender.kv_cache(), ev};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("a passing guard changes nothing; a failing one falls back to full prefill") {
  Setup s = setup(0.5f);
  auto sender = engine(s.base), receiver = engine(s.tuned), oracle = engine(s.tuned);
  const prefill::SenderCaches caches = sender_caches(sender, s);
  const ReusePlan p = *ReusePlan::parse("1", 4);
  std::vector<float> plain(40), guarded(40), full(40);
  REQUIRE(prefill::partial_prefill(oracle, p, s.ctx, caches, s.sfx, plain).is_ok());
  REQUIRE(prefill::full_prefill(oracle, s.ctx, s.sfx, full).is_ok());
  REQUIRE(!same_bits(plain, full));

  prefill::GuardReport rep;
  REQUIRE(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, guarded,
                                           {.probe_tokens = 3, .max_relative_l2 = 1e9}, &rep).is_ok());
  CHECK_FALSE(rep.fell_back);
  CHECK(rep.relative_l2 > 0.0);
  CHECK(rep.probe_layer_token_passes == 3 * 4);
  CHECK(same_bits(plain, guarded));

  REQUIRE(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, guarded,
                                           {.probe_tokens = 3, .max_relative_l2 = rep.relative_l2 / 2}, &rep).is_ok());
  CHECK(rep.fell_back);
  CHECK(same_bits(full, guarded));
}

TEST_CASE("the guard sees more deviation when sender and receiver differ more") {
  double rel[2] = {0, 0};
  int i = 0;
  for (float scale : {0.05f, 0.8f}) {
    Setup s = setup(scale);
    auto sender = engine(s.base), receiver = engine(s.tuned);
    const prefill::SenderCaches caches = sender_caches(sender, s);
    prefill::GuardReport rep;
    std::vector<float> logits(40);
    REQUIRE(prefill::guarded_partial_prefill(receiver, ReusePlan::full_reuse(4), s.ctx, caches, s.sfx, logits,
                                             {.probe_tokens = 4, .max_relative_l2 = 1e9}, &rep).is_ok());
    rel[i++] = rep.relative_l2;
  }
  CHECK(rel[0] < rel[1]);
  // The same weights on both sides: only float rounding (the probe runs fewer tokens per
  // matrix product than the prefill did).
  Setup s = setup(0.1f);
  auto sender = engine(s.base), receiver = engine(s.base);
  const prefill::SenderCaches caches = sender_caches(sender, s);
  prefill::GuardReport rep;
  std::vector<float> logits(40);
  REQUIRE(prefill::guarded_partial_prefill(receiver, ReusePlan::full_reuse(4), s.ctx, caches, s.sfx, logits,
                                           {.probe_tokens = 4, .max_relative_l2 = 1e-4}, &rep).is_ok());
  CHECK(rep.relative_l2 < 1e-5);
  CHECK_FALSE(rep.fell_back);
  CHECK(prefill::guarded_partial_prefill(receiver, ReusePlan::full_reuse(4), s.ctx, caches, s.sfx, logits,
                                         {.probe_tokens = 0, .max_relative_l2 = 1.0}).message() ==
        "quality guard: need probe_tokens >= 1 and max_relative_l2 >= 0");
}

TEST_CASE("calibrated: each reused layer is held to its own bound") {
  Setup s = setup(0.5f);
  auto sender = engine(s.base), receiver = engine(s.tuned);
  const prefill::SenderCaches caches = sender_caches(sender, s);
  const ReusePlan p = *ReusePlan::parse("0-1", 4);  // reuses layers 2 and 3
  std::vector<float> logits(40);
  prefill::GuardReport rep;
  REQUIRE(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, logits,
                                           {.probe_tokens = 3, .max_relative_l2 = 1e9}, &rep).is_ok());
  REQUIRE(rep.layer_relative_l2.size() == 4);
  CHECK(rep.layer_relative_l2[0] == 0.0);  // recomputed layers are not compared
  CHECK(rep.layer_relative_l2[2] > 0.0);
  CHECK(rep.layer_relative_l2[3] > 0.0);
  CHECK(rep.worst_bound_ratio == 0.0);  // uncalibrated
  const double l2 = rep.layer_relative_l2[2], l3 = rep.layer_relative_l2[3];

  // Bounds at twice each layer's deviation pass, whatever the recomputed layers' entries say.
  REQUIRE(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, logits,
                                           {.probe_tokens = 3, .layer_max_relative_l2 = {0.0, 0.0, 2 * l2, 2 * l3}}, &rep).is_ok());
  CHECK_FALSE(rep.fell_back);
  CHECK(rep.worst_bound_ratio == doctest::Approx(0.5));
  // One layer over its bound is enough, even when the pooled deviation is within the others'.
  REQUIRE(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, logits,
                                           {.probe_tokens = 3, .layer_max_relative_l2 = {0.0, 0.0, 10 * l2, l3 / 2}}, &rep).is_ok());
  CHECK(rep.fell_back);
  CHECK(rep.worst_bound_ratio == doctest::Approx(2.0));

  CHECK(prefill::guarded_partial_prefill(receiver, p, s.ctx, caches, s.sfx, logits,
                                         {.probe_tokens = 3, .layer_max_relative_l2 = {1.0, 1.0}}).message() ==
        "quality guard: layer_max_relative_l2 has 2 entries, the receiver 4 layers");
}

TEST_CASE("guard_check over a receiver that already ran the suffix: same verdict, cache and logits left as they were") {
  Setup s = setup(0.5f);
  auto sender = engine(s.base), receiver = engine(s.tuned), oracle = engine(s.tuned);
  const prefill::SenderCaches caches = sender_caches(sender, s);
  const ReusePlan p = *ReusePlan::parse("0-1", 4);
  std::vector<float> guarded(40), plain(40);
  prefill::GuardReport whole;
  REQUIRE(prefill::guarded_partial_prefill(oracle, p, s.ctx, caches, s.sfx, guarded,
                                           {.probe_tokens = 3, .max_relative_l2 = 1e9}, &whole).is_ok());
  const prefill::GuardOptions tight{.probe_tokens = 3, .layer_max_relative_l2 = {0.0, 0.0, whole.layer_relative_l2[2] / 2, 1.0}};
  const prefill::GuardOptions loose{.probe_tokens = 3, .layer_max_relative_l2 = {0.0, 0.0, 1.0, 1.0}};

  REQUIRE(prefill::partial_prefill(receiver, p, s.ctx, caches, s.sfx, plain).is_ok());
  const std::int64_t held = receiver.num_tokens();
  REQUIRE(held == static_cast<std::int64_t>(s.ctx.size() + s.sfx.size()));
  std::vector<float> next_before(40), next_after(40);
  prefill::GuardReport rep;
  Result<bool> pass = prefill::guard_check(receiver, p, s.ctx, loose, rep);
  REQUIRE(pass.is_ok());
  CHECK(*pass);
  CHECK(receiver.num_tokens() == held);
  // The same probe as guarded_partial_prefill's: the math exists once.
  CHECK(rep.layer_relative_l2 == whole.layer_relative_l2);
  CHECK(rep.probe_layer_token_passes == 3 * 4);
  Result<bool> fail = prefill::guard_check(receiver, p, s.ctx, tight, rep);
  REQUIRE(fail.is_ok());
  CHECK_FALSE(*fail);
  CHECK(rep.worst_bound_ratio == doctest::Approx(2.0));
  CHECK(receiver.num_tokens() == held);
  // The cache is as the partial prefill left it: one more token decodes as on a fresh one.
  const std::vector<std::int32_t> one{9};
  REQUIRE(prefill::partial_prefill(oracle, p, s.ctx, caches, s.sfx, plain).is_ok());
  std::vector<float> h(32);
  for (auto* e : {&oracle, &receiver}) {
    REQUIRE(e->reserve(held + 1).is_ok());
    REQUIRE(e->embed(one, h).is_ok());
    REQUIRE(e->run_layers(0, 4, held, 1, h, nullptr).is_ok());
    REQUIRE(e->logits(h, e == &oracle ? next_before : next_after).is_ok());
  }
  CHECK(same_bits(next_before, next_after));

  CHECK(prefill::guard_check(receiver, ReusePlan::parse("0-1", 3).value(), s.ctx, loose, rep).status().message() ==
        "quality guard: plan 0-1 is for 3 layers, not 4");
}
