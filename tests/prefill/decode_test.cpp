// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The decoding loop: its budget, its stop token, the positions it fills and the tokens
//! its picker sees, against a prefill of the whole sequence.
#include "droidspeak/prefill/decode.hpp"

#include "droidspeak/reference/generate.hpp"  // prefill_tokens
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using droidspeak::test::make_engine;
using droidspeak::test::random_model;
using droidspeak::test::small_config;
using droidspeak::test::some_tokens;

namespace {
//! A random small model, an engine that prefilled a 12-token prompt, and its last logits.
struct Prefilled {
  reference::ModelWeights w = random_model(small_config(), 11);
  reference::Engine e = make_engine(w);
  std::vector<std::int32_t> prompt = some_tokens(12, 50, 3);
  std::vector<float> logits = std::vector<float>(50);
  Prefilled() { REQUIRE(reference::prefill_tokens(e, prompt, logits).is_ok()); }
};
}  // namespace

TEST_CASE("decode: each step's logits are those of the whole sequence prefilled") {
  Prefilled p;
  auto& [w, e, prompt, logits] = p;
  // A picker that records what it saw and walks a fixed script of tokens.
  const std::vector<std::int32_t> script{5, 9, 2, 7, 1};
  std::vector<std::vector<float>> seen;
  auto out = prefill::decode(e, logits, 5, -1, [&](std::span<const float> l) {
    seen.emplace_back(l.begin(), l.end());
    return script[seen.size() - 1];
  });
  REQUIRE_MESSAGE(out.is_ok(), out.status().to_string());
  CHECK(*out == script);
  REQUIRE(seen.size() == 5);
  CHECK(e.num_tokens() == 12 + 4);  // the last token is never run
  std::vector<std::int32_t> seq = prompt;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(prefill::argmax(seen[i]) == prefill::argmax(droidspeak::test::logits_of_whole(w, seq)));
    seq.push_back(script[i]);
  }
}

TEST_CASE("decode_greedy: stops after the stop token, or at the budget") {
  Prefilled p;
  auto& [w, e, prompt, logits] = p;
  auto all = prefill::decode_greedy(e, logits, 6);
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 6);
  // Stopping at the third token's id: the answer ends there, stop token included (or earlier
  // if that id came up before).
  const std::int32_t stop = (*all)[2];
  REQUIRE(e.set_num_tokens(12).is_ok());
  auto stopped = prefill::decode_greedy(e, logits, 6, stop);
  REQUIRE(stopped.is_ok());
  CHECK(stopped->back() == stop);
  CHECK(stopped->size() <= 3);
  CHECK(std::equal(stopped->begin(), stopped->end(), all->begin()));
  REQUIRE(e.set_num_tokens(12).is_ok());
  auto none = prefill::decode_greedy(e, logits, 0);
  REQUIRE(none.is_ok());
  CHECK(none->empty());
  CHECK(prefill::decode_greedy(e, logits, -1).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(prefill::decode_greedy(e, std::span<const float>(logits).first(49), 2).status().code() ==
        StatusCode::kErrorInvalidArgument);
  CHECK(prefill::argmax(std::vector<float>{1.0f, 3.0f, 3.0f}) == 1);  // the lowest index on ties
  CHECK(prefill::argmax(std::vector<float>{}) == -1);
}
