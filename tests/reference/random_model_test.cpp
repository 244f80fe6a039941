// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Random models and perturbed copies.
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace droidspeak;

TEST_CASE("random model: deterministic, dtype-aware, and perturbed only where asked") {
  const auto c = droidspeak::test::small_config();
  const auto a = droidspeak::test::random_model(c, 7);
  const auto b = droidspeak::test::random_model(c, 7);
  const auto other = droidspeak::test::random_model(c, 8);
  CHECK(a.layers[2].up_proj.data == b.layers[2].up_proj.data);
  CHECK(a.layers[2].up_proj.data != other.layers[2].up_proj.data);
  const auto h = droidspeak::test::random_model(c, 7, DType::kF16);
  CHECK(h.layers[0].q_proj.dtype == DType::kF16);
  CHECK(h.layers[0].q_proj.get(5) == to_float(to_half(a.layers[0].q_proj.get(5))));
  CHECK(reference::make_random_model(c, 1, DType::kI8).status().code() == StatusCode::kErrorNotSupported);

  auto p = reference::perturb_layers(a, layout::LayerSet::from_mask(0b0110), 0.1f, 3);
  REQUIRE(p.is_ok());
  for (std::size_t l = 0; l < 4; ++l) {
    const bool changed = l == 1 || l == 2;
    CAPTURE(l);
    CHECK((p->layers[l].q_proj.data != a.layers[l].q_proj.data) == changed);
    CHECK((p->layers[l].input_layernorm.data != a.layers[l].input_layernorm.data) == changed);
  }
  CHECK(p->embed_tokens.data == a.embed_tokens.data);
  CHECK(p->lm_head.data == a.lm_head.data);
  CHECK(p->validate().is_ok());
  // Relative size of the change is about `scale`.
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < a.layers[1].down_proj.numel(); ++i) {
    const double d = p->layers[1].down_proj.get(i) - a.layers[1].down_proj.get(i);
    num += d * d;
    den += static_cast<double>(a.layers[1].down_proj.get(i)) * a.layers[1].down_proj.get(i);
  }
  CHECK(std::sqrt(num / den) == doctest::Approx(0.1).epsilon(0.05));
  auto pe = reference::perturb_layers(a, {}, 0.1f, 3, true);
  REQUIRE(pe.is_ok());
  CHECK(pe->embed_tokens.data != a.embed_tokens.data);
  CHECK(pe->layers[0].q_proj.data == a.layers[0].q_proj.data);
  CHECK(reference::perturb_layers(a, layout::LayerSet::range(3, 5), 0.1f, 3).status().code() ==
        StatusCode::kErrorOutOfRange);
}
