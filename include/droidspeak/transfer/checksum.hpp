// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The two hashes of the transfer path: a chunk's checksum (store entries and wire
//! headers carry it) and the hash of a context's token ids (the store's key). No UCX needed.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/plan/compatibility.hpp"  // plan::fingerprint64: the one 64-bit byte hash

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace droidspeak::inline DROIDSPEAK_ABI::transfer {

// NOTE: distinct seeds, so that a checksum never equals a context hash of the same bytes by
// construction (they are compared against each other nowhere, but keys and checksums travel
// side by side in the same wire headers).
inline constexpr std::uint64_t kChecksumSeed = 0x636B73756D5F7631ull;     // "cksum_v1"
inline constexpr std::uint64_t kContextHashSeed = 0x636F6E7465787431ull;  // "context1"

//! The checksum of one chunk's bytes, as stored with a cache-store entry and sent in its wire
//! header. Deterministic across platforms; not cryptographic (it catches corruption, not an
//! adversary). Empty input has a checksum too.
inline std::uint64_t chunk_checksum(std::span<const std::byte> bytes) {
  return plan::fingerprint64(bytes, kChecksumSeed);
}

//! The hash of a context: its token ids `[n]`, each as 4 little-endian bytes, so that the same
//! tokens hash alike on every host. Two contexts share a hash only if they are equal (or
//! collide, with probability about 2^-64).
inline std::uint64_t context_hash(std::span<const std::int32_t> tokens) {
  // Hashed in blocks of 64 tokens (a bounded buffer, no allocation): each block's hash seeds
  // the next.
  std::uint64_t h = kContextHashSeed;
  std::array<std::byte, 4 * 64> block{};
  std::size_t i = 0;
  while (i < tokens.size()) {
    const std::size_t n = tokens.size() - i < 64 ? tokens.size() - i : 64;
    for (std::size_t k = 0; k < n; ++k) {
      const auto v = static_cast<std::uint32_t>(tokens[i + k]);
      for (int b = 0; b < 4; ++b) block[4 * k + static_cast<std::size_t>(b)] = static_cast<std::byte>(v >> (8 * b));
    }
    h = plan::fingerprint64(std::span<const std::byte>(block.data(), 4 * n), h);
    i += n;
  }
  return tokens.empty() ? plan::fingerprint64({}, h) : h;
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::transfer
