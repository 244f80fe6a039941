// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/transfer/cache_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::transfer;
using droidspeak::layout::LayerSet;

namespace {
constexpr std::uint64_t kSender = 0x5E4D;
constexpr std::uint64_t kOther = 0x0DD;

std::vector<std::byte> bytes_of(std::size_t n, int salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(salt)) & 0xFF);
  return v;
}

CacheMarker prefill_of(std::uint64_t context, std::uint64_t model = kSender) {
  return {context, model, CacheOrigin::kFullPrefill};
}

//! Stores E of `e` and KV of `kv` layers of one context, each chunk `n` bytes.
void store_context(CacheStore& s, std::uint64_t context, LayerSet e, LayerSet kv, std::size_t n,
                   std::uint64_t model = kSender) {
  for (std::int64_t i = 0; i < e.count(); ++i) {
    REQUIRE(s.put(prefill_of(context, model), e.nth(i), Payload::kE, bytes_of(n, static_cast<int>(e.nth(i)))).is_ok());
  }
  for (std::int64_t i = 0; i < kv.count(); ++i) {
    REQUIRE(s.put(prefill_of(context, model), kv.nth(i), Payload::kKv, bytes_of(n, 100 + static_cast<int>(kv.nth(i)))).is_ok());
  }
}
}  // namespace

TEST_CASE("a hit returns every needed chunk (E first) each with its checksum") {
  CacheStore s(1 << 20);
  const plan::ReusePlan p = *plan::ReusePlan::create(8, {{0, 1}, {5, 5}});
  const Needs needs = Needs::of(p);
  store_context(s, 42, needs.e_layers, needs.kv_layers, 64);
  const Lookup r = s.lookup(42, kSender, needs);
  REQUIRE(r.hit);
  REQUIRE(r.chunks.size() == 1 + 5);  // E[5]; KV of 2, 3, 4, 6, 7
  CHECK(r.chunks[0].key == ChunkKey{42, kSender, 5, Payload::kE});
  CHECK(r.chunks[1].key == ChunkKey{42, kSender, 2, Payload::kKv});
  CHECK(r.chunks[5].key == ChunkKey{42, kSender, 7, Payload::kKv});
  for (const StoredChunk& c : r.chunks) CHECK(verify_chunk(c.key, c.view(), c.checksum).is_ok());
  CHECK(r.chunks[0].view().size() == 64);
  CHECK(r.chunks[0].view()[1] == bytes_of(64, 5)[1]);
}

TEST_CASE("the byte budget evicts the least recently used chunk and a miss then says evicted") {
  CacheStore s(3 * 100);
  const Needs one{{}, LayerSet::range(0, 1)};
  store_context(s, 1, {}, LayerSet::range(0, 1), 100);
  store_context(s, 2, {}, LayerSet::range(0, 1), 100);
  store_context(s, 3, {}, LayerSet::range(0, 1), 100);
  CHECK(s.used_bytes() == 300);
  REQUIRE(s.lookup(1, kSender, one).hit);  // context 1 is now the most recently used
  store_context(s, 4, {}, LayerSet::range(0, 1), 100);  // evicts context 2, not 1
  CHECK(s.used_bytes() == 300);
  CHECK(s.num_chunks() == 3);
  CHECK(s.lookup(1, kSender, one).hit);
  const Lookup gone = s.lookup(2, kSender, one);
  CHECK_FALSE(gone.hit);
  CHECK(gone.reason == MissReason::kEvicted);
  CHECK(gone.missing == ChunkKey{2, kSender, 0, Payload::kKv});
  CHECK(gone.message.rfind("full prefill: evicted", 0) == 0);
  // A chunk larger than the whole budget is refused rather than evicting everything.
  CHECK_FALSE(s.put(prefill_of(9), 0, Payload::kKv, bytes_of(301, 0)).is_ok());
  CHECK(s.num_chunks() == 3);
}

TEST_CASE("a context never stored or missing one needed layer misses as absent") {
  CacheStore s(1 << 20);
  store_context(s, 7, {}, LayerSet::range(0, 3), 16);
  const Lookup never = s.lookup(8, kSender, {{}, LayerSet::range(0, 1)});
  CHECK_FALSE(never.hit);
  CHECK(never.reason == MissReason::kAbsent);
  const Lookup partial = s.lookup(7, kSender, {LayerSet::range(2, 3), LayerSet::range(0, 3)});
  CHECK_FALSE(partial.hit);
  CHECK(partial.reason == MissReason::kAbsent);
  CHECK(partial.missing == ChunkKey{7, kSender, 2, Payload::kE});
  CHECK(partial.chunks.empty());
  CHECK(partial.message == "full prefill: absent: " + to_string(partial.missing) + " is not in the store");
}

