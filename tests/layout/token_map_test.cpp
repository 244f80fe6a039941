// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file KvTokenMap, the kernels' walk over a KV transfer, checked on the host: every unit
//! is the right (layer, part, token) in order, and its head rows are exactly the rows
//! KvLayout::row_offset names, for every layout pair and for caches whose offsets pass
//! 4 GiB (no GPU and no allocation needed: only index arrays are real).
#include "droidspeak/layout/kv_token_map.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

// Counts the units and head rows where the map disagrees with the layouts' row_offset.
std::int64_t map_errors(const KvLayout& src, const KvLayout& dst, const LayerSet& layers,
                        const TokenRange& range, std::int64_t dst_begin,
                        const std::vector<std::int64_t>& units) {
  const KvTokenMap map = KvTokenMap::make(src, dst, layers, range, dst_begin);
  const std::int64_t heads = src.num_kv_heads();
  std::int64_t errors = 0;
  for (std::int64_t u : units) {
    const KvTokenUnit unit = map.at(u);
    const std::int64_t t = u % range.size();
    const std::int64_t layer_part = u / range.size();
    const bool place_ok = unit.layer == layers.nth(layer_part / 2) &&
                          unit.part == static_cast<KvPart>(layer_part % 2) &&
                          unit.src_token == range.begin + t && unit.dst_token == dst_begin + t;
    if (!place_ok) {
      if (errors == 0) FAIL_CHECK("unit " << u << " maps to the wrong layer, part or token");
      ++errors;
      continue;
    }
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::int64_t want_s = src.row_offset(unit.layer, unit.part, unit.src_token, h);
      const std::int64_t want_d = dst.row_offset(unit.layer, unit.part, unit.dst_token, h);
      const std::int64_t got_s = unit.src_offset + h * map.src.addr.strides.head;
      const std::int64_t got_d = unit.dst_offset + h * map.dst.addr.strides.head;
      if (got_s != want_s || got_d != want_d) {
        if (errors == 0) {
          FAIL_CHECK("unit " << u << " head " << h << ": src " << got_s << " vs " << want_s
                             << ", dst " << got_d << " vs " << want_d);
        }
        ++errors;
      }
    }
  }
  return errors;
}

std::vector<std::int64_t> all_units(std::int64_t n) {
  std::vector<std::int64_t> u(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) u[static_cast<std::size_t>(i)] = i;
  return u;
}

}  // namespace

TEST_CASE("KvTokenMap walks every layout pair exactly as row_offset addresses it") {
  const LayerSet selected = LayerSet::from_mask(0b1101);  // {0, 2, 3}: a gap
  std::int64_t errors = 0;
  for (std::int64_t page : {1, 3, 16}) {
    for (const test::LayoutSpec& s : test::all_specs(page)) {
      for (const test::LayoutSpec& d : test::all_specs(17)) {
        const test::OwnedLayout src = test::make_layout(s, 4, 45, 3, 8, 5);
        const test::OwnedLayout dst = test::make_layout(d, 4, 50, 3, 8, 6);
        const TokenRange range{4, 41};
        errors += map_errors(src.layout, dst.layout, selected, range, 9,
                             all_units(selected.count() * 2 * range.size()));
      }
    }
  }
  CHECK(errors == 0);
}

TEST_CASE("KvTokenMap: offsets past 4 GiB match row_offset and the layouts' formulas") {
  // 80 layers x 2^20 tokens x 8 heads x 128: 1.7e11 elements, offsets far past 2^32 bytes.
  const std::int64_t layers = 80, tokens = std::int64_t{1} << 20, heads = 8, dim = 128;
  std::mt19937_64 rng(7);
  const LayerSet selected = LayerSet::from_mask(0b1011) | LayerSet::range(70, 80);
  const TokenRange range{100, tokens};
  const std::int64_t units = selected.count() * 2 * range.size();
  std::vector<std::int64_t> sample = {0, 1, units / 2, units - 2, units - 1};
  for (int i = 0; i < 4000; ++i) sample.push_back(static_cast<std::int64_t>(rng() % units));
  std::int64_t errors = 0;
  for (const test::LayoutSpec& s : test::all_specs(16)) {
    const test::OwnedLayout src = test::make_layout(s, layers, tokens, heads, dim, 3);
    const test::OwnedLayout dst = test::make_layout({}, layers, tokens, heads, dim);
    REQUIRE(src.layout.validate_host_indices().is_ok());
    errors += map_errors(src.layout, dst.layout, selected, range, 0, sample);
  }
  CHECK(errors == 0);
  // The last row of each kind, by hand.
  const TransferLayout nhd{layers, tokens, heads, dim, HeadOrder::kNHD};
  const KvTokenMap t = KvTokenMap::make(nhd, nhd, LayerSet::all(layers), {0, tokens}, 0);
  const KvTokenUnit last = t.at(t.size() - 1);
  CHECK(last.src_offset + (heads - 1) * dim == nhd.pool_elements() - dim);
  CHECK(last.src_offset > (std::int64_t{1} << 32));
  const std::vector<std::int32_t> table = {5, 2};
  const PagePool pool{layers, 1 << 22, 16, heads, dim, HeadOrder::kHND, KvPlacement::kFused};
  const BlockTableLayout bt{pool, table.data(), 2, 20};
  const KvTokenMap p = KvTokenMap::make(bt, nhd, LayerSet::range(79, 80), {17, 18}, 0);
  const KvTokenUnit v = p.at(1);  // layer 79, V, token 17: page 2, slot 1
  const std::int64_t page_elements = 16 * heads * dim;
  CHECK(v.src_offset == ((79 * pool.num_pages + 2) * 2 + 1) * page_elements + 1 * dim);
  CHECK(v.src_offset > (std::int64_t{1} << 40));
}
