// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Decoding helpers: greedy decoding through the cache against recomputation, seeded
//! sampling, argmax and top-k.
#include "droidspeak/reference/generate.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using droidspeak::test::make_engine;
using droidspeak::test::random_model;
using droidspeak::test::small_config;
using droidspeak::test::some_tokens;

TEST_CASE("generate: greedy decoding with the cache equals recomputing the whole sequence") {
  const auto w = random_model(small_config(), 7);
  auto e = make_engine(w);
  const auto prompt = some_tokens(20, 50, 8);
  reference::SamplingOptions o;
  o.max_new_tokens = 24;
  auto out = reference::generate(e, prompt, o);
  REQUIRE_MESSAGE(out.is_ok(), out.status().to_string());
  REQUIRE(out->size() == 24);
  std::vector<std::int32_t> seq = prompt;
  for (std::size_t i = 0; i < out->size(); ++i) {
    CHECK(reference::argmax(droidspeak::test::logits_of_whole(w, seq)) == (*out)[i]);
    seq.push_back((*out)[i]);
  }
}

TEST_CASE("continue_generation: after a prefill split in two, the same tokens as generate") {
  const auto w = random_model(small_config(), 7);
  auto e = make_engine(w);
  const auto prompt = some_tokens(20, 50, 8);
  reference::SamplingOptions o;
  o.max_new_tokens = 12;
  auto whole = reference::generate(e, prompt, o);
  REQUIRE_MESSAGE(whole.is_ok(), whole.status().to_string());
  // Prefill the prompt in two calls (as a context and a prompt would be), then continue.
  auto split = make_engine(w);
  std::vector<float> logits(50);
  REQUIRE(split.reset().is_ok());
  REQUIRE(reference::prefill_tokens(split, std::span(prompt).first(13), logits).is_ok());
  REQUIRE(reference::prefill_tokens(split, std::span(prompt).subspan(13), logits).is_ok());
  auto cont = reference::continue_generation(split, logits, o);
  REQUIRE_MESSAGE(cont.is_ok(), cont.status().to_string());
  CHECK(*cont == *whole);
  CHECK_FALSE(reference::continue_generation(split, std::span(logits).first(49), o));
}

TEST_CASE("generate: seeded sampling is reproducible and depends on the seed") {
  const auto w = random_model(small_config(), 9);
  auto e = make_engine(w);
  const auto prompt = some_tokens(10, 50, 10);
  reference::SamplingOptions o{.max_new_tokens = 30, .temperature = 1.5f, .top_k = 20, .seed = 42};
  auto a = reference::generate(e, prompt, o);
  auto b = reference::generate(e, prompt, o);
  o.seed = 43;
  auto c = reference::generate(e, prompt, o);
  REQUIRE((a.is_ok() && b.is_ok() && c.is_ok()));
  CHECK(*a == *b);
  CHECK(*a != *c);
  auto d = reference::generate(e, prompt, {.max_new_tokens = 30, .temperature = 1.5f, .top_k = 20,
                                           .seed = 42, .stop_token = (*a)[3]});
  REQUIRE(d.is_ok());
  CHECK(d->size() <= 4);
  CHECK(d->back() == (*a)[3]);
}

TEST_CASE("generate: argmax and top-k sampling") {
  const std::vector<float> l{0.5f, 3.0f, 3.0f, -1.0f, 2.0f};
  CHECK(reference::argmax(l) == 1);  // the lowest index on ties
  CHECK(reference::argmax(std::vector<float>{}) == -1);
  reference::SplitMix64 rng(1);
  CHECK(reference::sample_token(l, 0.0f, 0, rng) == 1);
  for (int i = 0; i < 200; ++i) {
    const std::int32_t t = reference::sample_token(l, 1.0f, 3, rng);
    CHECK((t == 1 || t == 2 || t == 4));
  }
  int ones = 0;
  for (int i = 0; i < 2000; ++i) ones += reference::sample_token(l, 0.01f, 0, rng) == 1;
  CHECK(ones > 900);  // a near-tie between 1 and 2 at low temperature: about half each
  CHECK(ones < 1100);
}
