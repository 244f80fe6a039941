// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The partial-prefill executors on the deterministic reference engine: DroidSpeak's
//! exact identities, streamed (pipelined and sequential) against direct execution, what
//! crosses the transport, and bad input.
#include "droidspeak/prefill/partial_prefill.hpp"

#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"  // test::random_model, test::make_engine
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::LayerSet;
using droidspeak::plan::ReusePlan;

namespace {

io::HfConfig config() {
  return test::tiny_config({.layers = 6, .hidden = 48, .head_dim = 12, .intermediate = 80, .vocab = 64});
}

reference::ModelWeights model(std::uint64_t seed) { return test::random_model(config(), seed); }

reference::ModelWeights perturbed(const reference::ModelWeights& w, LayerSet layers, bool embeddings) {
  auto p = reference::perturb_layers(w, layers, 0.2f, 99, embeddings);
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  return std::move(p).value();
}

reference::Engine engine(const reference::ModelWeights& w, std::int64_t page_size = 16) {
  return test::make_engine(w, {.page_size = page_size});
}

std::vector<std::int32_t> tokens(std::int64_t n, std::uint64_t seed) {
  reference::SplitMix64 g(seed);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(g.next() % 64);
  return t;
}

// The sender's prefill, with E for every layer and its KV gathered into the transfer layout.
struct Sender {
  std::vector<float> e, kv;
  layout::ECacheLayout e_layout;
  layout::TransferLayout kv_layout;
  prefill::SenderCaches caches() const {
    return {layout::ConstKvView(reinterpret_cast<const std::byte*>(kv.data()), DType::kF32, kv_layout),
            layout::ConstEView(reinterpret_cast<const std::byte*>(e.data()), DType::kF32, e_layout)};
  }
};

Sender run_sender(reference::Engine& s, const std::vector<std::int32_t>& ctx) {
  const auto g = s.geometry();
  const auto n = static_cast<std::int64_t>(ctx.size());
  Sender out;
  out.e_layout = {LayerSet::all(g.num_layers), n, g.hidden_size};
  out.e.assign(static_cast<std::size_t>(out.e_layout.pool_elements()), 0.0f);
  const layout::EView ev(reinterpret_cast<std::byte*>(out.e.data()), DType::kF32, out.e_layout);
  REQUIRE(prefill::sender_prefill(s, ctx, ev).is_ok());
  out.kv_layout = {g.num_layers, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
  out.kv.assign(static_cast<std::size_t>(out.kv_layout.pool_elements()), 0.0f);
  const layout::KvView kv(reinterpret_cast<std::byte*>(out.kv.data()), DType::kF32, out.kv_layout);
  REQUIRE(layout::copy_kv({s.kv_cache(), kv, LayerSet::all(g.num_layers), {0, n}, 0}).is_ok());
  return out;
}

// The receiver's valid KV (every layer, tokens [0, n)) in the transfer layout, for comparing caches.
std::vector<float> cache_of(reference::Engine& r, std::int64_t n) {
  const auto g = r.geometry();
  const layout::TransferLayout tl{g.num_layers, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
  std::vector<float> out(static_cast<std::size_t>(tl.pool_elements()), -1.0f);
  const layout::KvView v(reinterpret_cast<std::byte*>(out.data()), DType::kF32, tl);
  REQUIRE(layout::copy_kv({r.kv_cache(), v, LayerSet::all(g.num_layers), {0, n}, 0}).is_ok());
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<ReusePlan> some_plans() {
  std::vector<ReusePlan> plans;
  for (const char* p : {"none", "0", "2-3", "0-1,4", "1,3,5", "5", "2-3,4-5", "0-5"}) {
    plans.push_back(*ReusePlan::parse(p, 6));
  }
  return plans;
}

}  // namespace

TEST_CASE("the recompute-all plan equals the receiver's full prefill, bit for bit") {
  const auto base = model(1);
  const auto tuned = perturbed(base, LayerSet::all(6), true);
  auto sender = engine(base), receiver = engine(tuned, 5), oracle = engine(tuned);
  const auto ctx = tokens(45, 3), sfx = tokens(7, 4);
  std::vector<float> want(64), got(64);
  REQUIRE(prefill::full_prefill(oracle, ctx, sfx, want).is_ok());
  const Sender s = run_sender(sender, ctx);
  prefill::PrefillReport rep;
  REQUIRE(prefill::partial_prefill(receiver, ReusePlan::full_recompute(6), ctx, s.caches(), sfx, got, &rep).is_ok());
  CHECK(same_bits(want, got));
  CHECK(same_bits(cache_of(oracle, 52), cache_of(receiver, 52)));
  CHECK(rep.layers_recomputed == 6);
  CHECK(rep.kv_bytes_adopted == 0);
  CHECK(rep.e_bytes_used == 0);  // layer 0 starts from the receiver's own embeddings
  CHECK(rep.layer_token_passes == 6 * 45 + 6 * 7);
}

TEST_CASE("identical sender and receiver: every plan equals full prefill, bit for bit") {
  const auto base = model(2);
  auto sender = engine(base, 16), receiver = engine(base, 3), oracle = engine(base);
  const auto ctx = tokens(40, 5), sfx = tokens(6, 6);
  std::vector<float> want(64);
  REQUIRE(prefill::full_prefill(oracle, ctx, sfx, want).is_ok());
  const std::vector<float> want_cache = cache_of(oracle, 46);
  const Sender s = run_sender(sender, ctx);
  for (const ReusePlan& p : some_plans()) {
    CAPTURE(p.to_string());
    std::vector<float> got(64);
    REQUIRE(prefill::partial_prefill(receiver, p, ctx, s.caches(), sfx, got).is_ok());
    CHECK(same_bits(want, got));
    CHECK(same_bits(want_cache, cache_of(receiver, 46)));
  }
}

TEST_CASE("layers frozen during fine-tuning: reusing exactly them equals full prefill") {
  const auto base = model(3);
  const auto tuned = perturbed(base, LayerSet::range(3, 6), false);  // layers 0..2 and embeddings frozen
  auto sender = engine(base), receiver = engine(tuned), oracle = engine(tuned);
  const auto ctx = tokens(33, 7), sfx = tokens(5, 8);
  std::vector<float> want(64), got(64);
  REQUIRE(prefill::full_prefill(oracle, ctx, sfx, want).is_ok());
  const Sender s = run_sender(sender, ctx);
  REQUIRE(prefill::partial_prefill(receiver, *ReusePlan::parse("3-5", 6), ctx, s.caches(), sfx, got).is_ok());
  CHECK(same_bits(want, got));
  // Reusing one layer more is not exact: the identity is not vacuous.
  REQUIRE(prefill::partial_prefill(receiver, *ReusePlan::parse("4-5", 6), ctx, s.caches(), sfx, got).is_ok());
  CHECK(!same_bits(want, got));
}

TEST_CASE("streamed execution, pipelined or sequential, equals direct execution") {
  const auto base = model(4);
  const auto tuned = perturbed(base, LayerSet::all(6), true);
  auto sender = engine(base), direct = engine(tuned), streamed = engine(tuned, 7);
  const auto ctx = tokens(50, 9), sfx = tokens(8, 10);
  const Sender s = run_sender(sender, ctx);
  for (const ReusePlan& p : some_plans()) {
    CAPTURE(p.to_string());
    std::vector<float> want(64);
    REQUIRE(prefill::partial_prefill(direct, p, ctx, s.caches(), sfx, want).is_ok());
    const std::vector<float> want_cache = cache_of(direct, 58);
    for (prefill::Overlap sched : {prefill::Overlap::kSequential, prefill::Overlap::kPipelined}) {
      prefill::InProcessTransport link;
      std::vector<float> got(64);
      prefill::PrefillReport rep;
      REQUIRE(prefill::streamed_partial_prefill(streamed, p, ctx, s.caches(), link, sched, sfx, got, &rep).is_ok());
      CHECK(same_bits(want, got));
      CHECK(same_bits(want_cache, cache_of(streamed, 58)));
      // E first, then KV of exactly the reused layers, ascending; nothing for recomputed layers.
      std::vector<prefill::TransferTag> expect;
      for (std::int64_t i = 0; i < p.entry_layers().count(); ++i) expect.push_back({prefill::Payload::kE, p.entry_layers().nth(i)});
      for (std::int64_t i = 0; i < p.reused().count(); ++i) expect.push_back({prefill::Payload::kKv, p.reused().nth(i)});
      CHECK(link.log().tags() == expect);
      CHECK(link.log().bytes() == p.entry_layers().count() * 50 * 48 * 4 + p.reused().count() * 2 * 50 * 24 * 4);
      CHECK(rep.kv_bytes_adopted == p.reused().count() * 2 * 50 * 24 * 4);
    }
  }
}

TEST_CASE("a simulated link delivers the same bytes") {
  const auto base = model(5);
  const auto tuned = perturbed(base, LayerSet::range(2, 4), false);
  auto sender = engine(base), direct = engine(tuned), streamed = engine(tuned);
  const auto ctx = tokens(20, 11), sfx = tokens(3, 12);
  const Sender s = run_sender(sender, ctx);
  const ReusePlan p = *ReusePlan::parse("2-3", 6);
  std::vector<float> want(64), got(64);
  REQUIRE(prefill::partial_prefill(direct, p, ctx, s.caches(), sfx, want).is_ok());
  prefill::SimulatedLink link(1e9, 1e-4);
  REQUIRE(prefill::streamed_partial_prefill(streamed, p, ctx, s.caches(), link, prefill::Overlap::kPipelined,
                                            sfx, got).is_ok());
  CHECK(same_bits(want, got));
  prefill::SimulatedLink broken(0.0, 0.0);
  const Status bad = prefill::streamed_partial_prefill(streamed, p, ctx, s.caches(), broken,
                                                       prefill::Overlap::kPipelined, sfx, got);
  CHECK(bad.code() == StatusCode::kErrorInvalidArgument);
  CHECK(bad.message().find("streamed partial prefill: transfer: simulated link: need bandwidth > 0") == 0);
}

TEST_CASE("partial prefill refuses what it cannot do") {
  const auto base = model(6);
  auto sender = engine(base), receiver = engine(base);
  const auto ctx = tokens(20, 13), sfx = tokens(3, 14);
  Sender s = run_sender(sender, ctx);
  std::vector<float> logits(64);
  Status st = prefill::partial_prefill(receiver, ReusePlan::full_reuse(7), ctx, s.caches(), sfx, logits);
  CHECK(st.message() == "partial prefill: plan for 7 layers, receiver has 6");
  st = prefill::partial_prefill(receiver, ReusePlan::full_reuse(6), {}, s.caches(), sfx, logits);
  CHECK(st.message() == "partial prefill: empty context");
  std::vector<float> short_logits(10);
  st = prefill::partial_prefill(receiver, ReusePlan::full_reuse(6), ctx, s.caches(), sfx, short_logits);
  CHECK(st.message().find("partial prefill: last_logits must be empty or hold vocab_size 64") == 0);
  // E for layer 3 missing from the sender's E cache.
  prefill::SenderCaches c = s.caches();
  c.e.layout.entry_layers = LayerSet::range(0, 3);
  st = prefill::partial_prefill(receiver, *ReusePlan::parse("3-4", 6), ctx, c, sfx, logits);
  CHECK(st.message() == "partial prefill: the plan needs E for layers {3}, the sender's E cache holds {0, 1, 2}");
  // Sender KV too short for the context.
  c = s.caches();
  c.kv.layout.transfer.num_tokens = 10;
  st = prefill::partial_prefill(receiver, ReusePlan::full_reuse(6), ctx, c, sfx, logits);
  CHECK(st.code() == StatusCode::kErrorInvalidArgument);
  CHECK(st.message().find("does not cover 6 layers x 20 tokens") != std::string::npos);
  // Streaming needs the transfer layout.
  prefill::InProcessTransport link;
  c = s.caches();
  c.kv = sender.kv_cache();
  st = prefill::streamed_partial_prefill(receiver, ReusePlan::full_reuse(6), ctx, c, link,
                                         prefill::Overlap::kPipelined, sfx, logits);
  CHECK(st.message().find("streamed partial prefill: sender kv must use the transfer layout") == 0);
  CHECK(link.log().bytes() == 0);
}
