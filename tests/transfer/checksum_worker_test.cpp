// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/transfer/checksum_worker.hpp"

#include "droidspeak/transfer/chunk_pieces.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using namespace droidspeak::transfer;

TEST_CASE("the worker's lanes over a chunk's pieces give the chunk's checksum, chunk after chunk") {
  ChecksumWorker worker;
  for (std::size_t n : {std::size_t{5} * kPieceMinBytes + 45, std::size_t{12} << 20, std::size_t{64}}) {
    std::vector<std::byte> chunk(n);
    for (std::size_t i = 0; i < n; ++i) chunk[i] = static_cast<std::byte>((i * 29 + n) & 0xFF);
    const PieceSplit split(n);
    // Submitted out of order: the lanes add up whatever order the pieces arrive in.
    for (std::size_t k = split.count; k-- > 0;) worker.submit(split.piece(std::span<const std::byte>(chunk), k), split.first_stripe(k));
    CHECK_MESSAGE(finish_checksum(worker.collect(), chunk) == chunk_checksum(chunk), n);
  }
  // collect() with nothing submitted is the empty sum, and a flipped byte changes the result.
  std::vector<std::byte> chunk(3 * kPieceMinBytes);
  const PieceSplit split(chunk.size());
  CHECK(finish_checksum(worker.collect(), std::span<const std::byte>()) == chunk_checksum({}));
  chunk[2 * kPieceMinBytes + 7] = std::byte{1};
  for (std::size_t k = 0; k < split.count; ++k) worker.submit(split.piece(std::span<const std::byte>(chunk), k), split.first_stripe(k));
  const std::uint64_t flipped = finish_checksum(worker.collect(), chunk);
  CHECK(flipped == chunk_checksum(chunk));
  chunk[2 * kPieceMinBytes + 7] = std::byte{0};
  CHECK(flipped != chunk_checksum(chunk));
}
