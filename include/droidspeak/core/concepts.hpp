// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Every concept of the library, named for the role its models play.
//!
//! The list:
//! - `KvLayoutLike` (here): a KV cache layout.
//! - `prefill::Engine` (droidspeak/prefill/engine.hpp, next to the layout views it names):
//!   a host inference engine the library drives layer by layer for partial prefill (embed,
//!   run a layer range at explicit positions with optional E capture, expose its whole KV
//!   cache as a layout::KvView, logits). Modelled by reference::Engine.
#pragma once

#include "droidspeak/core/config.hpp"

#include <concepts>
#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

namespace layout {
enum class KvPart : std::uint8_t;
}

//! A KV cache layout: maps (layer, K|V, token, kv_head) to the start of a contiguous row
//! of head_dim elements, in elements from a base pointer; knows the size of its buffer(s)
//! and validates itself.
template <class L>
concept KvLayoutLike = std::copyable<L> && requires(const L l, std::int64_t i, layout::KvPart p) {
  { l.row_offset(i, p, i, i) } -> std::same_as<std::int64_t>;
  { l.pool_elements() } -> std::same_as<std::int64_t>;
  { l.validate() };
  { L::kSeparateKvPools } -> std::convertible_to<bool>;
};

}}  // namespace droidspeak::DROIDSPEAK_ABI
