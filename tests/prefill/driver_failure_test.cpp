// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Failures on either side of a partial prefill come back as a Status that names the
//! side: a transport that throws or fails, an engine that throws or fails on the compute side,
//! a failed allocation. In both overlap modes the process does not terminate, the compute
//! side waiting for an E that never lands wakes up, and the transfer thread is joined.
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"

#include "prefill/prefill_test_util.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;

namespace {

// Fails the transmit number `fail_at` (0-based), by throwing or by returning an error.
struct BrokenTransport {
  BrokenTransport(std::int64_t at, bool throw_it) : fail_at(at), throws(throw_it) {}
  std::int64_t fail_at;
  bool throws;
  std::int64_t calls = 0;
  prefill::InProcessTransport inner;
  Status transmit(const prefill::TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    if (calls++ == fail_at) {
      if (throws) throw std::runtime_error("link down");
      return Status::io_error("peer reset");
    }
    return inner.transmit(tag, src, dst);
  }
};
static_assert(prefill::Transport<BrokenTransport>);

// The reference engine, failing on purpose in one member.
struct BrokenEngine {
  enum class Fault { kNone, kThrowInRunLayers, kFailRunLayers, kBadAllocInReserve, kThrowInEmbed };
  reference::Engine inner;
  Fault fault = Fault::kNone;

  layout::ModelGeometry geometry() const { return inner.geometry(); }
  std::int64_t vocab_size() const { return inner.vocab_size(); }
  std::int64_t num_tokens() const { return inner.num_tokens(); }
  std::int64_t capacity() const { return inner.capacity(); }
  Status reset() { return inner.reset(); }
  Status reserve(std::int64_t n) {
    if (fault == Fault::kBadAllocInReserve) throw std::bad_alloc();
    return inner.reserve(n);
  }
  Status set_num_tokens(std::int64_t n) { return inner.set_num_tokens(n); }
  layout::KvView kv_cache() { return inner.kv_cache(); }
  Status embed(std::span<const std::int32_t> t, std::span<float> h) {
    if (fault == Fault::kThrowInEmbed) throw std::runtime_error("embedding table gone");
    return inner.embed(t, h);
  }
  Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                    std::span<float> h, const layout::EView* capture) {
    if (fault == Fault::kThrowInRunLayers) throw std::runtime_error("engine boom");
    if (fault == Fault::kFailRunLayers) return Status::internal("kernel failed");
    return inner.run_layers(first, last, position, n, h, capture);
  }
  Status logits(std::span<const float> h, std::span<float> out) { return inner.logits(h, out); }
};
static_assert(prefill::Engine<BrokenEngine>);

struct Fixture {
  io::HfConfig c = test::small_config();
  reference::ModelWeights base = test::random_model(c, 31);
  reference::Engine sender = test::make_engine(base, {.num_threads = 1});
  BrokenEngine receiver{test::make_engine(test::tuned_from(base), {.page_size = 5, .num_threads = 1})};
  std::vector<std::int32_t> ctx = test::some_tokens(18, c.vocab_size, 5);
  std::vector<std::int32_t> sfx = test::some_tokens(3, c.vocab_size, 6);
  std::vector<float> logits = std::vector<float>(static_cast<std::size_t>(c.vocab_size));
  prefill::SenderCacheBuffers caches;
  Fixture() {
    auto s = prefill::SenderCacheBuffers::prefill(sender, ReusePlan::full_reuse(4), ctx,
                                                  {.layers = prefill::SenderLayers::kAll});
    REQUIRE(s.is_ok());
    caches = std::move(s).value();
  }
  template <class T>
  Status streamed(const char* plan, T& link, prefill::Overlap overlap) {
    return prefill::streamed_partial_prefill(receiver, *ReusePlan::parse(plan, 4), ctx, caches.caches(), link,
                                             overlap, sfx, logits);
  }
  // After a failure the receiver still works: the same call with a sound transport succeeds.
  void check_recovers(const char* plan, prefill::Overlap overlap) {
    receiver.fault = BrokenEngine::Fault::kNone;
    prefill::InProcessTransport ok;
    CHECK(streamed(plan, ok, overlap).is_ok());
  }
};

constexpr prefill::Overlap kBoth[] = {prefill::Overlap::kSequential, prefill::Overlap::kPipelined};

}  // namespace

TEST_CASE("a transport that throws becomes a transfer Status; the compute side waiting for E wakes up") {
  Fixture f;
  for (prefill::Overlap overlap : kBoth) {
    // fail_at 0: the E of layer 2 never lands, and interval 2-3 waits for it;
    // fail_at 2: E has landed, the second KV chunk throws while the interval may be running.
    for (std::int64_t fail_at : {0, 2}) {
      CAPTURE(static_cast<int>(overlap));
      CAPTURE(fail_at);
      BrokenTransport link(fail_at, true);
      const Status s = f.streamed("2-3", link, overlap);
      CHECK(s.code() == StatusCode::kErrorInternal);
      CHECK(s.message() == "streamed partial prefill: transfer: exception: link down");
      CHECK(link.calls == fail_at + 1);  // nothing was sent after the failure
      f.check_recovers("2-3", overlap);
    }
  }
}

