// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The shared link's calendar (first come first served, each chunk latency + bytes /
//! bandwidth, hand-computed), its transport's checks and bounded waits, and a partial prefill
//! streamed through it on the reference engine giving the in-process bytes.
#include "droidspeak/serving/link_timeline.hpp"

#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "prefill/prefill_test_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <vector>

using namespace droidspeak;
using plan::ReusePlan;
using prefill::Payload;

namespace {
const layout::ModelGeometry kGeometry{4, 64, 4, 2, 16};

prefill::Schedule schedule_of(const char* plan_text, prefill::ChunkSizes chunks = {100, 200}) {
  auto s = prefill::make_schedule(*ReusePlan::parse(plan_text, 4), kGeometry, 10, 2, chunks);
  REQUIRE(s.is_ok());
  return *s;
}
}  // namespace

TEST_CASE("reservations follow the schedule's send order, one chunk at a time, first come first served") {
  auto link = serving::LinkTimeline::create(1000.0, 0.01);  // 1000 B/s, 10 ms per chunk
  REQUIRE(link.is_ok());
  // Plan 1-2 sends E of layer 1 (100 B), then the KV of layers 0 and 3 (200 B each).
  const auto a = link->reserve(0.0, schedule_of("1-2"));
  REQUIRE(a.is_ok());
  REQUIRE(a->chunks.size() == 3);
  CHECK(a->chunks[0].tag == prefill::TransferTag{Payload::kE, 1});
  CHECK(a->chunks[1].tag == prefill::TransferTag{Payload::kKv, 0});
  CHECK(a->chunks[2].tag == prefill::TransferTag{Payload::kKv, 3});
  CHECK(a->chunks[0].start == 0.0);
  CHECK(a->chunks[0].arrives == doctest::Approx(0.11));
  CHECK(a->chunks[1].arrives == doctest::Approx(0.32));
  CHECK(a->chunks[2].arrives == doctest::Approx(0.53));
  CHECK(a->last_arrival() == doctest::Approx(0.53));
  // The next request arrives while the link still carries the first one: it waits its turn.
  const auto b = link->reserve(0.2, schedule_of("none"));  // full reuse: KV of all 4 layers
  REQUIRE(b.is_ok());
  REQUIRE(b->chunks.size() == 4);
  CHECK(b->chunks[0].start == doctest::Approx(0.53));
  CHECK(b->chunks[3].arrives == doctest::Approx(0.53 + 4 * 0.21));
  // An idle link starts at the arrival; nothing crosses for a full recompute.
  const auto c = link->reserve(5.0, schedule_of("0-3"));
  REQUIRE(c.is_ok());
  CHECK(c->chunks.empty());
  CHECK(c->last_arrival() == 5.0);
  const auto d = link->reserve(6.0, schedule_of("3"));
  CHECK(d->chunks[0].start == 6.0);
  CHECK(link->free_at() == doctest::Approx(6.0 + 0.11 + 3 * 0.21));  // E of 3, KV of 0, 1, 2
}

TEST_CASE("the link refuses a bad bandwidth and arrivals out of order") {
  CHECK(!serving::LinkTimeline::create(0.0, 0.0).is_ok());
  CHECK(!serving::LinkTimeline::create(1e9, -1.0).is_ok());
  auto link = *serving::LinkTimeline::create(1e9, 0.0);
  REQUIRE(link.reserve(2.0, schedule_of("1-2")).is_ok());
  CHECK(link.reserve(1.0, schedule_of("1-2")).status().message().find("in order") != std::string::npos);
  CHECK(!link.reserve(-1.0, schedule_of("1-2")).is_ok());
}

TEST_CASE("the transport checks each chunk against the reservation") {
  auto link = *serving::LinkTimeline::create(1e9, 0.0);
  const auto r = *link.reserve(0.0, schedule_of("1-2", {4, 8}));
  const auto past = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  std::vector<std::byte> src(8, std::byte{7}), dst(8, std::byte{0});
  serving::ReservedLinkTransport t(r, past, 1.0);
  // Wrong kind, then wrong size: refused, nothing sent.
  CHECK(t.transmit({Payload::kKv, 1}, std::span(src).first(4), std::span(dst).first(4)).message().find("reservation is E of layer 1") !=
        std::string::npos);
  CHECK(!t.transmit({Payload::kE, 1}, src, dst).is_ok());
  CHECK(t.chunks_sent() == 0);
  // The right chunks, landed long ago: copied at once.
  REQUIRE(t.transmit({Payload::kE, 1}, std::span(src).first(4), std::span(dst).first(4)).is_ok());
  CHECK(dst[0] == std::byte{7});
  REQUIRE(t.transmit({Payload::kKv, 0}, src, dst).is_ok());
  REQUIRE(t.transmit({Payload::kKv, 3}, src, dst).is_ok());
  CHECK(t.chunks_sent() == 3);
  CHECK(t.log().bytes() == 20);
  CHECK(t.transmit({Payload::kKv, 3}, src, dst).message().find("only 3 reserved") != std::string::npos);
}

