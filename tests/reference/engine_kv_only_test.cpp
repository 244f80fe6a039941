// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file reference::Engine::run_layer_kv_only (prefill::KvOnlyEngine): the K and V of a full
//! layer, bit for bit, with and without q/k/v biases, at any position and page size; the
//! hidden rows untouched; the same checks as run_layers.
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/reference/engine.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::test::make_engine;
using droidspeak::test::random_model;
using droidspeak::test::small_config;
using droidspeak::test::some_tokens;

using droidspeak::test::cache_rows;
using droidspeak::test::same_bits;

static_assert(prefill::KvOnlyEngine<reference::Engine>);
static_assert(!prefill::KvOnlyEngine<prefill::FullLayers<reference::Engine>>);
static_assert(prefill::Engine<prefill::FullLayers<reference::Engine>>);
static_assert(prefill::is_deterministic<prefill::FullLayers<reference::Engine>>());

TEST_CASE("run_layer_kv_only writes the K and V a full layer writes, and nothing else") {
  for (bool bias : {false, true}) {
    CAPTURE(bias);
    io::HfConfig c = small_config();
    c.attention_bias = bias;
    const auto w = random_model(c, 41);
    // Two chunks of the context (positions 0 and 23), so the rotary positions and the
    // causal prefix both matter; page sizes differ, so the pages differ too.
    auto full = make_engine(w, {.page_size = 16, .num_threads = 1});
    auto tail = make_engine(w, {.page_size = 5, .num_threads = 1});
    const auto tokens = some_tokens(37, c.vocab_size, 4);
    for (reference::Engine* e : {&full, &tail}) REQUIRE(e->reserve(37).is_ok());
    const std::int64_t L = c.num_layers, H = c.hidden_size;
    for (const auto& [position, n] : {std::pair<std::int64_t, std::int64_t>{0, 23}, {23, 14}}) {
      const std::span<const std::int32_t> chunk(tokens.data() + position, static_cast<std::size_t>(n));
      std::vector<float> hf(static_cast<std::size_t>(n * H)), ht(hf.size());
      REQUIRE(full.embed(chunk, hf).is_ok());
      REQUIRE(tail.embed(chunk, ht).is_ok());
      for (std::int64_t l = 0; l < L; ++l) {
        CAPTURE(l);
        const std::vector<float> entry = ht;
        REQUIRE(full.run_layers(l, l + 1, position, n, hf, nullptr).is_ok());
        // The K/V-only engine gets E[l] of the full engine's run, as an interval's tail would.
        REQUIRE(tail.run_layer_kv_only(l, position, n, std::span<const float>(ht)).is_ok());
        CHECK(same_bits(ht, entry));  // hidden is read only
        CHECK(tail.layer_tokens(l) == position + n);
        ht = hf;  // E[l + 1], for the next layer
      }
    }
    CHECK(same_bits(cache_rows(full, 37), cache_rows(tail, 37)));
    CHECK(tail.num_tokens() == 37);
  }
}

TEST_CASE("run_layers_dead_tail: the last layer K/V-only, the same cache as a full run") {
  const io::HfConfig c = small_config();
  const auto w = random_model(c, 42);
  auto a = make_engine(w, {.num_threads = 1});
  auto b = make_engine(w, {.page_size = 3, .num_threads = 1});
  prefill::FullLayers<reference::Engine> b_full(b);
  const auto tokens = some_tokens(29, c.vocab_size, 5);
  const std::size_t rows = tokens.size() * static_cast<std::size_t>(c.hidden_size);
  for (const auto& [first, last] : {std::pair<std::int64_t, std::int64_t>{0, 4}, {1, 2}, {3, 4}, {2, 2}}) {
    CAPTURE(first);
    CAPTURE(last);
    for (reference::Engine* e : {&a, &b}) {
      REQUIRE(e->reset().is_ok());
      REQUIRE(e->reserve(29).is_ok());
    }
    std::vector<float> ha(rows), hb(rows);
    REQUIRE(a.embed(tokens, ha).is_ok());
    REQUIRE(b.embed(tokens, hb).is_ok());
    bool used = true;
    REQUIRE(prefill::run_layers_dead_tail(b_full, first, last, 0, 29, hb, &used).is_ok());
    CHECK(!used);  // the view hides the member: every layer in full
    const std::vector<float> want = cache_rows(b, 29);
    REQUIRE(b.reset().is_ok());
    REQUIRE(b.embed(tokens, hb).is_ok());
    REQUIRE(prefill::run_layers_dead_tail(a, first, last, 0, 29, ha, &used).is_ok());
    CHECK(used == (first < last));
    // Layers outside [first, last) hold what the same earlier runs left in both.
    CHECK(same_bits(cache_rows(a, 29), want));
    if (first < last) {
      // `hidden` holds E[last - 1]: the input of the K/V-only layer.
      std::vector<float> h(rows);
      REQUIRE(b.embed(tokens, h).is_ok());
      REQUIRE(b.run_layers(first, last - 1, 0, 29, h, nullptr).is_ok());
      CHECK(same_bits(ha, h));
    }
  }
}

TEST_CASE("run_layer_kv_only refuses what run_layers refuses") {
  const io::HfConfig c = small_config();
  auto e = make_engine(random_model(c, 43), {.num_threads = 1});
  std::vector<float> h(static_cast<std::size_t>(3 * c.hidden_size), 0.5f);
  const std::span<const float> ch(h);
  auto has = [](const Status& s, StatusCode code, const std::string& part) {
    CAPTURE(s.to_string());
    CHECK(s.code() == code);
    CHECK(s.message().find(part) != std::string::npos);
    CHECK(s.message().find("run_layer_kv_only") != std::string::npos);
  };
  has(e.run_layer_kv_only(0, 0, 3, ch), StatusCode::kErrorOutOfRange, "reserved capacity 0");
  REQUIRE(e.reserve(8).is_ok());
  has(e.run_layer_kv_only(4, 0, 3, ch), StatusCode::kErrorOutOfRange, "within [0, 4)");
  has(e.run_layer_kv_only(-1, 0, 3, ch), StatusCode::kErrorOutOfRange, "layer range");
  has(e.run_layer_kv_only(0, 0, 2, ch), StatusCode::kErrorInvalidArgument, "expected 2 tokens");
  has(e.run_layer_kv_only(0, 2, 3, ch), StatusCode::kErrorInvalidArgument, "unfilled positions");
  CHECK(e.run_layer_kv_only(0, 0, 0, std::span<const float>()).is_ok());
  CHECK(e.layer_tokens(0) == 0);
  reference::Engine empty;
  has(empty.run_layer_kv_only(0, 0, 3, ch), StatusCode::kErrorInvalidArgument, "no model");
}
