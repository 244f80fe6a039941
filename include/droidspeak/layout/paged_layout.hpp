// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Paged KV layouts as engines hold them: a page pool addressed through a vLLM-style
//! block table or a FlashInfer-style CSR page list.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/checked_math.hpp"
#include "droidspeak/layout/head_order.hpp"
#include "droidspeak/layout/kv_addressing.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Where K and V pages live.
//! - kSplit: two pools (K and V), each [num_layers][num_pages][page] (vLLM's key/value caches).
//! - kFused: one pool [num_layers][num_pages][2 (K|V)][page] (FlashInfer's (pages, 2, ...)).
//! A page is [page_size][num_kv_heads][head_dim] (kNHD) or [num_kv_heads][page_size][head_dim]
//! (kHND).
enum class KvPlacement : std::uint8_t { kSplit = 0, kFused = 1 };

//! The physical page pool of every layer, without any page index.
//! Example (kFused, kNHD, 2 layers, 5 pages, page_size 16, 8 heads, head_dim 128): shape
//! (2,5,2,16,8,128) : stride (163840,32768,16384,1024,128,1).
struct PagePool {
  std::int64_t num_layers = 0;
  std::int64_t num_pages = 0;
  std::int64_t page_size = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  HeadOrder order = HeadOrder::kNHD;
  KvPlacement placement = KvPlacement::kSplit;

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t page_elements() const {
    return page_size * num_kv_heads * head_dim;
  }
  //! Elements of one pool buffer (each of the two with kSplit, the only one with kFused).
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t pool_elements() const {
    return num_layers * num_pages * (placement == KvPlacement::kFused ? 2 : 1) * page_elements();
  }
  //! Extents and strides of the pool, without a page list (pages == nullptr).
  //! kSplit: page p of layer l is page l * num_pages + p of its part's pool; kFused: the K
  //! and V halves of pool page l * num_pages + p are pages 2 (l * num_pages + p) + part.
  DROIDSPEAK_HOST_DEVICE constexpr KvAddressing addressing() const {
    KvAddressing a;
    a.num_layers = num_layers;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.pool_elements = pool_elements();
    a.two_bases = placement == KvPlacement::kSplit;
    a.page_size = page_size;
    a.num_pages = num_pages;
    a.strides = RowStrides::of_block(order, page_size, num_kv_heads, head_dim);
    const std::int64_t parts = placement == KvPlacement::kFused ? 2 : 1;
    a.strides.part = placement == KvPlacement::kFused ? page_elements() : 0;
    a.strides.page = parts * page_elements();
    a.strides.layer = num_pages * a.strides.page;
    return a;
  }
  //! Row (layer, part, page, slot-in-page, head), in elements from its pool's base.
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                           std::int64_t page, std::int64_t slot,
                                                           std::int64_t head) const {
    return addressing().strides.offset(layer, part, page, slot, head);
  }

  //! Elements from the row of (token, head) to that of (token, head + 1).
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t head_stride() const {
    return addressing().strides.head;
  }

  Status validate() const {
    if (num_layers < 0 || num_pages < 0 || page_size <= 0 || num_kv_heads <= 0 || head_dim <= 0) {
      return Status::invalid_argument(
          "page pool: need num_layers >= 0, num_pages >= 0 and positive page_size, num_kv_heads, "
          "head_dim; got " + std::to_string(num_layers) + ", " + std::to_string(num_pages) + ", " +
          std::to_string(page_size) + ", " + std::to_string(num_kv_heads) + ", " +
          std::to_string(head_dim));
    }
    std::int64_t n = 0;
    if (!checked_product({num_layers, num_pages, 2, page_size, num_kv_heads, head_dim}, n)) {
      return Status::invalid_argument("page pool: size overflows 64 bits");
    }
    if (num_pages > INT32_MAX) {
      return Status::invalid_argument("page pool: num_pages exceeds the int32 page index range");
    }
    return Status::ok();
  }
};

//! One sequence's pages through a vLLM-style block table: token t lives in page
//! `block_table[t / page_size]`, slot `t % page_size`.
//! `block_table` [num_blocks] int32, host or device memory as the primitive using it needs;
//! it must hold at least ceil(num_tokens / page_size) entries.
struct BlockTableLayout {
  PagePool pool;
  const std::int32_t* block_table = nullptr;
  std::int64_t num_blocks = 0;
  std::int64_t num_tokens = 0;

  static constexpr bool kSeparateKvPools = true;  // with kFused both bases are the same pool

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t num_layers() const { return pool.num_layers; }
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t pool_elements() const {
    return pool.pool_elements();
  }
  //! The pool's table with this sequence's tokens and block table.
  DROIDSPEAK_HOST_DEVICE constexpr KvAddressing addressing() const {
    KvAddressing a = pool.addressing();
    a.num_tokens = num_tokens;
    a.pages = block_table;
    return a;
  }
  //! Row start in elements from its pool's base, or -1 when the table names a page outside
  //! the pool (device code skips such rows; host primitives reject them beforehand).
  DROIDSPEAK_HOST_DEVICE std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                 std::int64_t token, std::int64_t head) const {
    return addressing().row_offset(layer, part, token, head);
  }

  //! Checks the pool and that the table covers num_tokens.
  Status validate() const {
    DROIDSPEAK_TRY(pool.validate().with_context("block table layout"));
    if (num_tokens < 0 || num_blocks < 0) {
      return Status::invalid_argument("block table layout: negative num_tokens or num_blocks");
    }
    const std::int64_t needed = (num_tokens + pool.page_size - 1) / pool.page_size;
    if (needed > num_blocks) {
      return Status::out_of_range("block table layout: " + std::to_string(num_tokens) +
                                  " tokens need " + std::to_string(needed) +
                                  " blocks but the table has " + std::to_string(num_blocks));
    }
    if (needed > 0 && block_table == nullptr) {
      return Status::invalid_argument("block table layout: block_table is null");
    }
    return Status::ok();
  }

  //! validate() plus every used table entry in [0, num_pages). `block_table` must be host memory.
  Status validate_host_indices() const {
    DROIDSPEAK_TRY(validate());
    const std::int64_t needed = (num_tokens + pool.page_size - 1) / pool.page_size;
    for (std::int64_t b = 0; b < needed; ++b) {
      if (block_table[b] < 0 || block_table[b] >= pool.num_pages) {
        return Status::out_of_range("block table layout: block_table[" + std::to_string(b) +
                                    "] = " + std::to_string(block_table[b]) + " outside [0, " +
                                    std::to_string(pool.num_pages) + ")");
      }
    }
    return Status::ok();
  }
};

//! One request's pages through a FlashInfer-style CSR page list over a batch: the request's
//! pages are `indices[indptr[request] .. indptr[request + 1])`, its last page holds
//! `last_page_len[request]` tokens (1..page_size).
//! `indptr` [batch_size + 1], `indices` [indptr[batch_size]], `last_page_len` [batch_size],
//! all int32. `num_tokens` must equal (pages - 1) * page_size + last_page_len[request]
//! (checked by validate_host_indices; device code trusts it, see csr_num_tokens()).
struct CsrPageLayout {
  PagePool pool;
  const std::int32_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
  const std::int32_t* last_page_len = nullptr;
  std::int64_t batch_size = 0;
  std::int64_t request = 0;
  std::int64_t num_tokens = 0;

  static constexpr bool kSeparateKvPools = true;

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t num_layers() const { return pool.num_layers; }
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t pool_elements() const {
    return pool.pool_elements();
  }
  //! The pool's table with this request's tokens and page list (read at &indptr[request]).
  DROIDSPEAK_HOST_DEVICE constexpr KvAddressing addressing() const {
    KvAddressing a = pool.addressing();
    a.num_tokens = num_tokens;
    a.pages = indices;
    a.first_page = indptr == nullptr ? nullptr : indptr + request;
    return a;
  }
  //! Row start in elements from its pool's base, or -1 for a page outside the pool.
  DROIDSPEAK_HOST_DEVICE std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                 std::int64_t token, std::int64_t head) const {
    return addressing().row_offset(layer, part, token, head);
  }

  Status validate() const {
    DROIDSPEAK_TRY(pool.validate().with_context("csr page layout"));
    if (batch_size <= 0 || request < 0 || request >= batch_size) {
      return Status::out_of_range("csr page layout: request " + std::to_string(request) +
                                  " outside a batch of " + std::to_string(batch_size));
    }
    if (num_tokens < 0) return Status::invalid_argument("csr page layout: negative num_tokens");
    if (indptr == nullptr || indices == nullptr || last_page_len == nullptr) {
      return Status::invalid_argument("csr page layout: indptr, indices and last_page_len are required");
    }
    return Status::ok();
  }

  //! validate() plus the CSR structure of the request: indptr non-decreasing, pages in
  //! range, last_page_len in [1, page_size] and the token count matching. Host memory only.
  Status validate_host_indices() const {
    DROIDSPEAK_TRY(validate());
    if (indptr[0] != 0) return Status::invalid_argument("csr page layout: indptr[0] must be 0");
    for (std::int64_t b = 0; b < batch_size; ++b) {
      if (indptr[b + 1] < indptr[b]) {
        return Status::invalid_argument("csr page layout: indptr decreases at " + std::to_string(b));
      }
    }
    const std::int64_t begin = indptr[request];
    const std::int64_t pages = indptr[request + 1] - begin;
    const std::int64_t len = last_page_len[request];
    const std::int64_t tokens = pages == 0 ? 0 : (pages - 1) * pool.page_size + len;
    if (pages > 0 && (len < 1 || len > pool.page_size)) {
      return Status::out_of_range("csr page layout: last_page_len[" + std::to_string(request) +
                                  "] = " + std::to_string(len) + " outside [1, " +
                                  std::to_string(pool.page_size) + "]");
    }
    if (tokens != num_tokens) {
      return Status::invalid_argument("csr page layout: request " + std::to_string(request) +
                                      " holds " + std::to_string(tokens) +
                                      " tokens but num_tokens is " + std::to_string(num_tokens));
    }
    for (std::int64_t i = begin; i < begin + pages; ++i) {
      if (indices[i] < 0 || indices[i] >= pool.num_pages) {
        return Status::out_of_range("csr page layout: indices[" + std::to_string(i) + "] = " +
                                    std::to_string(indices[i]) + " outside [0, " +
                                    std::to_string(pool.num_pages) + ")");
      }
    }
    return Status::ok();
  }
};

//! Tokens held by `request` of a host CSR page list: (pages - 1) * page_size + last_page_len.
inline std::int64_t csr_num_tokens(const std::int32_t* indptr, const std::int32_t* last_page_len,
                                   std::int64_t request, std::int64_t page_size) {
  const std::int64_t pages = indptr[request + 1] - indptr[request];
  return pages == 0 ? 0 : (pages - 1) * page_size + last_page_len[request];
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
