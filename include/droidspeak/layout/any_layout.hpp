// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `KvLayout`: any of the KV layouts behind one value type, so one host loop or one
//! kernel moves data between any pair of them.
#pragma once

#include "droidspeak/core/concepts.hpp"
#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/kv_addressing.hpp"
#include "droidspeak/layout/paged_layout.hpp"
#include "droidspeak/layout/transfer_layout.hpp"

#include <cstdint>
#include <string>
#include <type_traits>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

enum class LayoutKind : std::uint8_t { kTransfer = 0, kBlockTable = 1, kCsr = 2 };

//! A KV layout of any kind. Trivially copyable (kernels take it by value); the members of
//! the kinds not selected are ignored. Every (layer, part, token, head) maps to one
//! contiguous row of head_dim elements, so converting between layouts never transposes.
struct KvLayout {
  LayoutKind kind = LayoutKind::kTransfer;
  TransferLayout transfer{};
  BlockTableLayout block_table{};
  CsrPageLayout csr{};

  KvLayout() = default;
  KvLayout(const TransferLayout& l) : kind(LayoutKind::kTransfer), transfer(l) {}  // NOLINT
  KvLayout(const BlockTableLayout& l) : kind(LayoutKind::kBlockTable), block_table(l) {}  // NOLINT
  KvLayout(const CsrPageLayout& l) : kind(LayoutKind::kCsr), csr(l) {}  // NOLINT

  //! Extents, strides and page lookup of the selected layout: the one place that looks at
  //! `kind` for addressing. Cheap (a few multiplies, no index read), so the accessors below
  //! call it each time instead of caching a table that edits of the members would outdate;
  //! kernels call it once on the host and pass the table.
  DROIDSPEAK_HOST_DEVICE KvAddressing addressing() const {
    switch (kind) {
      case LayoutKind::kBlockTable: return block_table.addressing();
      case LayoutKind::kCsr: return csr.addressing();
      case LayoutKind::kTransfer: break;
    }
    return transfer.addressing();
  }

  DROIDSPEAK_HOST_DEVICE std::int64_t num_layers() const { return addressing().num_layers; }
  DROIDSPEAK_HOST_DEVICE std::int64_t num_tokens() const { return addressing().num_tokens; }
  DROIDSPEAK_HOST_DEVICE std::int64_t num_kv_heads() const { return addressing().num_kv_heads; }
  DROIDSPEAK_HOST_DEVICE std::int64_t head_dim() const { return addressing().head_dim; }
  //! Elements of each base buffer a view of this layout points to.
  DROIDSPEAK_HOST_DEVICE std::int64_t pool_elements() const { return addressing().pool_elements; }
  //! True when K rows are offsets from the K base and V rows from the V base (paged split
  //! pools); false when both are offsets from one base.
  DROIDSPEAK_HOST_DEVICE bool two_bases() const { return addressing().two_bases; }
  //! Row start in elements from the part's base; -1 when a page index is out of the pool.
  DROIDSPEAK_HOST_DEVICE std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                 std::int64_t token, std::int64_t head) const {
    return addressing().row_offset(layer, part, token, head);
  }
  //! Elements from the row of (token, head) to that of (token, head + 1): the same for every
  //! token of a layout, so a token's rows are base + h * head_stride().
  DROIDSPEAK_HOST_DEVICE std::int64_t head_stride() const { return addressing().strides.head; }

  //! Checks the selected layout's shape (index arrays are not read).
  Status validate() const {
    switch (kind) {
      case LayoutKind::kTransfer: return transfer.validate();
      case LayoutKind::kBlockTable: return block_table.validate();
      case LayoutKind::kCsr: return csr.validate();
    }
    return Status::invalid_argument("kv layout: unknown layout kind");
  }
  //! validate() plus the contents of index arrays, which must be host memory.
  Status validate_host_indices() const {
    switch (kind) {
      case LayoutKind::kTransfer: return transfer.validate();
      case LayoutKind::kBlockTable: return block_table.validate_host_indices();
      case LayoutKind::kCsr: return csr.validate_host_indices();
    }
    return Status::invalid_argument("kv layout: unknown layout kind");
  }

  //! "transfer NHD [12 layers, 100 tokens, 2 kv heads, head_dim 48]".
  std::string describe() const {
    std::string name;
    HeadOrder order = HeadOrder::kNHD;
    switch (kind) {
      case LayoutKind::kTransfer: name = "transfer"; order = transfer.order; break;
      case LayoutKind::kBlockTable:
        name = block_table.pool.placement == KvPlacement::kSplit ? "block-table split"
                                                                  : "block-table fused";
        order = block_table.pool.order;
        break;
      case LayoutKind::kCsr:
        name = csr.pool.placement == KvPlacement::kSplit ? "csr split" : "csr fused";
        order = csr.pool.order;
        break;
    }
    return name + " " + std::string(to_string(order)) + " [" + std::to_string(num_layers()) +
           " layers, " + std::to_string(num_tokens()) + " tokens, " +
           std::to_string(num_kv_heads()) + " kv heads, head_dim " + std::to_string(head_dim()) +
           "]";
  }
};

static_assert(std::is_trivially_copyable_v<KvAddressing>);
static_assert(std::is_trivially_copyable_v<KvLayout>);  // kernels take it by value
static_assert(KvLayoutLike<TransferLayout>);
static_assert(KvLayoutLike<BlockTableLayout>);
static_assert(KvLayoutLike<CsrPageLayout>);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
