// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The order of tokens and heads inside a KV block: NHD or HND.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <string_view>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Order of (token, head) inside a block of tokens; head_dim is always innermost, so one
//! (token, head) row of head_dim elements is contiguous in every layout.
//! - kNHD: [token][kv_head][head_dim] (the projection's output order; vLLM/FlashInfer default)
//! - kHND: [kv_head][token][head_dim]
enum class HeadOrder : std::uint8_t { kNHD = 0, kHND = 1 };

constexpr std::string_view to_string(HeadOrder o) noexcept {
  return o == HeadOrder::kNHD ? "NHD" : "HND";
}

//! Which of the two caches of a layer: keys or values.
enum class KvPart : std::uint8_t { kK = 0, kV = 1 };

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
