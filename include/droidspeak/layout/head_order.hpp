// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The order of tokens and heads inside a KV block: NHD or HND.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <string_view>

namespace droidspeak::inline DROIDSPEAK_ABI::layout {

//! Order of (token, head) inside a block of tokens; head_dim is always innermost, so one
//! (token, head) row of head_dim elements is contiguous in every layout.
//! - kNHD: [token][kv_head][head_dim] (the projection's output order; vLLM/FlashInfer default)
//! - kHND: [kv_head][token][head_dim]
enum class HeadOrder : std::uint8_t { kNHD = 0, kHND = 1 };

constexpr std::string_view to_string(HeadOrder o) noexcept {
  return o == HeadOrder::kNHD ? "NHD" : "HND";
}

//! Offset of row (token, head) inside a block of `block_tokens` tokens, in elements.
//! Example: kHND, block_tokens 16, num_kv_heads 8, head_dim 128: (3, 2) -> (2*16 + 3)*128.
DROIDSPEAK_HOST_DEVICE constexpr std::int64_t block_row_offset(HeadOrder order, std::int64_t token,
                                                               std::int64_t head,
                                                               std::int64_t block_tokens,
                                                               std::int64_t num_kv_heads,
                                                               std::int64_t head_dim) {
  return order == HeadOrder::kNHD ? (token * num_kv_heads + head) * head_dim
                                  : (head * block_tokens + token) * head_dim;
}

//! Which of the two caches of a layer: keys or values.
enum class KvPart : std::uint8_t { kK = 0, kV = 1 };

}  // namespace droidspeak::inline DROIDSPEAK_ABI::layout
