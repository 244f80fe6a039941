// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file SenderCacheBuffers: sized from the plan (or every layer), holding exactly what the
//! sender's engine captured, and refusing what it cannot build.
#include "droidspeak/prefill/sender_caches.hpp"

#include "prefill/prefill_test_util.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::LayerSet;
using droidspeak::plan::ReusePlan;

TEST_CASE("sender caches sized from a plan hold the plan's E and reused KV, as the engine computed them") {
  const io::HfConfig c = test::small_config();
  const auto w = test::random_model(c, 41);
  auto sender = test::make_engine(w, {.num_threads = 1});
  const auto ctx = test::some_tokens(13, c.vocab_size, 7);
  const ReusePlan p = *ReusePlan::parse("1,3", 4);
  Result<prefill::SenderCacheBuffers> b = prefill::SenderCacheBuffers::prefill(sender, p, ctx);
  REQUIRE_MESSAGE(b.is_ok(), b.status().to_string());
  const prefill::SenderCaches sc = b->caches();
  CHECK(sc.e.layout.entry_layers == p.entry_layers());
  CHECK(sc.e.layout.num_tokens == 13);
  CHECK(sc.kv.layout.kind == layout::LayoutKind::kTransfer);
  CHECK(sc.kv.layout.num_tokens() == 13);

  // The same E, captured by hand from a second prefill.
  const layout::ECacheLayout el{LayerSet::all(4), 13, c.hidden_size};
  std::vector<float> e(static_cast<std::size_t>(el.pool_elements()));
  REQUIRE(prefill::sender_prefill(sender, ctx, layout::EView(reinterpret_cast<std::byte*>(e.data()), DType::kF32, el))
              .is_ok());
  for (std::int64_t l : {1, 3}) {
    CHECK(std::memcmp(sc.e.row(l, 0), e.data() + el.row_offset(l, 0), static_cast<std::size_t>(13 * c.hidden_size) * 4) == 0);
  }
  // The reused layers' KV, as in the engine's cache.
  const layout::TransferLayout tl{4, 13, c.num_kv_heads, c.head_dim, layout::HeadOrder::kNHD};
  std::vector<float> kv(static_cast<std::size_t>(tl.pool_elements()));
  const layout::KvView kvv(reinterpret_cast<std::byte*>(kv.data()), DType::kF32, tl);
  REQUIRE(layout::copy_kv({sender.kv_cache(), kvv, LayerSet::all(4), {0, 13}, 0}).is_ok());
  for (std::int64_t l : {0, 2}) {
    const std::int64_t off = tl.row_offset(l, layout::KvPart::kK, 0, 0);
    CHECK(std::memcmp(sc.kv.k_data + off * 4, kv.data() + off, static_cast<std::size_t>(2 * 13 * c.num_kv_heads * c.head_dim) * 4) == 0);
  }

  // Moving keeps the views valid: the buffers are heap blocks.
  const prefill::SenderCacheBuffers moved = std::move(b).value();
  CHECK(moved.caches().e.data == sc.e.data);
  CHECK(moved.caches().kv.k_data == sc.kv.k_data);
}

TEST_CASE("sender caches for every layer, and in place over the sender's own KV") {
  const io::HfConfig c = test::small_config();
  auto sender = test::make_engine(test::random_model(c, 42), {.num_threads = 1});
  const auto ctx = test::some_tokens(9, c.vocab_size, 8);
  auto all = prefill::SenderCacheBuffers::prefill(
      sender, ReusePlan::full_reuse(4), ctx, {.layers = prefill::SenderLayers::kAll, .kv = prefill::SenderKv::kEngineCache});
  REQUIRE(all.is_ok());
  CHECK(all->caches().e.layout.entry_layers == LayerSet::all(4));
  CHECK(all->caches().kv.k_data == sender.kv_cache().k_data);
  // Full reuse needs no E at all: the E view is empty.
  auto none = prefill::SenderCacheBuffers::prefill(sender, ReusePlan::full_reuse(4), ctx);
  REQUIRE(none.is_ok());
  CHECK(none->caches().e.data == nullptr);
  CHECK(none->caches().kv.layout.kind == layout::LayoutKind::kTransfer);
}

TEST_CASE("sender caches refuse a plan for another model and an empty context") {
  const io::HfConfig c = test::small_config();
  auto sender = test::make_engine(test::random_model(c, 43), {.num_threads = 1});
  auto b = prefill::SenderCacheBuffers::prefill(sender, ReusePlan::full_reuse(6), test::some_tokens(4, c.vocab_size, 9));
  REQUIRE(!b.is_ok());
  CHECK(b.status().message() == "sender caches: plan for 6 layers, sender has 4");
  b = prefill::SenderCacheBuffers::prefill(sender, ReusePlan::full_reuse(4), {});
  CHECK(b.status().message() == "sender caches: empty context");
}
