// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/transfer/checksum.hpp"

#include <doctest/doctest.h>

#include "support/skip.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::transfer;

namespace {
std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 167 + (i >> 8)) & 0xFF);
  return v;
}
}  // namespace

TEST_CASE("chunk_checksum changes with any flipped bit of a full stripe or of the tail") {
  const std::vector<std::byte> base = pattern(64 * 5 + 13);
  const std::uint64_t sum = chunk_checksum(base);
  CHECK(chunk_checksum(base) == sum);
  for (std::size_t pos : {std::size_t{0}, std::size_t{7}, std::size_t{63}, std::size_t{64}, std::size_t{200},
                          std::size_t{319}, std::size_t{320}, std::size_t{332}}) {
    for (int bit : {0, 5, 7}) {
      std::vector<std::byte> v = base;
      v[pos] ^= static_cast<std::byte>(1 << bit);
      CHECK_MESSAGE(chunk_checksum(v) != sum, "byte " << pos << " bit " << bit);
    }
  }
}

TEST_CASE("chunk_checksum changes when two stripes swap or the length changes") {
  std::vector<std::byte> v = pattern(64 * 4);
  const std::uint64_t sum = chunk_checksum(v);
  std::swap_ranges(v.begin(), v.begin() + 64, v.begin() + 128);  // stripes 0 and 2
  CHECK(chunk_checksum(v) != sum);
  std::vector<std::byte> zeros(128);
  std::vector<std::byte> longer(129);
  CHECK(chunk_checksum(zeros) != chunk_checksum(longer));  // trailing zero byte
  CHECK(chunk_checksum(std::span<const std::byte>(zeros).first(64)) != chunk_checksum(zeros));
  CHECK(chunk_checksum({}) != chunk_checksum(std::span<const std::byte>(zeros).first(1)));
}

TEST_CASE("chunk_checksum keeps its wire values") {
  // Both ends of a link compare these values: a change of the function is a change of the wire
  // format. The values were computed by the function as first shipped.
  CHECK(chunk_checksum({}) == 0xcd490e5988b265acull);
  CHECK(chunk_checksum(pattern(64 * 5 + 13)) == 0xceae2b7aa819b760ull);
  CHECK(chunk_checksum(pattern(std::size_t{3} << 20)) == 0xe39a6bef38c3e269ull);
}

TEST_CASE("the lane sums of a chunk's pieces add up to the whole chunk's checksum") {
  const std::vector<std::byte> v = pattern(64 * 37 + 21);
  const std::span<const std::byte> all(v);
  for (std::size_t cut_stripes : {std::size_t{0}, std::size_t{1}, std::size_t{18}, std::size_t{37}}) {
    ChecksumLanes lanes = checksum_lanes(all.first(64 * cut_stripes), 0);
    lanes += checksum_lanes(all.subspan(64 * cut_stripes), cut_stripes);
    CHECK_MESSAGE(finish_checksum(lanes, all) == chunk_checksum(all), "cut after stripe " << cut_stripes);
  }
  // Pieces counted at the wrong stripe index give another checksum: moving data is caught.
  ChecksumLanes shifted = checksum_lanes(all.first(64 * 18), 1);
  shifted += checksum_lanes(all.subspan(64 * 18), 19);
  CHECK(finish_checksum(shifted, all) != chunk_checksum(all));
}

namespace {
// The lanes at `level` equal the generic build's, on pieces of every length around the vector
// widths and at odd stripe offsets, and so do the pinned wire values of the default path.
void check_level_matches_generic(SimdLevel level) {
  for (std::size_t n : {std::size_t{0}, std::size_t{63}, std::size_t{64}, std::size_t{64 * 3 + 5}, std::size_t{64 * 257},
                        std::size_t{1} << 20}) {
    const std::vector<std::byte> v = pattern(n);
    for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{1} << 40}) {
      const ChecksumLanes wide = checksum_lanes(v, first, level);
      const ChecksumLanes generic = checksum_lanes(v, first, SimdLevel::kGeneric);
      CHECK_MESSAGE(std::equal(std::begin(wide.lane), std::end(wide.lane), std::begin(generic.lane)),
                    to_string(level) << ", " << n << " bytes, first stripe " << first);
    }
  }
}
}  // namespace

TEST_CASE("checksum_lanes at AVX2 width equals the generic sums, bit for bit") {
  if (cpu_simd_level() < SimdLevel::kAvx2) return droidspeak::test::skip_test("this CPU has no AVX2");
  check_level_matches_generic(SimdLevel::kAvx2);
}

TEST_CASE("checksum_lanes at AVX-512 width equals the generic sums, bit for bit") {
  if (cpu_simd_level() < SimdLevel::kAvx512) return droidspeak::test::skip_test("this CPU has no AVX-512");
  check_level_matches_generic(SimdLevel::kAvx512);
}

TEST_CASE("checksum_lanes never runs wider than the CPU: a level above it is lowered") {
  CHECK(runnable_simd_level(SimdLevel::kGeneric) == SimdLevel::kGeneric);
  CHECK(runnable_simd_level(SimdLevel::kAvx512) == cpu_simd_level());
  const std::vector<std::byte> v = pattern(64 * 9);
  const ChecksumLanes widest = checksum_lanes(v, 3, SimdLevel::kAvx512);  // runs on any CPU
  const ChecksumLanes generic = checksum_lanes(v, 3, SimdLevel::kGeneric);
  CHECK(std::equal(std::begin(widest.lane), std::end(widest.lane), std::begin(generic.lane)));
}

TEST_CASE("context_hash: equal tokens hash alike and any change of value or order or length differs") {
  const std::vector<std::int32_t> a{1, 2, 3, 4};
  CHECK(context_hash(a) == context_hash(std::vector<std::int32_t>{1, 2, 3, 4}));
  CHECK(context_hash(a) != context_hash(std::vector<std::int32_t>{1, 2, 4, 3}));
  CHECK(context_hash(a) != context_hash(std::vector<std::int32_t>{1, 2, 3}));
  CHECK(context_hash(a) != context_hash(std::vector<std::int32_t>{1, 2, 3, 4, 0}));
  CHECK(context_hash({}) != context_hash(std::vector<std::int32_t>{0}));
  // Longer than one 64-token block: a change in the second block still shows.
  std::vector<std::int32_t> long_a(200, 7);
  std::vector<std::int32_t> long_b = long_a;
  long_b[150] = 8;
  CHECK(context_hash(long_a) != context_hash(long_b));
}

