// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file How a chunk's bytes travel: as up to kMaxPieces pieces, so that the receiver checks one
//! piece while the next arrives. Both ends derive the split from the chunk's length alone (the
//! wire header carries it), so it is part of the wire format. No UCX needed.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer {

//! A piece is never smaller than this (unless it is a whole chunk): below it, the handshake of
//! one more rendezvous costs more than the overlap gains.
inline constexpr std::size_t kPieceMinBytes = std::size_t{1} << 20;
//! A chunk travels in at most this many pieces (the wire tag has 8 bits for the piece index).
inline constexpr std::size_t kMaxPieces = 8;

//! The split of a chunk of `chunk_bytes`: `count` pieces of `piece_bytes` (the last one shorter),
//! each starting at a multiple of 64 bytes, so that checksum_lanes adds up across them. An
//! empty chunk is one empty piece.
struct PieceSplit {
  std::size_t chunk_bytes = 0;
  std::size_t piece_bytes = 0;
  std::size_t count = 1;

  explicit PieceSplit(std::size_t bytes) : chunk_bytes(bytes) {
    const std::size_t even = (bytes + kMaxPieces - 1) / kMaxPieces;
    const std::size_t aligned = (even + 63) / 64 * 64;
    piece_bytes = aligned < kPieceMinBytes ? kPieceMinBytes : aligned;
    count = bytes <= piece_bytes ? 1 : (bytes + piece_bytes - 1) / piece_bytes;
  }
  //! Piece `i` (< count) of `chunk` `[chunk_bytes]`.
  template <class Byte>
  std::span<Byte> piece(std::span<Byte> chunk, std::size_t i) const {
    const std::size_t begin = i * piece_bytes;
    const std::size_t end = begin + piece_bytes < chunk.size() ? begin + piece_bytes : chunk.size();
    return chunk.subspan(begin, end - begin);
  }
  //! The index of piece i's first 64-byte stripe within the chunk.
  std::uint64_t first_stripe(std::size_t i) const { return static_cast<std::uint64_t>(i * piece_bytes / 64); }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer
