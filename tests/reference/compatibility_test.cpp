// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/reference/compatibility.hpp"

#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

using namespace droidspeak;
using droidspeak::layout::LayerSet;

namespace {
io::HfConfig config() {
  return test::tiny_config({.layers = 5, .hidden = 32, .head_dim = 8, .intermediate = 48, .vocab = 40});
}
}  // namespace

TEST_CASE("records of a model and its fine-tune find the frozen layers") {
  auto base = reference::make_random_model(config(), 1);
  REQUIRE(base.is_ok());
  auto tuned = reference::perturb_layers(*base, LayerSet::range(2, 5), 0.1f, 2, false);
  REQUIRE(tuned.is_ok());
  auto a = reference::compatibility_record(*base), b = reference::compatibility_record(*tuned);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->geometry == config().geometry());
  Result<plan::PairCompatibility> c = plan::check_compatibility(*a, *b);
  REQUIRE(c.is_ok());
  CHECK(c->embeddings_identical);
  CHECK(c->identical_prefix == 2);
  CHECK(c->identical_layers == LayerSet::range(0, 2));
  CHECK(c->exact_reuse_layers() == LayerSet::range(0, 2));
  CHECK(check_compatibility(*a, *a)->identical_prefix == 5);
  // The same weights in another dtype are not bit-identical.
  auto half = reference::make_random_model(config(), 1, DType::kBF16);
  REQUIRE(half.is_ok());
  CHECK(check_compatibility(*a, *reference::compatibility_record(*half))->identical_layers.empty());
}

TEST_CASE("an incompatible pair is refused with the first mismatch") {
  io::HfConfig other = config();
  other.num_kv_heads = 4;
  auto a = reference::make_random_model(config(), 1);
  auto b = reference::make_random_model(other, 1);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  const Status s = plan::check_compatibility(*reference::compatibility_record(*a),
                                             *reference::compatibility_record(*b)).status();
  CHECK(s.message() == "incompatible models: num_kv_heads 2 vs 4 (sender vs receiver)");
}