TEST_CASE("a chunk reserved beyond the wait bound is refused at once; one within it is not early") {
  auto link = *serving::LinkTimeline::create(1.0, 0.0);  // 1 B/s: 4 bytes take 4 s
  const auto r = *link.reserve(0.0, schedule_of("3", {4, 8}));
  std::vector<std::byte> src(8), dst(8);
  const auto now = std::chrono::steady_clock::now();
  serving::ReservedLinkTransport slow(r, now, 0.5);
  const Status s = slow.transmit({Payload::kE, 3}, std::span(src).first(4), std::span(dst).first(4));
  CHECK(s.code() == StatusCode::kErrorOutOfRange);
  CHECK(s.message().find("beyond the 0.500000 s wait allowed") != std::string::npos);
  // Reserved 4 s after an epoch 3.97 s ago: lands in about 30 ms; transmit returns after it.
  const auto epoch = std::chrono::steady_clock::now() - std::chrono::milliseconds(3970);
  serving::ReservedLinkTransport soon(r, epoch, 1.0);
  REQUIRE(soon.transmit({Payload::kE, 3}, std::span(src).first(4), std::span(dst).first(4)).is_ok());
  CHECK(std::chrono::steady_clock::now() >= epoch + std::chrono::seconds(4));
}

TEST_CASE("two requests streamed through one link timeline give the in-process bytes, pipelined") {
  const io::HfConfig c = test::small_config();  // 4 layers
  const auto base = test::random_model(c, 31);
  const auto tuned = test::tuned_from(base);
  auto sender = test::make_engine(base, {.num_threads = 1});
  auto want_engine = test::make_engine(tuned, {.num_threads = 1});
  auto got_engine = test::make_engine(tuned, {.page_size = 5, .num_threads = 1});
  const auto ctx = test::some_tokens(24, c.vocab_size, 5);
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
      sender, ReusePlan::full_reuse(4), ctx, {.layers = prefill::SenderLayers::kAll});
  REQUIRE(sent.is_ok());
  const layout::ModelGeometry g = got_engine.geometry();
  auto link = *serving::LinkTimeline::create(1e8, 1e-4);
  const auto epoch = std::chrono::steady_clock::now();
  double arrival = 0.0;
  for (const char* text : {"1-2", "none"}) {  // the second request's chunks queue behind the first's
    CAPTURE(text);
    const ReusePlan p = *ReusePlan::parse(text, 4);
    const auto sfx = test::some_tokens(3, c.vocab_size, 6);
    std::vector<float> want(static_cast<std::size_t>(c.vocab_size)), got(want.size());
    prefill::InProcessTransport in_process;
    REQUIRE(prefill::streamed_partial_prefill(want_engine, p, ctx, sent->caches(), in_process,
                                              prefill::Overlap::kPipelined, sfx, want)
                .is_ok());
    const prefill::ChunkSizes chunks = prefill::chunk_sizes(g, 24, DType::kF32, DType::kF32);
    const auto schedule = prefill::make_schedule(p, g, 24, 3, chunks);
    REQUIRE(schedule.is_ok());
    auto reservation = link.reserve(arrival, *schedule);
    REQUIRE(reservation.is_ok());
    serving::ReservedLinkTransport t(*reservation, epoch, 5.0);
    REQUIRE(prefill::streamed_partial_prefill(got_engine, p, ctx, sent->caches(), t, prefill::Overlap::kPipelined,
                                              sfx, got)
                .is_ok());
    CHECK(test::same_bytes(want, got));
    CHECK(test::same_bytes(test::valid_kv(want_engine, 27), test::valid_kv(got_engine, 27)));
    CHECK(t.chunks_sent() == reservation->chunks.size());
    CHECK(t.log().tags() == in_process.log().tags());
    CHECK(t.log().bytes() == in_process.log().bytes());
  }
}
