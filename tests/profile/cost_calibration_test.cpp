// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Calibrating the cost model: the arithmetic from measurements to CostInputs (hand-made
//! numbers), and a measurement on a small reference engine (its structure, never its speed).
#include "droidspeak/profile/cost_calibration.hpp"

#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;

namespace {
layout::ModelGeometry geometry() {
  layout::ModelGeometry g{};
  g.num_layers = 4;
  g.hidden_size = 32;
  g.num_q_heads = 4;
  g.num_kv_heads = 2;
  g.head_dim = 8;
  return g;
}
}  // namespace

TEST_CASE("cost_inputs: compute per layer-token is the full prefill outside the suffix") {
  // 4 layers x 50 tokens; full prefill 10 ms of which the suffix 2 ms -> 8 ms / 200 = 40 us.
  const profile::CostCalibration c{.full_prefill_seconds = 10e-3, .suffix_seconds = 2e-3,
                                   .copy_seconds_per_byte = 1e-9, .adopt_seconds_per_byte = 2e-9};
  const auto in = profile::cost_inputs(geometry(), 50, c, {.bytes_per_second = 1e8, .latency_seconds = 1e-4});
  REQUIRE(in);
  CHECK(in->layer_seconds_per_token == doctest::Approx(40e-6));
  CHECK(in->suffix_seconds == doctest::Approx(2e-3));
  CHECK(in->bytes_per_second == doctest::Approx(1e8));
  CHECK(in->latency_seconds == doctest::Approx(1e-4));
  CHECK(in->e_bytes_per_layer == 50 * 32 * 4);
  CHECK(in->kv_bytes_per_layer == 2 * 50 * 2 * 8 * 4);
  CHECK(in->adopt_seconds_per_byte == doctest::Approx(2e-9));
  // The full-recompute prediction gives back the calibrating full prefill.
  CHECK(plan::predict_full_prefill(*in) == doctest::Approx(10e-3));
  // In process: the measured copy rate is the link; bf16 halves the chunks.
  const auto local = profile::cost_inputs(geometry(), 50, c, {}, DType::kBF16, DType::kBF16);
  REQUIRE(local);
  CHECK(local->bytes_per_second == doctest::Approx(1e9));
  CHECK(local->kv_bytes_per_layer == 2 * 50 * 2 * 8 * 2);
}

TEST_CASE("cost_inputs: the full prefill's last context layer ran K/V-only") {
  // 4 layers x 50 tokens; 8 ms outside the suffix over 3 full layers and a half-cost one.
  const profile::CostCalibration c{.full_prefill_seconds = 10e-3, .suffix_seconds = 2e-3,
                                   .copy_seconds_per_byte = 1e-9, .kv_only_layer_ratio = 0.5};
  const auto in = profile::cost_inputs(geometry(), 50, c, {.bytes_per_second = 1e8});
  REQUIRE(in);
  CHECK(in->kv_only_layer_ratio == 0.5);
  CHECK(in->layer_seconds_per_token == doctest::Approx(8e-3 / (3.5 * 50)));
  CHECK(plan::predict_full_prefill(*in) == doctest::Approx(10e-3));  // gives the calibration back
  CHECK(plan::predict_cost(plan::ReusePlan::full_recompute(4), *in)->total == doctest::Approx(10e-3));
  // Interval 1-2: one full layer and a K/V-only one, 1.5 layers of 50 tokens.
  CHECK(plan::predict_cost(*plan::ReusePlan::parse("1-2", 4), *in)->recompute_end >=
        1.5 * 50 * in->layer_seconds_per_token);
  profile::CostCalibration bad = c;
  bad.kv_only_layer_ratio = -1.0;
  CHECK_FALSE(profile::cost_inputs(geometry(), 50, bad, {}));
}

TEST_CASE("cost_inputs: refuses negative, non-finite and empty inputs") {
  const profile::CostCalibration ok{.full_prefill_seconds = 1e-3, .suffix_seconds = 1e-4};
  CHECK_FALSE(profile::cost_inputs(geometry(), 0, ok, {}));
  profile::CostCalibration bad = ok;
  bad.suffix_seconds = -1.0;
  CHECK_FALSE(profile::cost_inputs(geometry(), 10, bad, {}));
  bad = ok;
  bad.full_prefill_seconds = std::nan("");
  CHECK_FALSE(profile::cost_inputs(geometry(), 10, bad, {}));
  CHECK_FALSE(profile::cost_inputs(geometry(), 10, ok, {.bytes_per_second = -1.0}));
}

TEST_CASE("measure_cost_calibration: on a reference engine, the parts of a full prefill") {
  const io::HfConfig cfg = test::tiny_config(
      {.layers = 4, .hidden = 32, .q_heads = 4, .kv_heads = 2, .head_dim = 8, .intermediate = 48, .vocab = 40});
  const auto w = reference::make_random_model(cfg, 3);
  REQUIRE(w);
  auto s = reference::Engine::create(*w);
  auto r = reference::Engine::create(*w);
  REQUIRE((s && r));
  std::vector<std::int32_t> context(24), suffix(5);
  for (std::size_t i = 0; i < context.size(); ++i) context[i] = static_cast<std::int32_t>((7 * i) % 40);
  for (std::size_t i = 0; i < suffix.size(); ++i) suffix[i] = static_cast<std::int32_t>((3 * i + 1) % 40);
  auto sent = prefill::SenderCacheBuffers::prefill(*s, plan::ReusePlan::full_reuse(4), context,
                                                   {.layers = prefill::SenderLayers::kAll});
  REQUIRE_MESSAGE(sent, sent.status().to_string());
  const auto c = profile::measure_cost_calibration(*r, context, sent->caches(), suffix, 2);
  REQUIRE_MESSAGE(c, c.status().to_string());
  CHECK(std::isfinite(c->full_prefill_seconds));
  CHECK(c->suffix_seconds <= c->full_prefill_seconds);  // timed inside the same runs
  CHECK(c->copy_seconds_per_byte >= 0.0);
  CHECK(c->adopt_seconds_per_byte >= 0.0);
  CHECK(r->num_tokens() == 24 + 5);  // the last run's cache: context and suffix
  // The K/V-only layer was timed (the reference engine has the member): a ratio, never its value.
  CHECK(std::isfinite(c->kv_only_layer_ratio));
  CHECK(c->kv_only_layer_ratio > 0.0);
  // An engine without the member: nothing to time, the tail is a full layer.
  prefill::FullLayers<reference::Engine> full_layers(*r);
  const auto cf = profile::measure_cost_calibration(full_layers, context, sent->caches(), suffix, 1);
  REQUIRE_MESSAGE(cf, cf.status().to_string());
  CHECK(cf->kv_only_layer_ratio == 1.0);
  CHECK(*profile::measure_kv_only_ratio(full_layers, context) == 1.0);
  CHECK_FALSE(profile::measure_kv_only_ratio(*r, std::span<const std::int32_t>()));
  const auto direct = profile::measure_kv_only_ratio(*r, context, {.warmup_pairs = 0, .pairs = 2});
  REQUIRE_MESSAGE(direct, direct.status().to_string());
  CHECK(*direct > 0.0);
  CHECK_FALSE(profile::measure_cost_calibration(*r, context, sent->caches(), suffix, 0));
  CHECK_FALSE(profile::measure_cost_calibration(*r, context, sent->caches(), {}, 1));
}
