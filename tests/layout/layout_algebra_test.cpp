// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Property tests of the layout algebra: offsets are a bijection onto the buffer.
#include "droidspeak/layout/any_layout.hpp"
#include "droidspeak/layout/e_cache_layout.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

// Marks every element (layer, part, token, head, e) of `l`; returns false on a collision or
// an offset outside the buffer. `hits` counts covered elements per base.
bool mark_all(const KvLayout& l, std::vector<std::vector<char>>& seen, std::int64_t& hits) {
  const std::int64_t dim = l.head_dim();
  for (std::int64_t layer = 0; layer < l.num_layers(); ++layer) {
    for (KvPart part : {KvPart::kK, KvPart::kV}) {
      const std::size_t base = (part == KvPart::kV && l.two_bases()) ? 1 : 0;
      for (std::int64_t t = 0; t < l.num_tokens(); ++t) {
        for (std::int64_t h = 0; h < l.num_kv_heads(); ++h) {
          const std::int64_t off = l.row_offset(layer, part, t, h);
          if (off < 0 || off + dim > l.pool_elements()) return false;
          // A token's heads are head_stride() apart (copy_kv relies on it).
          if (off != l.row_offset(layer, part, t, 0) + h * l.head_stride()) return false;
          for (std::int64_t e = 0; e < dim; ++e) {
            char& c = seen[base][static_cast<std::size_t>(off + e)];
            if (c) return false;
            c = 1;
            ++hits;
          }
        }
      }
    }
  }
  return true;
}

}  // namespace

