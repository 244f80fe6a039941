// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The K/V-only tail through the executors: every driver leaves the receiver's cache and
//! the suffix's logits bit-identical with and without it (an engine without the optional
//! member, seen through prefill::FullLayers), for single-layer intervals, intervals ending
//! at the model's last layer and several intervals; the report says where it ran; the
//! receiver's full prefill takes it only where the context's last hidden state is dead.
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"

#include "prefill/prefill_test_util.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;

namespace {

using Full = prefill::FullLayers<reference::Engine>;

// A KvOnlyEngine that counts the K/V-only layers it ran (forwarding everything to `inner`).
struct CountingKvOnly {
  static constexpr bool kDeterministicSpans = true;
  reference::Engine* inner;
  std::vector<std::int64_t> kv_only_layers;

  layout::ModelGeometry geometry() const { return inner->geometry(); }
  std::int64_t vocab_size() const { return inner->vocab_size(); }
  std::int64_t num_tokens() const { return inner->num_tokens(); }
  std::int64_t capacity() const { return inner->capacity(); }
  Status reset() { return inner->reset(); }
  Status reserve(std::int64_t n) { return inner->reserve(n); }
  Status set_num_tokens(std::int64_t n) { return inner->set_num_tokens(n); }
  layout::KvView kv_cache() { return inner->kv_cache(); }
  Status embed(std::span<const std::int32_t> t, std::span<float> h) { return inner->embed(t, h); }
  Status run_layers(std::int64_t a, std::int64_t b, std::int64_t p, std::int64_t n, std::span<float> h,
                    const layout::EView* c) {
    return inner->run_layers(a, b, p, n, h, c);
  }
  Status run_layer_kv_only(std::int64_t l, std::int64_t p, std::int64_t n, std::span<const float> h) {
    kv_only_layers.push_back(l);
    return inner->run_layer_kv_only(l, p, n, h);
  }
  Status logits(std::span<const float> h, std::span<float> out) { return inner->logits(h, out); }
};
static_assert(prefill::KvOnlyEngine<CountingKvOnly>);

struct Setup {
  io::HfConfig c = test::small_config();  // 4 layers
  reference::ModelWeights base = test::random_model(c, 31);
  reference::ModelWeights tuned = test::tuned_from(base);
  std::vector<std::int32_t> ctx = test::some_tokens(41, c.vocab_size, 11);
  std::vector<std::int32_t> sfx = test::some_tokens(5, c.vocab_size, 12);
  std::int64_t total = 41 + 5;
};

}  // namespace

TEST_CASE("partial prefill: the same cache and logits with and without the K/V-only tail, every driver") {
  const Setup s;
  auto sender = test::make_engine(s.base, {.num_threads = 1});
  auto plain = test::make_engine(s.tuned, {.page_size = 16, .num_threads = 1});
  auto tailed = test::make_engine(s.tuned, {.page_size = 7, .num_threads = 1});
  Full without(plain);
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
      sender, ReusePlan::full_reuse(4), s.ctx, {.layers = prefill::SenderLayers::kAll});
  REQUIRE_MESSAGE(sent.is_ok(), sent.status().to_string());

  // Single-layer intervals (first, middle, last layer), intervals ending at the last layer
  // (full recompute among them), several intervals, and full reuse (no tail at all).
  for (const char* text : {"0", "2", "3", "1-2", "2-3", "all", "0,2", "1,3", "0-1,3", "0,2-3", "none"}) {
    CAPTURE(text);
    const ReusePlan p = *ReusePlan::parse(text, 4);
    std::vector<float> want(static_cast<std::size_t>(s.c.vocab_size)), got(want.size());
    prefill::PrefillReport rep_without, rep_with;
    REQUIRE(prefill::partial_prefill(without, p, s.ctx, sent->caches(), s.sfx, want, &rep_without).is_ok());
    const std::vector<float> want_cache = test::valid_kv(plain, s.total);
    CHECK(rep_without.kv_only_layers == 0);

    REQUIRE(prefill::partial_prefill(tailed, p, s.ctx, sent->caches(), s.sfx, got, &rep_with).is_ok());
    CHECK(rep_with.kv_only_layers == p.num_intervals());
    CHECK(test::same_bytes(want, got));
    CHECK(test::same_bytes(want_cache, test::valid_kv(tailed, s.total)));

    for (prefill::Overlap overlap : {prefill::Overlap::kSequential, prefill::Overlap::kPipelined}) {
      CAPTURE(static_cast<int>(overlap));
      prefill::InProcessTransport link;
      std::fill(got.begin(), got.end(), 0.0f);
      REQUIRE(prefill::streamed_partial_prefill(tailed, p, s.ctx, sent->caches(), link, overlap, s.sfx, got, &rep_with)
                  .is_ok());
      CHECK(rep_with.kv_only_layers == p.num_intervals());
      CHECK(test::same_bytes(want, got));
      CHECK(test::same_bytes(want_cache, test::valid_kv(tailed, s.total)));
    }
  }
}

