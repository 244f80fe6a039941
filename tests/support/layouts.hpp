// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Test helpers: KV layouts of every kind with the index arrays they point to.
#pragma once

#include "droidspeak/layout/any_layout.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace droidspeak::test {

//! Which layout to build; page_size is ignored for the transfer layout.
struct LayoutSpec {
  layout::LayoutKind kind = layout::LayoutKind::kTransfer;
  layout::HeadOrder order = layout::HeadOrder::kNHD;
  layout::KvPlacement placement = layout::KvPlacement::kSplit;
  std::int64_t page_size = 16;

  std::string name() const {
    std::string n = kind == layout::LayoutKind::kTransfer     ? "transfer"
                    : kind == layout::LayoutKind::kBlockTable ? "block-table"
                                                              : "csr";
    n += std::string(" ") + std::string(layout::to_string(order));
    if (kind != layout::LayoutKind::kTransfer) {
      n += placement == layout::KvPlacement::kSplit ? " split" : " fused";
      n += " page " + std::to_string(page_size);
    }
    return n;
  }
};

//! A layout and the index arrays it points into (move-only: moving keeps the pointers
//! valid because vectors move their buffers).
struct OwnedLayout {
  layout::KvLayout layout;
  std::vector<std::int32_t> block_table, indptr, indices, last_page_len;
  std::int64_t used_pages = 0;

  OwnedLayout() = default;
  OwnedLayout(OwnedLayout&&) = default;
  OwnedLayout& operator=(OwnedLayout&&) = default;
  OwnedLayout(const OwnedLayout&) = delete;
};

//! Builds `spec` for the given shape. Paged layouts get a shuffled page assignment with
//! unused pages in the pool (and, for CSR, two other requests around the one viewed).
inline OwnedLayout make_layout(const LayoutSpec& spec, std::int64_t num_layers,
                               std::int64_t num_tokens, std::int64_t num_kv_heads,
                               std::int64_t head_dim, std::uint64_t seed = 1) {
  OwnedLayout out;
  if (spec.kind == layout::LayoutKind::kTransfer) {
    out.layout = layout::TransferLayout{num_layers, num_tokens, num_kv_heads, head_dim, spec.order};
    return out;
  }
  const std::int64_t ps = spec.page_size;
  const std::int64_t pages = (num_tokens + ps - 1) / ps;
  out.used_pages = pages;
  const std::int64_t others = spec.kind == layout::LayoutKind::kCsr ? 2 + 3 : 0;
  const std::int64_t pool_pages = pages + others + 2;  // 2 never used
  std::vector<std::int32_t> perm(static_cast<std::size_t>(pool_pages));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(seed));
  const layout::PagePool pool{num_layers, pool_pages, ps, num_kv_heads, head_dim, spec.order,
                              spec.placement};
  if (spec.kind == layout::LayoutKind::kBlockTable) {
    out.block_table.assign(perm.begin(), perm.begin() + pages);
    out.block_table.push_back(-7);  // past the needed blocks: must never be read
    out.layout = layout::BlockTableLayout{pool, out.block_table.data(),
                                          static_cast<std::int64_t>(out.block_table.size()),
                                          num_tokens};
    return out;
  }
  // CSR batch: request 0 has 2 pages, request 1 (the one viewed) `pages`, request 2 has 3.
  out.indptr = {0, 2, static_cast<std::int32_t>(2 + pages), static_cast<std::int32_t>(5 + pages)};
  out.indices.assign(perm.begin(), perm.begin() + 5 + pages);
  std::rotate(out.indices.begin(), out.indices.begin() + 3, out.indices.end());
  const std::int32_t last = num_tokens == 0 ? 1 : static_cast<std::int32_t>(num_tokens - (pages - 1) * ps);
  out.last_page_len = {static_cast<std::int32_t>(ps), last, 1};
  out.layout = layout::CsrPageLayout{pool, out.indptr.data(), out.indices.data(),
                                     out.last_page_len.data(), 3, 1, num_tokens};
  return out;
}

//! Every layout kind with both head orders and (paged) both placements at `page_size`.
inline std::vector<LayoutSpec> all_specs(std::int64_t page_size) {
  using layout::HeadOrder;
  using layout::KvPlacement;
  using layout::LayoutKind;
  std::vector<LayoutSpec> specs;
  for (HeadOrder o : {HeadOrder::kNHD, HeadOrder::kHND}) {
    specs.push_back({LayoutKind::kTransfer, o, KvPlacement::kSplit, page_size});
    for (LayoutKind k : {LayoutKind::kBlockTable, LayoutKind::kCsr}) {
      for (KvPlacement p : {KvPlacement::kSplit, KvPlacement::kFused}) {
        specs.push_back({k, o, p, page_size});
      }
    }
  }
  return specs;
}

}  // namespace droidspeak::test

#include "droidspeak/layout/view.hpp"
#include "support/test_data.hpp"

namespace droidspeak::test {

//! A KV cache in host memory: a layout, its buffer(s) (one, or K and V pools) and a view.
struct OwnedCache {
  OwnedLayout owned;
  DType dtype = DType::kF32;
  std::vector<std::byte> k, v;  // v is empty when the layout has one base

  layout::KvView view() {
    std::byte* vb = owned.layout.two_bases() ? v.data() : k.data();
    return layout::KvView(k.data(), vb, dtype, owned.layout);
  }
  layout::ConstKvView cview() { return view(); }
};

//! A cache of `spec`'s layout, filled with random data (`seed`) or poison (seed 0).
inline OwnedCache make_cache(const LayoutSpec& spec, DType dtype, std::int64_t num_layers,
                             std::int64_t num_tokens, std::int64_t num_kv_heads,
                             std::int64_t head_dim, std::uint64_t seed) {
  OwnedCache c;
  c.owned = make_layout(spec, num_layers, num_tokens, num_kv_heads, head_dim, seed + 17);
  c.dtype = dtype;
  const std::int64_t n = c.owned.layout.pool_elements();
  c.k = seed == 0 ? poisoned(n * dtype_size(dtype)) : random_bytes(dtype, n, seed);
  if (c.owned.layout.two_bases()) {
    c.v = seed == 0 ? poisoned(n * dtype_size(dtype)) : random_bytes(dtype, n, seed * 31 + 5);
  }
  return c;
}

}  // namespace droidspeak::test