TEST_CASE("every layout maps elements one-to-one into its buffer, onto when fully used") {
  for (std::int64_t page_size : {1, 3, 16, 17}) {
    for (std::int64_t head_dim : {64, 80, 128}) {
      for (std::int64_t heads : {1, 8}) {
        for (std::int64_t tokens : {1, 33, 48}) {
          for (const test::LayoutSpec& spec : test::all_specs(page_size)) {
            CAPTURE(spec.name());
            CAPTURE(page_size);
            CAPTURE(head_dim);
            CAPTURE(heads);
            CAPTURE(tokens);
            test::OwnedLayout owned = test::make_layout(spec, 3, tokens, heads, head_dim);
            const KvLayout& l = owned.layout;
            REQUIRE(l.validate_host_indices().is_ok());
            std::vector<std::vector<char>> seen(2, std::vector<char>(static_cast<std::size_t>(l.pool_elements()), 0));
            std::int64_t hits = 0;
            REQUIRE(mark_all(l, seen, hits));
            const std::int64_t elements = 3 * 2 * tokens * heads * head_dim;
            CHECK(hits == elements);
            if (spec.kind == LayoutKind::kTransfer) CHECK(hits == l.pool_elements());
            if (spec.kind != LayoutKind::kTransfer) {
              // Exactly the used pages' slots are covered: a full page pool minus the unused
              // pages and the unused tail of the last page.
              const std::int64_t slots = 3 * 2 * owned.used_pages * page_size * heads * head_dim;
              const std::int64_t tail = 3 * 2 * (owned.used_pages * page_size - tokens) * heads * head_dim;
              CHECK(hits == slots - tail);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("transfer layout offsets follow the documented strides") {
  const TransferLayout nhd{2, 3, 2, 4, HeadOrder::kNHD};
  CHECK(nhd.row_offset(1, KvPart::kV, 2, 1) == 92);
  CHECK(nhd.pool_elements() == 96);
  const TransferLayout hnd{2, 3, 2, 4, HeadOrder::kHND};
  // [layer][K|V][head][token][dim]: (1, V, token 2, head 1) = (3 * 2 + 1) * 12 + 2 * 4.
  CHECK(hnd.row_offset(1, KvPart::kV, 2, 1) == (3 * 2 + 1) * 12 + 8);
  // A prefix of layers is a prefix of the buffer (layer-wise streaming).
  CHECK(nhd.row_offset(1, KvPart::kK, 0, 0) == 48);
}

TEST_CASE("paged offsets follow the documented strides") {
  const std::int32_t table[] = {4, 1};
  const PagePool fused{2, 5, 16, 8, 128, HeadOrder::kNHD, KvPlacement::kFused};
  const BlockTableLayout bt{fused, table, 2, 20};
  // token 17 -> block 1 -> page 1, slot 1; layer 1, V: ((1*5 + 1)*2 + 1) * page + (1*8 + 3)*128.
  CHECK(bt.row_offset(1, KvPart::kV, 17, 3) == ((1 * 5 + 1) * 2 + 1) * 16384 + (1 * 8 + 3) * 128);
  const PagePool split_hnd{2, 5, 16, 8, 128, HeadOrder::kHND, KvPlacement::kSplit};
  const BlockTableLayout bt2{split_hnd, table, 2, 20};
  CHECK(bt2.row_offset(1, KvPart::kV, 17, 3) == (1 * 5 + 1) * 16384 + (3 * 16 + 1) * 128);
  // A table entry outside the pool is reported, never dereferenced into the pool.
  const std::int32_t bad[] = {9};
  const BlockTableLayout bt3{fused, bad, 1, 4};
  CHECK(bt3.row_offset(0, KvPart::kK, 0, 0) == -1);
  CHECK(bt3.validate().is_ok());
  CHECK(!bt3.validate_host_indices().is_ok());
}

TEST_CASE("offsets are 64-bit: caches past 2^31 elements") {
  const TransferLayout big{80, 65536, 8, 128, HeadOrder::kNHD};
  REQUIRE(big.validate().is_ok());
  CHECK(big.pool_elements() == std::int64_t{80} * 2 * 65536 * 8 * 128);
  CHECK(big.row_offset(79, KvPart::kV, 65535, 7) == big.pool_elements() - 128);
  const TransferLayout overflow{1 << 20, 1 << 20, 1 << 20, 1 << 20, HeadOrder::kNHD};
  CHECK(overflow.validate().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("E-cache rows are ordered by entry layer") {
  ECacheLayout e{LayerSet::from_mask(0b1000001), 10, 192};  // entries 0 and 6
  CHECK(e.num_entries() == 2);
  CHECK(e.row_offset(6, 3) == (1 * 10 + 3) * 192);
  CHECK(e.pool_elements() == 2 * 10 * 192);
}

TEST_CASE("LayerSet: members, order, rank and lists") {
  const std::int64_t list[] = {5, 0, 130, 64};
  Result<LayerSet> s = LayerSet::from_list(list, 200);
  REQUIRE(s.is_ok());
  CHECK(s->count() == 4);
  CHECK(s->nth(0) == 0);
  CHECK(s->nth(1) == 5);
  CHECK(s->nth(2) == 64);
  CHECK(s->nth(3) == 130);
  CHECK(s->rank(130) == 3);
  CHECK(s->rank(64) == 2);
  CHECK(s->end_bound() == 131);
  CHECK(s->to_string() == "{0, 5, 64, 130}");
  CHECK(LayerSet::range(2, 5).minus(LayerSet::from_mask(0b1000)) == LayerSet::from_mask(0b10100));
  const std::int64_t dup[] = {3, 3};
  CHECK(LayerSet::from_list(dup, 10).status().message() == "layer set: layer 3 listed twice");
  const std::int64_t out[] = {10};
  CHECK(LayerSet::from_list(out, 10).status().message() == "layer set: layer 10 outside [0, 10)");
  CHECK(LayerSet::from_list(out, 300).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("ModelGeometry validation names the bad field") {
  ModelGeometry g{12, 192, 4, 2, 48};
  CHECK(g.validate().is_ok());
  CHECK(g.kv_row_elements() == 96);
  g.num_kv_heads = 3;
  CHECK(g.validate().message() == "model geometry: num_q_heads 4 is not a multiple of num_kv_heads 3");
  g.num_kv_heads = 0;
  CHECK(g.validate().message() == "model geometry: num_kv_heads must be positive, got 0");
  g = {300, 192, 4, 2, 48};
  CHECK(g.validate().code() == StatusCode::kErrorNotSupported);
}
