// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/transfer/chunk_pieces.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using namespace droidspeak::transfer;

TEST_CASE("a chunk's pieces cover it in order, start on 64-byte stripes and stay within the limits") {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, kPieceMinBytes - 1, kPieceMinBytes,
                        kPieceMinBytes + 17, 3 * kPieceMinBytes + 5, kMaxPieces * kPieceMinBytes,
                        std::size_t{16} << 20, (std::size_t{64} << 20) + 33}) {
    const PieceSplit split(n);
    std::vector<std::byte> chunk(n);
    const std::span<std::byte> all(chunk);
    CHECK_MESSAGE(split.count >= 1, n);
    CHECK_MESSAGE(split.count <= kMaxPieces, n);
    std::size_t covered = 0;
    for (std::size_t i = 0; i < split.count; ++i) {
      const std::span<std::byte> p = split.piece(all, i);
      CHECK_MESSAGE(p.data() == chunk.data() + covered, n << " piece " << i);
      CHECK_MESSAGE(covered % 64 == 0, n << " piece " << i);
      CHECK_MESSAGE(split.first_stripe(i) * 64 == covered, n << " piece " << i);
      // Only a chunk's last piece (or a chunk of one piece) is shorter than the minimum.
      if (i + 1 < split.count) CHECK_MESSAGE(p.size() >= kPieceMinBytes, n << " piece " << i);
      if (n > 0) CHECK_MESSAGE(!p.empty(), n << " piece " << i);
      covered += p.size();
    }
    CHECK_MESSAGE(covered == n, n);
  }
  CHECK(PieceSplit(kPieceMinBytes).count == 1);
  CHECK(PieceSplit(kPieceMinBytes + 1).count == 2);
  CHECK(PieceSplit(std::size_t{16} << 20).count == kMaxPieces);
}
