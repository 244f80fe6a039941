// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The two hashes of the transfer path: a chunk's checksum (store entries and wire
//! headers carry it) and the hash of a context's token ids (the store's key). No UCX needed.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/simd_level.hpp"
#include "droidspeak/plan/compatibility.hpp"  // plan::fingerprint64: the one 64-bit byte hash

#include <array>
#include <bit>  // std::endian
#include <cstddef>
#include <cstdint>
#include <cstring>  // std::memcpy
#include <span>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer {

// NOTE: distinct seeds, so that a checksum never equals a context hash of the same bytes by
// construction (they are compared against each other nowhere, but keys and checksums travel
// side by side in the same wire headers).
inline constexpr std::uint64_t kChecksumSeed = 0x636B73756D5F7631ull;     // "cksum_v1"
inline constexpr std::uint64_t kContextHashSeed = 0x636F6E7465787431ull;  // "context1"

namespace detail {
//! 8 bytes as a little-endian word, whatever the host's byte order.
inline std::uint64_t load_le64(const std::byte* p) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}
}  // namespace detail

//! The eight lane sums behind chunk_checksum. The sums of a chunk's pieces add up (mod 2^64) to
//! the whole chunk's, which lets a receiver check a chunk piece by piece as the pieces arrive.
struct ChecksumLanes {
  std::uint64_t lane[8] = {};
  ChecksumLanes& operator+=(const ChecksumLanes& other) {
    for (int j = 0; j < 8; ++j) lane[j] += other.lane[j];
    return *this;
  }
};

namespace detail {
// The one loop behind checksum_lanes, inlined into each dispatched copy below so that the
// compiler vectorises it at that copy's width (integer arithmetic: every width gives the same
// sums, bit for bit).
[[gnu::always_inline]] inline ChecksumLanes checksum_lanes_loop(std::span<const std::byte> bytes,
                                                                std::uint64_t first_stripe) {
  constexpr std::uint64_t kLaneKeys[8] = {0x9FB21C651E98DF25ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                                          0x85EBCA77C2B2AE63ull, 0x27D4EB2F165667C5ull, 0x94D049BB133111EBull,
                                          0xBF58476D1CE4E5B9ull, 0x9E3779B97F4A7C15ull};
  ChecksumLanes out;
  const std::size_t stripes = bytes.size() / 64;
  const std::byte* p = bytes.data();
  for (std::size_t s = 0; s < stripes; ++s, p += 64) {
    const std::uint64_t stripe_key = (first_stripe + static_cast<std::uint64_t>(s)) * 0xD6E8FEB86659FD93ull;
    for (int j = 0; j < 8; ++j) {
      const std::uint64_t w = load_le64(p + 8 * j);
      const std::uint64_t x = w ^ (kLaneKeys[j] + stripe_key);
      out.lane[j] += w + (x & 0xFFFFFFFFull) * (x >> 32);
    }
  }
  return out;
}

inline ChecksumLanes checksum_lanes_generic(std::span<const std::byte> bytes, std::uint64_t first_stripe) {
  return checksum_lanes_loop(bytes, first_stripe);
}
#if DROIDSPEAK_HAVE_X86_DISPATCH
DROIDSPEAK_TARGET_AVX2 inline ChecksumLanes checksum_lanes_avx2(std::span<const std::byte> bytes,
                                                                std::uint64_t first_stripe) {
  return checksum_lanes_loop(bytes, first_stripe);
}
DROIDSPEAK_TARGET_AVX512 inline ChecksumLanes checksum_lanes_avx512(std::span<const std::byte> bytes,
                                                                    std::uint64_t first_stripe) {
  return checksum_lanes_loop(bytes, first_stripe);
}
#endif
}  // namespace detail

//! The lane sums over the whole 64-byte stripes of `bytes` `[size]`, a piece of a chunk that
//! starts at the chunk's byte 64 * first_stripe. The last size % 64 bytes are not read (only the
//! chunk's own last partial stripe matters, and finish_checksum reads it). `level` picks the
//! vector width (lowered to what this CPU runs, see runnable_simd_level); every level returns
//! the same sums, bit for bit.
//!
//! NOTE: not plan::fingerprint64 over the whole chunk: that is one multiply chain (about a
//! third of memcpy's speed here), slower than the link it guards. Instead 8 lanes take one word
//! of each 64-byte stripe: the word, keyed by lane and stripe index (so that moving a stripe
//! changes the result), contributes itself plus the product of its two 32-bit halves, which
//! vectorises (pmuludq). With AVX-512 one register holds the 8 lanes of a stripe, and the sum
//! runs about 4x faster than at the generic build's SSE2 width (bench/RESULTS.md): a receiver
//! that checks every byte it fetches then spends a quarter of the CPU time on it.
inline ChecksumLanes checksum_lanes(std::span<const std::byte> bytes, std::uint64_t first_stripe,
                                    SimdLevel level = cpu_simd_level()) {
#if DROIDSPEAK_HAVE_X86_DISPATCH
  switch (runnable_simd_level(level)) {
    case SimdLevel::kAvx512: return detail::checksum_lanes_avx512(bytes, first_stripe);
    case SimdLevel::kAvx2: return detail::checksum_lanes_avx2(bytes, first_stripe);
    case SimdLevel::kGeneric: break;
  }
#else
  (void)level;
#endif
  return detail::checksum_lanes_generic(bytes, first_stripe);
}

//! The checksum of `chunk` `[size]` given the lane sums over all its whole stripes: only its last
//! size % 64 bytes are read. fingerprint64 mixes the lanes, those bytes and the length.
inline std::uint64_t finish_checksum(const ChecksumLanes& lanes, std::span<const std::byte> chunk) {
  std::array<std::byte, 64 + 64> tail{};  // the 8 lanes, then the last bytes (< 64)
  for (int j = 0; j < 8; ++j) {
    for (int b = 0; b < 8; ++b) tail[static_cast<std::size_t>(8 * j + b)] = static_cast<std::byte>(lanes.lane[j] >> (8 * b));
  }
  const std::size_t rest = chunk.size() % 64;
  if (rest != 0) std::memcpy(tail.data() + 64, chunk.data() + (chunk.size() - rest), rest);
  return plan::fingerprint64(std::span<const std::byte>(tail.data(), 64 + rest), kChecksumSeed ^ chunk.size());
}

//! The checksum of one chunk's bytes, as stored with a cache-store entry and sent in its wire
//! header. Deterministic across platforms; not cryptographic (it catches corruption, not an
//! adversary). Empty input has a checksum too.
inline std::uint64_t chunk_checksum(std::span<const std::byte> bytes) {
  return finish_checksum(checksum_lanes(bytes, 0), bytes);
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

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer
