// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The contiguous, layer-major transfer layout: what goes over the wire.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/checked_math.hpp"
#include "droidspeak/layout/head_order.hpp"
#include "droidspeak/layout/kv_addressing.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! One buffer holding every layer's K and V, layer-major so a prefix of layers is a
//! prefix of the buffer (layer-wise streaming sends it in order):
//! - kNHD: [num_layers][2 (K|V)][num_tokens][num_kv_heads][head_dim]
//! - kHND: [num_layers][2 (K|V)][num_kv_heads][num_tokens][head_dim]
//! Example (kNHD, 2 layers, 3 tokens, 2 heads, head_dim 4): shape (2,2,3,2,4) : stride
//! (48,24,8,4,1); row (layer 1, V, token 2, head 1) starts at 48 + 24 + 16 + 4 = 92.
struct TransferLayout {
  std::int64_t num_layers = 0;
  std::int64_t num_tokens = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  HeadOrder order = HeadOrder::kNHD;

  static constexpr bool kSeparateKvPools = false;

  //! Elements of the whole buffer. Precondition: validate() succeeded.
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t pool_elements() const {
    return num_layers * 2 * num_tokens * num_kv_heads * head_dim;
  }
  //! Extents and strides: one block of num_tokens x num_kv_heads rows per (layer, K|V).
  DROIDSPEAK_HOST_DEVICE constexpr KvAddressing addressing() const {
    KvAddressing a;
    a.num_layers = num_layers;
    a.num_tokens = num_tokens;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.pool_elements = pool_elements();
    a.strides = RowStrides::of_block(order, num_tokens, num_kv_heads, head_dim);
    a.strides.part = num_tokens * num_kv_heads * head_dim;
    a.strides.layer = 2 * a.strides.part;
    return a;
  }
  //! Start of the head_dim-long row (layer, part, token, head), in elements from the base.
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                           std::int64_t token,
                                                           std::int64_t head) const {
    return addressing().strides.offset(layer, part, 0, token, head);
  }

  //! Elements from the row of (token, head) to that of (token, head + 1).
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t head_stride() const {
    return addressing().strides.head;
  }

  //! Extents are non-negative, heads and head_dim positive, and the buffer size fits int64.
  Status validate() const {
    if (num_layers < 0 || num_tokens < 0 || num_kv_heads <= 0 || head_dim <= 0) {
      return Status::invalid_argument(
          "transfer layout: need num_layers >= 0, num_tokens >= 0, num_kv_heads > 0, head_dim > 0; "
          "got " + std::to_string(num_layers) + ", " + std::to_string(num_tokens) + ", " +
          std::to_string(num_kv_heads) + ", " + std::to_string(head_dim));
    }
    std::int64_t n = 0;
    if (!checked_product({num_layers, 2, num_tokens, num_kv_heads, head_dim}, n)) {
      return Status::invalid_argument("transfer layout: size overflows 64 bits");
    }
    return Status::ok();
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