TEST_CASE("a context cached by another model misses with fingerprint mismatch") {
  CacheStore s(1 << 20);
  store_context(s, 7, {}, LayerSet::range(0, 2), 16, kOther);
  const Lookup r = s.lookup(7, kSender, {{}, LayerSet::range(0, 2)});
  CHECK_FALSE(r.hit);
  CHECK(r.reason == MissReason::kFingerprintMismatch);
  CHECK(r.message.find("fingerprint mismatch") != std::string::npos);
  CHECK(s.lookup(7, kOther, {{}, LayerSet::range(0, 2)}).hit);
}

TEST_CASE("checksum failures are detected on arrival and on stored bytes that changed") {
  CacheStore s(1 << 20);
  const ChunkKey key{5, kSender, 1, Payload::kKv};
  std::vector<std::byte> b = bytes_of(128, 3);
  const std::uint64_t sum = chunk_checksum(b);
  std::vector<std::byte> corrupted = b;
  corrupted[77] ^= std::byte{0x10};
  const Status refused = s.put_verified(key, corrupted, sum);
  CHECK(refused.code() == StatusCode::kErrorIo);
  CHECK(refused.message().find("checksum mismatch") != std::string::npos);
  CHECK_FALSE(s.contains(key));
  REQUIRE(s.put_verified(key, b, sum).is_ok());

  // Memory corruption after storing: the next verified lookup catches it and drops the chunk.
  const Needs needs{{}, LayerSet::range(1, 2)};
  const Lookup first = s.lookup(5, kSender, needs);
  REQUIRE(first.hit);
  // The store made the vector as a non-const object, so writing through const_cast is defined.
  auto& stored = const_cast<std::vector<std::byte>&>(*first.chunks[0].bytes);
  stored[0] ^= std::byte{1};
  const Lookup second = s.lookup(5, kSender, needs);
  CHECK_FALSE(second.hit);
  CHECK(second.reason == MissReason::kChecksumFailed);
  CHECK_FALSE(s.contains(key));
}

TEST_CASE("a mixed cache is never stored (so never offered) as the receiver's own prefix cache") {
  const plan::ReusePlan partial = *plan::ReusePlan::create(4, {{2, 3}});
  const plan::ReusePlan own = plan::ReusePlan::full_recompute(4);
  CHECK(origin_of(partial) == CacheOrigin::kMixed);
  CHECK(origin_of(own) == CacheOrigin::kFullPrefill);
  CHECK(origin_of(plan::ReusePlan::full_reuse(4)) == CacheOrigin::kMixed);

  constexpr std::uint64_t kReceiver = 0xBEEF;
  CacheStore s(1 << 20);
  const CacheMarker mixed{11, kReceiver, origin_of(partial)};
  for (std::int64_t l = 0; l < 4; ++l) {
    const Status st = s.put(mixed, l, Payload::kKv, bytes_of(32, static_cast<int>(l)));
    CHECK(st.code() == StatusCode::kErrorInvalidArgument);
    CHECK(st.message().find("mixed cache") != std::string::npos);
  }
  CHECK(s.num_chunks() == 0);
  const Lookup offered = s.lookup(11, kReceiver, {{}, LayerSet::range(0, 4)});
  CHECK_FALSE(offered.hit);
  CHECK(offered.reason == MissReason::kAbsent);
  // The same receiver's own full prefill of that context is a prefix cache like any other.
  const CacheMarker mine{11, kReceiver, origin_of(own)};
  for (std::int64_t l = 0; l < 4; ++l) REQUIRE(s.put(mine, l, Payload::kKv, bytes_of(32, static_cast<int>(l))).is_ok());
  CHECK(s.lookup(11, kReceiver, {{}, LayerSet::range(0, 4)}).hit);
}

TEST_CASE("concurrent puts and lookups keep the budget and the books consistent") {
  CacheStore s(64 * 50);
  std::atomic<int> wrong_hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&s, &wrong_hits, t] {
      for (int i = 0; i < 200; ++i) {
        const auto ctx = static_cast<std::uint64_t>(t * 1000 + i % 40);
        (void)s.put(prefill_of(ctx), i % 3, Payload::kKv, bytes_of(64, i));
        const Lookup r = s.lookup(ctx, kSender, {{}, LayerSet::range(0, 1)});
        if (r.hit && (r.chunks.size() != 1 || r.chunks[0].view().size() != 64)) ++wrong_hits;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(wrong_hits.load() == 0);
  CHECK(s.used_bytes() <= s.budget_bytes());
  CHECK(s.used_bytes() == 64 * s.num_chunks());
}

TEST_CASE("layers outside the supported range are refused") {
  CacheStore s(1 << 10);
  CHECK(s.put(prefill_of(1), -1, Payload::kE, bytes_of(4, 0)).code() == StatusCode::kErrorOutOfRange);
  CHECK(s.put(prefill_of(1), layout::kMaxLayers, Payload::kE, bytes_of(4, 0)).code() == StatusCode::kErrorOutOfRange);
  CHECK(s.num_chunks() == 0);
}
