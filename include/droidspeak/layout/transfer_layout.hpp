// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The contiguous, layer-major transfer layout: what goes over the wire.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/checked_math.hpp"
#include "droidspeak/layout/head_order.hpp"

#include <cstdint>
#include <string>

namespace droidspeak::inline DROIDSPEAK_ABI::layout {

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
  //! Start of the head_dim-long row (layer, part, token, head), in elements from the base.
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t row_offset(std::int64_t layer, KvPart part,
                                                           std::int64_t token,
                                                           std::int64_t head) const {
    const std::int64_t block = layer * 2 + static_cast<std::int64_t>(part);
    return block * num_tokens * num_kv_heads * head_dim +
           block_row_offset(order, token, head, num_tokens, num_kv_heads, head_dim);
  }

  //! Elements from the row of (token, head) to that of (token, head + 1).
  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t head_stride() const {
    return order == HeadOrder::kNHD ? head_dim : num_tokens * head_dim;
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

}  // namespace droidspeak::inline DROIDSPEAK_ABI::layout
