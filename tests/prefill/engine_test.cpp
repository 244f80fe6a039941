// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file prefill::Engine driven generically: a hand-written partial prefill (adopt the
//! sender's KV, recompute one interval from its captured E, run the suffix) and DroidSpeak's
//! exact identities on the deterministic reference engine.
#include "droidspeak/prefill/engine.hpp"

#include "droidspeak/layout/copy.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

using namespace droidspeak;

static_assert(prefill::Engine<reference::Engine>);
static_assert(prefill::is_deterministic<reference::Engine>());

namespace {

struct Output {
  std::vector<float> suffix_hidden;  // [m][H] leaving the last layer
  std::vector<float> logits;         // [V] of the last suffix token
};

// Full prefill of context + suffix (context first, then the suffix, as partial prefill does).
template <prefill::Engine E>
Status full_prefill(E& r, std::span<const std::int32_t> ctx, std::span<const std::int32_t> sfx,
                    Output& out) {
  const auto g = r.geometry();
  const std::int64_t n = static_cast<std::int64_t>(ctx.size()), m = static_cast<std::int64_t>(sfx.size());
  DROIDSPEAK_TRY(r.reset());
  DROIDSPEAK_TRY(r.reserve(n + m));
  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  DROIDSPEAK_TRY(r.embed(ctx, h));
  DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, 0, n, h, nullptr));
  out.suffix_hidden.assign(static_cast<std::size_t>(m * g.hidden_size), 0.0f);
  DROIDSPEAK_TRY(r.embed(sfx, out.suffix_hidden));
  DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, n, m, out.suffix_hidden, nullptr));
  out.logits.assign(static_cast<std::size_t>(r.vocab_size()), 0.0f);
  return r.logits(std::span<const float>(out.suffix_hidden).last(static_cast<std::size_t>(g.hidden_size)),
                  out.logits);
}

// DroidSpeak with one recompute interval [s, e] (inclusive): the sender prefills the context
// capturing E[s]; the receiver adopts the sender's KV for every other layer through its
// kv_cache() view, recomputes [s, e] from E[s] (its own embeddings when s == 0), then runs the
// suffix through all its layers over the mixed cache.
template <prefill::Engine E>
Status partial_prefill(E& sender, E& receiver, std::span<const std::int32_t> ctx,
                       std::span<const std::int32_t> sfx, std::int64_t s, std::int64_t e,
                       Output& out) {
  const auto g = sender.geometry();
  if (!(receiver.geometry() == g)) return Status::invalid_argument("geometries differ");
  const std::int64_t n = static_cast<std::int64_t>(ctx.size()), m = static_cast<std::int64_t>(sfx.size());
  const std::int64_t H = g.hidden_size, L = g.num_layers;

  // Sender: full prefill of the context with the E cache for the interval's entry.
  layout::ECacheLayout el{layout::LayerSet::range(s, s + 1), n, H};
  std::vector<float> e_cache(static_cast<std::size_t>(el.pool_elements()));
  const layout::EView capture(reinterpret_cast<std::byte*>(e_cache.data()), DType::kF32, el);
  DROIDSPEAK_TRY(sender.reset());
  DROIDSPEAK_TRY(sender.reserve(n));
  std::vector<float> h(static_cast<std::size_t>(n * H));
  DROIDSPEAK_TRY(sender.embed(ctx, h));
  DROIDSPEAK_TRY(sender.run_layers(0, L, 0, n, h, &capture));

  // Receiver: adopt the reused layers' KV, paged to paged.
  DROIDSPEAK_TRY(receiver.reset());
  DROIDSPEAK_TRY(receiver.reserve(n + m));
  const layout::LayerSet reused = layout::LayerSet::all(L).minus(layout::LayerSet::range(s, e + 1));
  DROIDSPEAK_TRY(layout::copy_kv({sender.kv_cache(), receiver.kv_cache(), reused, {0, n}, 0}));
  DROIDSPEAK_TRY(receiver.set_num_tokens(n));

  // Recompute the interval from the injected hidden state.
  if (s == 0) {
    DROIDSPEAK_TRY(receiver.embed(ctx, h));
  } else {
    std::memcpy(h.data(), capture.row(s, 0), h.size() * sizeof(float));
  }
  DROIDSPEAK_TRY(receiver.run_layers(s, e + 1, 0, n, h, nullptr));  // E[e + 1] is discarded

  // The suffix through every layer over the mixed cache.
  out.suffix_hidden.assign(static_cast<std::size_t>(m * H), 0.0f);
  DROIDSPEAK_TRY(receiver.embed(sfx, out.suffix_hidden));
  DROIDSPEAK_TRY(receiver.run_layers(0, L, n, m, out.suffix_hidden, nullptr));
  if (receiver.num_tokens() != n + m) return Status::internal("receiver did not count the suffix");
  out.logits.assign(static_cast<std::size_t>(receiver.vocab_size()), 0.0f);
  return receiver.logits(std::span<const float>(out.suffix_hidden).last(static_cast<std::size_t>(H)),
                         out.logits);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

io::HfConfig pair_config() {
  return test::tiny_config(
      {.layers = 6, .hidden = 48, .head_dim = 12, .intermediate = 80, .vocab = 64, .max_positions = 0});
}

std::vector<std::int32_t> tokens(std::int64_t n, std::uint64_t seed) {
  reference::SplitMix64 g(seed);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(g.next() % 64);
  return t;
}

reference::Engine engine(const reference::ModelWeights& w, std::int64_t page_size) {
  auto e = reference::Engine::create(w, {.page_size = page_size});
  REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
  return std::move(e).value();
}

}  // namespace

TEST_CASE("prefill engine: recomputing every layer equals full prefill, bit for bit") {
  auto base = reference::make_random_model(pair_config(), 1);
  REQUIRE(base.is_ok());
  auto tuned = reference::perturb_layers(*base, layout::LayerSet::range(0, 6), 0.2f, 2, true);
  REQUIRE(tuned.is_ok());
  auto sender = engine(*base, 16), receiver = engine(*tuned, 5), oracle = engine(*tuned, 16);
  const auto ctx = tokens(45, 3), sfx = tokens(9, 4);
  Output full, plan;
  REQUIRE(full_prefill(oracle, ctx, sfx, full).is_ok());
  REQUIRE(partial_prefill(sender, receiver, ctx, sfx, 0, 5, plan).is_ok());
  CHECK(same_bits(full.suffix_hidden, plan.suffix_hidden));
  CHECK(same_bits(full.logits, plan.logits));
}

TEST_CASE("prefill engine: identical models make every plan equal full prefill, bit for bit") {
  auto w = reference::make_random_model(pair_config(), 5);
  REQUIRE(w.is_ok());
  auto sender = engine(*w, 16), receiver = engine(*w, 3), oracle = engine(*w, 16);
  const auto ctx = tokens(40, 6), sfx = tokens(7, 7);
  Output full;
  REQUIRE(full_prefill(oracle, ctx, sfx, full).is_ok());
  for (std::int64_t s = 0; s < 6; ++s) {
    for (std::int64_t e = s; e < 6; ++e) {
      CAPTURE(s);
      CAPTURE(e);
      Output plan;
      REQUIRE(partial_prefill(sender, receiver, ctx, sfx, s, e, plan).is_ok());
      CHECK(same_bits(full.suffix_hidden, plan.suffix_hidden));
      CHECK(same_bits(full.logits, plan.logits));
    }
  }
}

TEST_CASE("prefill engine: layers identical below k are reused exactly; perturbed ones are not") {
  auto base = reference::make_random_model(pair_config(), 8);
  REQUIRE(base.is_ok());
  auto tuned = reference::perturb_layers(*base, layout::LayerSet::range(3, 6), 0.3f, 9);
  REQUIRE(tuned.is_ok());
  auto sender = engine(*base, 16), receiver = engine(*tuned, 16), oracle = engine(*tuned, 16);
  const auto ctx = tokens(30, 10), sfx = tokens(6, 11);
  Output full, exact, approx;
  REQUIRE(full_prefill(oracle, ctx, sfx, full).is_ok());
  // Reuse layers 0..2 (identical weights), recompute 3..5 from the sender's E[3].
  REQUIRE(partial_prefill(sender, receiver, ctx, sfx, 3, 5, exact).is_ok());
  CHECK(same_bits(full.logits, exact.logits));
  // Reusing a perturbed layer (5) changes the result, but stays finite.
  REQUIRE(partial_prefill(sender, receiver, ctx, sfx, 3, 4, approx).is_ok());
  CHECK(!same_bits(full.logits, approx.logits));
  for (float x : approx.logits) CHECK(std::isfinite(x));
}
