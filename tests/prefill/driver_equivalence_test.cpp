// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Every host driver runs the same schedule to the same bytes: direct partial prefill
//! (sequential driver, no transport), sequential streaming and threaded streaming leave
//! byte-identical receiver caches and logits on the reference engine.
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"

#include "prefill/prefill_test_util.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;

TEST_CASE("direct, sequential-streamed and threaded-streamed prefill leave identical caches and logits") {
  const io::HfConfig c = test::small_config();  // 4 layers
  const auto base = test::random_model(c, 21);
  const auto tuned = test::tuned_from(base);
  auto sender = test::make_engine(base, {.page_size = 16, .num_threads = 1});
  auto direct = test::make_engine(tuned, {.page_size = 16, .num_threads = 1});
  auto sequential = test::make_engine(tuned, {.page_size = 5, .num_threads = 1});
  auto threaded = test::make_engine(tuned, {.page_size = 7, .num_threads = 1});
  auto oracle = test::make_engine(tuned, {.page_size = 16, .num_threads = 1});
  const auto ctx = test::some_tokens(37, c.vocab_size, 1), sfx = test::some_tokens(6, c.vocab_size, 2);
  const std::int64_t total = 37 + 6;

  std::vector<float> full_logits(static_cast<std::size_t>(c.vocab_size));
  REQUIRE(prefill::full_prefill(oracle, ctx, sfx, full_logits).is_ok());
  const std::vector<float> full_cache = test::valid_kv(oracle, total);

  // One owned set of sender caches (E and KV of every layer) serves every plan.
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
      sender, ReusePlan::full_reuse(4), ctx, {.layers = prefill::SenderLayers::kAll});
  REQUIRE_MESSAGE(sent.is_ok(), sent.status().to_string());

  // full reuse, full recompute, one interval from 0, one in the middle, two intervals, the last layer
  for (const char* text : {"none", "0-3", "0-1", "1-2", "0,2", "1,3", "3"}) {
    CAPTURE(text);
    const ReusePlan p = *ReusePlan::parse(text, 4);
    std::vector<float> want(static_cast<std::size_t>(c.vocab_size));
    REQUIRE(prefill::partial_prefill(direct, p, ctx, sent->caches(), sfx, want).is_ok());
    const std::vector<float> want_cache = test::valid_kv(direct, total);
    // Not vacuous: only the full-recompute plan gives the receiver's own full prefill.
    CHECK(test::same_bytes(want_cache, full_cache) == (p.num_recomputed() == 4));

    for (prefill::Overlap overlap : {prefill::Overlap::kSequential, prefill::Overlap::kPipelined}) {
      CAPTURE(static_cast<int>(overlap));
      reference::Engine& r = overlap == prefill::Overlap::kSequential ? sequential : threaded;
      prefill::InProcessTransport link;
      std::vector<float> got(static_cast<std::size_t>(c.vocab_size));
      REQUIRE(prefill::streamed_partial_prefill(r, p, ctx, sent->caches(), link, overlap, sfx, got).is_ok());
      CHECK(test::same_bytes(want, got));
      CHECK(test::same_bytes(want_cache, test::valid_kv(r, total)));
    }
  }
}

TEST_CASE("a transport chosen at run time through TransportRef gives the same bytes as the concrete one") {
  const io::HfConfig c = test::small_config();
  const auto base = test::random_model(c, 22);
  const auto tuned = test::tuned_from(base);
  auto sender = test::make_engine(base, {.num_threads = 1});
  auto a = test::make_engine(tuned, {.num_threads = 1}), b = test::make_engine(tuned, {.page_size = 3, .num_threads = 1});
  const auto ctx = test::some_tokens(20, c.vocab_size, 3), sfx = test::some_tokens(4, c.vocab_size, 4);
  const ReusePlan p = *ReusePlan::parse("1-2", 4);
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(sender, p, ctx);
  REQUIRE(sent.is_ok());
  std::vector<float> want(static_cast<std::size_t>(c.vocab_size)), got(want.size());
  prefill::InProcessTransport concrete;
  REQUIRE(prefill::streamed_partial_prefill(a, p, ctx, sent->caches(), concrete, prefill::Overlap::kPipelined, sfx, want)
              .is_ok());
  prefill::SimulatedLink simulated(1e10, 0.0);
  for (bool use_simulated : {false, true}) {
    prefill::InProcessTransport in_process;
    const prefill::TransportRef link = use_simulated ? prefill::TransportRef(simulated) : prefill::TransportRef(in_process);
    REQUIRE(prefill::streamed_partial_prefill(b, p, ctx, sent->caches(), link, prefill::Overlap::kPipelined, sfx, got)
                .is_ok());
    CHECK(test::same_bytes(want, got));
    CHECK(test::same_bytes(test::valid_kv(a, 24), test::valid_kv(b, 24)));
    // The referenced transport did the work: E of layer 1, then KV of layers 0 and 3.
    const std::vector<prefill::TransferTag> expect = {
        {prefill::Payload::kE, 1}, {prefill::Payload::kKv, 0}, {prefill::Payload::kKv, 3}};
    CHECK((use_simulated ? simulated.log().tags() : in_process.log().tags()) == expect);
  }
}
