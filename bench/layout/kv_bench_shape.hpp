// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The cache shape of the host and GPU layout benchmarks (Llama-3-8B-like: 32 layers,
//! 8 KV heads of 128, bf16, page 16) and the engine-like page order both use.
#pragma once

#include "droidspeak/layout/paged_layout.hpp"
#include "droidspeak/layout/transfer_layout.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace droidspeak::bench {

inline constexpr std::int64_t kLayers = 32;
inline constexpr std::int64_t kHeads = 8;
inline constexpr std::int64_t kHeadDim = 128;
inline constexpr std::int64_t kPage = 16;
inline constexpr std::int64_t kBytesPerToken = kLayers * 2 * kHeads * kHeadDim * 2;  // bf16, K and V

//! Tokens of a cache of `mib` MiB, and the pages they fill.
inline std::int64_t tokens_of(std::int64_t mib) { return mib * (1 << 20) / kBytesPerToken; }
inline std::int64_t pages_of(std::int64_t tokens) { return (tokens + kPage - 1) / kPage; }

//! A block table of `pages` pages in shuffled order: engine pages are scattered.
inline std::vector<std::int32_t> shuffled_table(std::int64_t pages) {
  std::vector<std::int32_t> table(static_cast<std::size_t>(pages));
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(1));
  return table;
}

//! The paged layout (split K/V pools, NHD) over `table` and the transfer layout of the
//! same tokens.
inline layout::BlockTableLayout paged_layout(const std::int32_t* table, std::int64_t tokens) {
  const std::int64_t pages = pages_of(tokens);
  return {layout::PagePool{kLayers, pages, kPage, kHeads, kHeadDim, layout::HeadOrder::kNHD,
                           layout::KvPlacement::kSplit},
          table, pages, tokens};
}
inline layout::TransferLayout transfer_layout(std::int64_t tokens) {
  return {kLayers, tokens, kHeads, kHeadDim, layout::HeadOrder::kNHD};
}

}  // namespace droidspeak::bench
