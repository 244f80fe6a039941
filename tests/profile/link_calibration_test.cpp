// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Calibrating the link: the fit of the cost model's link law (hand-made samples), and
//! the measuring loop's structure through a recording transport (what it asks for, in which
//! order, how failures come back), never its timing.
#include "droidspeak/profile/link_calibration.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;

TEST_CASE("fit_link: recovers latency and bandwidth from two chunk sizes") {
  // 100 MB/s and 2 ms per chunk: 1 MB takes 12 ms, 3 MB 32 ms; a stray slow 1 MB chunk is
  // outvoted by the median of its size.
  const std::vector<profile::LinkSample> s = {
      {1'000'000, 12e-3}, {1'000'000, 12e-3}, {1'000'000, 90e-3}, {3'000'000, 32e-3}, {3'000'000, 32e-3}};
  const auto fit = profile::fit_link(s);
  REQUIRE(fit);
  CHECK(fit->bytes_per_second == doctest::Approx(1e8));
  CHECK(fit->latency_seconds == doctest::Approx(2e-3));
}

TEST_CASE("fit_link: one size or a negative intercept is fitted through the origin") {
  const std::vector<profile::LinkSample> one = {{2'000'000, 10e-3}, {2'000'000, 30e-3}, {2'000'000, 20e-3}};
  auto fit = profile::fit_link(one);
  REQUIRE(fit);
  CHECK(fit->latency_seconds == 0.0);
  CHECK(fit->bytes_per_second == doctest::Approx(1e8));  // 2 MB in the median 20 ms
  // 1 MB in 5 ms and 2 MB in 20 ms: the line through them would cross zero at -10 ms.
  const std::vector<profile::LinkSample> neg = {{1'000'000, 5e-3}, {2'000'000, 20e-3}};
  fit = profile::fit_link(neg);
  REQUIRE(fit);
  CHECK(fit->latency_seconds == 0.0);
  // Least squares through the origin: sum(x^2) / sum(x y) = 5e12 / 45e3 B/s.
  CHECK(fit->bytes_per_second == doctest::Approx(5e12 / 45e3));
}

TEST_CASE("fit_link: refuses what is no measurement") {
  CHECK_FALSE(profile::fit_link({}));
  const std::vector<profile::LinkSample> zero_bytes = {{0, 1e-3}};
  CHECK_FALSE(profile::fit_link(zero_bytes));
  const std::vector<profile::LinkSample> negative = {{10, -1.0}};
  CHECK_FALSE(profile::fit_link(negative));
  const std::vector<profile::LinkSample> instant = {{10, 0.0}, {20, 0.0}};
  CHECK_FALSE(profile::fit_link(instant));
}

namespace {
// Records what it is asked to move, copies like a memcpy and sleeps a little so that every
// transfer takes measurable time; fails the transfer numbered `fail_at` (0: never).
struct RecordingTransport {
  std::vector<prefill::TransferTag> tags;
  std::vector<std::size_t> sizes;
  std::size_t fail_at = 0;
  Status transmit(const prefill::TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    tags.push_back(tag);
    sizes.push_back(dst.size());
    if (src.size() != dst.size()) return Status::invalid_argument("sizes differ");
    if (tags.size() == fail_at) return Status::io_error("the link broke");
    std::copy(src.begin(), src.end(), dst.begin());
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    while (std::chrono::steady_clock::now() < until) {
    }
    return Status::ok();
  }
};
}  // namespace

TEST_CASE("measure_link: each round begins then fetches every chunk in order and warm-up rounds are not kept") {
  RecordingTransport t;
  const std::vector<profile::LinkChunk> chunks = {{{prefill::Payload::kE, 1}, 300},
                                                  {{prefill::Payload::kKv, 0}, 100},
                                                  {{prefill::Payload::kKv, 1}, 100}};
  int begun = 0;
  const auto cal = profile::measure_link(
      t, chunks, [&] { return ++begun, Status::ok(); },
      {.warmup_rounds = 1, .rounds = 3, .max_seconds = 60.0});
  REQUIRE(cal);
  CHECK(begun == 4);
  REQUIRE(t.tags.size() == 12);
  for (std::size_t i = 0; i < t.tags.size(); ++i) {
    CHECK(t.tags[i] == chunks[i % 3].tag);
    CHECK(t.sizes[i] == static_cast<std::size_t>(chunks[i % 3].bytes));
  }
  CHECK(cal->rounds == 3);
  CHECK(cal->bytes_per_round == 500);
  REQUIRE(cal->samples.size() == 9);
  CHECK(cal->samples[0].bytes == 300);
  CHECK(cal->rate.count == 3);
  CHECK(cal->link.bytes_per_second > 0.0);
  CHECK(cal->rate.min <= cal->rate.median);
}

TEST_CASE("measure_link: the first failure of a round's beginning or of a transfer is returned") {
  const std::vector<profile::LinkChunk> chunks = {{{prefill::Payload::kKv, 0}, 64}};
  RecordingTransport t;
  auto cal = profile::measure_link(t, chunks, [] { return Status::io_error("full prefill: absent"); });
  REQUIRE_FALSE(cal);
  CHECK(cal.status().message().find("full prefill: absent") != std::string::npos);
  CHECK(t.tags.empty());
  t.fail_at = 2;
  cal = profile::measure_link(t, chunks, [] { return Status::ok(); });
  REQUIRE_FALSE(cal);
  CHECK(cal.status().message().find("the link broke") != std::string::npos);
  CHECK(t.tags.size() == 2);
}

TEST_CASE("measure_link: refuses empty work") {
  RecordingTransport t;
  const auto ok = [] { return Status::ok(); };
  CHECK_FALSE(profile::measure_link(t, std::span<const profile::LinkChunk>{}, ok));
  const std::vector<profile::LinkChunk> empty_chunk = {{{prefill::Payload::kKv, 0}, 0}};
  CHECK_FALSE(profile::measure_link(t, empty_chunk, ok));
  const std::vector<profile::LinkChunk> chunks = {{{prefill::Payload::kKv, 0}, 8}};
  CHECK_FALSE(profile::measure_link(t, chunks, ok, {.rounds = 0}));
  CHECK(t.tags.empty());
}