TEST_CASE("the executor runs exactly each interval's last layer K/V-only") {
  const Setup s;
  auto sender = test::make_engine(s.base, {.num_threads = 1});
  auto inner = test::make_engine(s.tuned, {.num_threads = 1});
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
      sender, ReusePlan::full_reuse(4), s.ctx, {.layers = prefill::SenderLayers::kAll});
  REQUIRE(sent.is_ok());
  std::vector<float> logits(static_cast<std::size_t>(s.c.vocab_size));
  const struct {
    const char* plan;
    std::vector<std::int64_t> tails;
  } cases[] = {{"all", {3}}, {"0", {0}}, {"1,3", {1, 3}}, {"0-1,3", {1, 3}}, {"none", {}}};
  for (const auto& k : cases) {
    CAPTURE(k.plan);
    CountingKvOnly r{&inner, {}};
    REQUIRE(prefill::partial_prefill(r, *ReusePlan::parse(k.plan, 4), s.ctx, sent->caches(), s.sfx, logits).is_ok());
    CHECK(r.kv_only_layers == k.tails);  // the suffix always runs every layer in full
  }
}

TEST_CASE("full prefill: the K/V-only tail where the context's last hidden state is dead, the same bytes") {
  const Setup s;
  auto plain = test::make_engine(s.tuned, {.num_threads = 1});
  auto inner = test::make_engine(s.tuned, {.page_size = 3, .num_threads = 1});
  Full without(plain);
  const std::size_t vocab = static_cast<std::size_t>(s.c.vocab_size);
  struct Case {
    bool suffix, logits;
    std::vector<std::int64_t> tails;  // K/V-only layers run
  };
  // With a suffix (its own logits) or without logits, the context's E[L] is dead; the
  // context's own logits (no suffix) need its last layer in full.
  for (const Case& k : {Case{true, true, {3}}, Case{false, false, {3}}, Case{false, true, {}}, Case{true, false, {3}}}) {
    CAPTURE(k.suffix);
    CAPTURE(k.logits);
    const std::span<const std::int32_t> sfx = k.suffix ? std::span<const std::int32_t>(s.sfx) : std::span<const std::int32_t>();
    std::vector<float> want(k.logits ? vocab : 0, 0.0f), got(want.size(), 1.0f);
    REQUIRE(prefill::full_prefill(without, s.ctx, sfx, want).is_ok());
    CountingKvOnly r{&inner, {}};
    REQUIRE(prefill::full_prefill(r, s.ctx, sfx, got).is_ok());
    CHECK(r.kv_only_layers == k.tails);
    const std::int64_t n = static_cast<std::int64_t>(s.ctx.size() + sfx.size());
    CHECK(inner.num_tokens() == n);
    CHECK(test::same_bytes(want, got));
    CHECK(test::same_bytes(test::valid_kv(plain, n), test::valid_kv(inner, n)));
  }
}

TEST_CASE("the full-recompute plan still equals the receiver's full prefill, both with the tail") {
  const Setup s;
  auto sender = test::make_engine(s.base, {.num_threads = 1});
  auto oracle = test::make_engine(s.tuned, {.num_threads = 1});
  auto receiver = test::make_engine(s.tuned, {.page_size = 5, .num_threads = 1});
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(sender, ReusePlan::full_reuse(4), s.ctx);
  REQUIRE(sent.is_ok());
  std::vector<float> want(static_cast<std::size_t>(s.c.vocab_size)), got(want.size());
  REQUIRE(prefill::full_prefill(oracle, s.ctx, s.sfx, want).is_ok());
  REQUIRE(prefill::partial_prefill(receiver, ReusePlan::full_recompute(4), s.ctx, sent->caches(), s.sfx, got).is_ok());
  CHECK(test::same_bytes(want, got));
  CHECK(test::same_bytes(test::valid_kv(oracle, s.total), test::valid_kv(receiver, s.total)));
}
