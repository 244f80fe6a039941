// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `KvAddressing`: every KV layout as one table of extents and strides plus an
//! optional page lookup (FlashInfer's paged_kv_t keeps the same table). The row-offset math
//! of every layout lives here once; kernels compute the table on the host and take it by
//! value, so a thread does one page lookup per (layer, K|V, token) and steps heads by
//! `strides.head`.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/layout/head_order.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Elements between neighbouring rows along each index of a layout. A row (layer, part,
//! page, slot, head) starts at layer*layer + part*part + page*page + slot*slot + head*head
//! elements from its base. `part` is 0 when K and V have separate bases.
struct RowStrides {
  std::int64_t layer = 0;
  std::int64_t part = 0;
  std::int64_t page = 0;  //!< 0 for an unpaged (transfer) layout: its one "page" is page 0
  std::int64_t slot = 0;  //!< token within the page (within the layer for transfer)
  std::int64_t head = 0;

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t offset(std::int64_t l, KvPart p, std::int64_t pg,
                                                       std::int64_t s, std::int64_t h) const {
    return l * layer + static_cast<std::int64_t>(p) * part + pg * page + s * slot + h * head;
  }

  //! Strides of blocks of `block_tokens` tokens x `num_kv_heads` rows of `head_dim` in `order`
  //! (slot and head only); the caller fills layer, part and page.
  static DROIDSPEAK_HOST_DEVICE constexpr RowStrides of_block(HeadOrder order,
                                                              std::int64_t block_tokens,
                                                              std::int64_t num_kv_heads,
                                                              std::int64_t head_dim) {
    RowStrides s;
    s.slot = order == HeadOrder::kNHD ? num_kv_heads * head_dim : head_dim;
    s.head = order == HeadOrder::kNHD ? head_dim : block_tokens * head_dim;
    return s;
  }
};

//! Reads an index-array entry: through the read-only data cache on the device (the arrays
//! never change during a kernel), a plain load on the host.
DROIDSPEAK_HOST_DEVICE std::int32_t read_index(const std::int32_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

//! Divides with the `/` and `%` operators; a fast divider (layout/fast_divmod.hpp) models
//! the same `divmod`, so the page lookup below is written once for both.
struct PlainDivmod {
  std::int64_t divisor = 1;
  DROIDSPEAK_HOST_DEVICE constexpr void divmod(std::int64_t n, std::int64_t& q,
                                               std::int64_t& r) const {
    q = n / divisor;
    r = n % divisor;
  }
};

//! A layout's extents, strides and page lookup. Index arrays are read only by
//! token_offset(), so the table can be built on the host for device index arrays.
struct KvAddressing {
  std::int64_t num_layers = 0;
  std::int64_t num_tokens = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t pool_elements = 0;  //!< elements of each base buffer
  bool two_bases = false;          //!< K rows from the K base, V rows from the V base
  RowStrides strides{};
  //! Paged layouts: tokens per page, pages in the pool, and the page list: token t lives in
  //! page `pages[first + t / page_size]` with `first` = `*first_page` (CSR: &indptr[request])
  //! or 0 (block table: first_page == nullptr). page_size == 0: unpaged, slot = token.
  std::int64_t page_size = 0;
  std::int64_t num_pages = 0;
  const std::int32_t* pages = nullptr;
  const std::int32_t* first_page = nullptr;

  //! Offset of row (layer, part, token, head 0), or -1 when the page list names a page
  //! outside the pool. `div` divides by page_size (PlainDivmod or a fast divider); unused
  //! for unpaged layouts.
  template <class Divider>
  DROIDSPEAK_HOST_DEVICE std::int64_t token_offset(std::int64_t layer, KvPart part,
                                                   std::int64_t token, const Divider& div) const {
    if (page_size == 0) return strides.offset(layer, part, 0, token, 0);
    std::int64_t block = 0;
    std::int64_t slot = 0;
    div.divmod(token, block, slot);
    const std::int64_t first = first_page == nullptr ? 0 : read_index(first_page);
    const std::int64_t page = read_index(pages + first + block);
    if (page < 0 || page >= num_pages) return -1;
    return strides.offset(layer, part, page, slot, 0);
  }
  DROIDSPEAK_HOST_DEVICE std::int64_t token_offset(std::int64_t layer, KvPart part,
                                                   std::int64_t token) const {
    return token_offset(layer, part, token, PlainDivmod{page_size});
  }
  //! Row start in elements from the part's base; -1 when the page is outside the pool.
  DROIDSPEAK_HOST_DEVICE std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                 std::int64_t token, std::int64_t head) const {
    const std::int64_t t = token_offset(layer, part, token);
    return t < 0 ? -1 : t + head * strides.head;
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