TEST_CASE("a transport that fails becomes a transfer Status with its own code and message") {
  Fixture f;
  for (prefill::Overlap overlap : kBoth) {
    CAPTURE(static_cast<int>(overlap));
    BrokenTransport link(1, false);
    const Status s = f.streamed("1,3", link, overlap);
    CHECK(s.code() == StatusCode::kErrorIo);
    CHECK(s.message() == "streamed partial prefill: transfer: peer reset");
  }
}

TEST_CASE("an engine that throws or fails on the compute side becomes a compute Status") {
  Fixture f;
  for (prefill::Overlap overlap : kBoth) {
    CAPTURE(static_cast<int>(overlap));
    for (const char* plan : {"0-1", "2-3"}) {  // from the receiver's embeddings, and from a landed E
      CAPTURE(plan);
      prefill::InProcessTransport link;
      f.receiver.fault = BrokenEngine::Fault::kThrowInRunLayers;
      Status s = f.streamed(plan, link, overlap);
      CHECK(s.code() == StatusCode::kErrorInternal);
      CHECK(s.message() == "streamed partial prefill: compute: exception: engine boom");
      f.receiver.fault = BrokenEngine::Fault::kFailRunLayers;
      s = f.streamed(plan, link, overlap);
      CHECK(s.message() == "streamed partial prefill: compute: kernel failed");
      f.check_recovers(plan, overlap);
    }
    // Full reuse: the only compute step is the suffix, and it throws in embed.
    prefill::InProcessTransport link;
    f.receiver.fault = BrokenEngine::Fault::kThrowInEmbed;
    const Status s = f.streamed("none", link, overlap);
    CHECK(s.message() == "streamed partial prefill: compute: exception: embedding table gone");
  }
}

TEST_CASE("a failed allocation in setup, and engine exceptions on the direct path, become a Status") {
  Fixture f;
  prefill::InProcessTransport link;
  f.receiver.fault = BrokenEngine::Fault::kBadAllocInReserve;
  for (prefill::Overlap overlap : kBoth) {
    const Status s = f.streamed("1-2", link, overlap);
    CHECK(s.message() == "streamed partial prefill: setup: out of memory");
  }
  Status s = prefill::partial_prefill(f.receiver, *ReusePlan::parse("1-2", 4), f.ctx, f.caches.caches(), f.sfx,
                                      f.logits);
  CHECK(s.message() == "partial prefill: setup: out of memory");
  f.receiver.fault = BrokenEngine::Fault::kThrowInRunLayers;
  s = prefill::partial_prefill(f.receiver, *ReusePlan::parse("1-2", 4), f.ctx, f.caches.caches(), f.sfx, f.logits);
  CHECK(s.message() == "partial prefill: compute: exception: engine boom");
  s = prefill::full_prefill(f.receiver, f.ctx, f.sfx, f.logits);
  CHECK(s.message() == "full prefill: exception: engine boom");
}

TEST_CASE("a NaN in the sender's KV or E is refused where it enters, naming the layer, on every path") {
  Fixture f;
  const prefill::SenderCaches sc = f.caches.caches();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto poison = [&](const std::byte* at, float value) {
    std::memcpy(const_cast<std::byte*>(at), &value, sizeof value);  // the test owns these buffers
  };
  // `streamed_side` / `direct_side`: how each path names the side that refused (streaming
  // adopts on its transfer lane).
  auto all_paths = [&](const char* plan, const std::string& streamed_side, const std::string& direct_side,
                       const std::string& expected) {
    prefill::InProcessTransport link;
    for (prefill::Overlap overlap : kBoth) {
      CAPTURE(static_cast<int>(overlap));
      const Status s = f.streamed(plan, link, overlap);
      CHECK(s.code() == StatusCode::kErrorDataCorrupt);
      CHECK(s.message() == "streamed partial prefill: " + streamed_side + ": " + expected);
    }
    const Status d = prefill::partial_prefill(f.receiver, *ReusePlan::parse(plan, 4), f.ctx, sc, f.sfx, f.logits);
    CHECK(d.code() == StatusCode::kErrorDataCorrupt);
    CHECK(d.message() == "partial prefill: " + direct_side + ": " + expected);
  };

  // KV of reused layer 1, V part, token 7, head 0, element 3.
  const std::byte* v_row = sc.kv.row(1, layout::KvPart::kV, 7, 0);
  REQUIRE(v_row != nullptr);
  float kept = 0.0f;
  std::memcpy(&kept, v_row + 3 * sizeof(float), sizeof kept);
  poison(v_row + 3 * sizeof(float), nan);
  all_paths("2-3", "transfer", "adopt", "the sender's KV holds a non-finite value at layer 1 V token 7 head 0 element 3");
  poison(v_row + 3 * sizeof(float), kept);

  // E entering layer 2, token 4, element 9.
  const std::byte* e_row = sc.e.row(2, 4);
  poison(e_row + 9 * sizeof(float), std::numeric_limits<float>::infinity());
  all_paths("2-3", "compute", "compute", "the sender's E holds a non-finite value at layer 2 token 4 element 9");
  poison(e_row + 9 * sizeof(float), 0.0f);
  f.check_recovers("2-3", prefill::Overlap::kPipelined);
}
