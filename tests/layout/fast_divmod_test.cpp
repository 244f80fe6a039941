// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file FastDivmod against `/` and `%`: every divisor up to 2048 with every dividend up to
//! 4096, dividends next to multiples and at the top of the range, divisors at powers of two,
//! and random 63-bit pairs. The kernels divide with it, so this is their index math's test.
#include "droidspeak/layout/fast_divmod.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using droidspeak::layout::FastDivmod;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// Counts the dividends where FastDivmod disagrees with the operators (reported, not only
// counted, for the first one).
std::int64_t mismatches(std::int64_t d, const std::vector<std::int64_t>& dividends) {
  const FastDivmod div(d);
  std::int64_t bad = 0;
  for (std::int64_t n : dividends) {
    std::int64_t q = -1;
    std::int64_t r = -1;
    div.divmod(n, q, r);
    if (q != n / d || r != n % d || div.quotient(n) != n / d) {
      if (bad == 0) FAIL_CHECK("divisor " << d << ", dividend " << n << ": got " << q << ", " << r);
      ++bad;
    }
  }
  return bad;
}

// Dividends around multiples of d, around powers of two and at the top of the range.
std::vector<std::int64_t> edge_dividends(std::int64_t d) {
  std::vector<std::int64_t> out;
  for (std::int64_t k : {std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, kMax / d - 1, kMax / d}) {
    if (k < 1 || k > kMax / d) continue;
    const std::int64_t m = k * d;
    out.push_back(m);
    out.push_back(m - 1);
    if (m < kMax) out.push_back(m + 1);
  }
  for (int b = 1; b < 63; ++b) {
    const std::int64_t p = std::int64_t{1} << b;
    out.insert(out.end(), {p - 1, p, p + 1});
  }
  out.push_back(kMax);
  out.push_back(kMax - 1);
  return out;
}

}  // namespace

TEST_CASE("FastDivmod matches / and % for every small divisor and dividend") {
  std::vector<std::int64_t> small(4097);
  for (std::int64_t n = 0; n <= 4096; ++n) small[static_cast<std::size_t>(n)] = n;
  std::int64_t bad = 0;
  for (std::int64_t d = 1; d <= 2048; ++d) {
    bad += mismatches(d, small);
    bad += mismatches(d, edge_dividends(d));
  }
  CHECK(bad == 0);
}

TEST_CASE("FastDivmod matches / and % at powers of two, their neighbours and the top") {
  std::int64_t bad = 0;
  for (int b = 1; b < 63; ++b) {
    const std::int64_t p = std::int64_t{1} << b;
    for (std::int64_t d : {p - 1, p, p + 1}) bad += mismatches(d, edge_dividends(d));
  }
  bad += mismatches(kMax, edge_dividends(kMax));
  bad += mismatches(kMax - 1, edge_dividends(kMax - 1));
  CHECK(bad == 0);
}

TEST_CASE("FastDivmod matches / and % on random 63-bit divisors and dividends") {
  std::mt19937_64 rng(20261129);
  std::int64_t bad = 0;
  for (int i = 0; i < 2000; ++i) {
    // Divisors of every magnitude: a random bit length, then random bits below it.
    const int bits = 1 + static_cast<int>(rng() % 63);
    const std::int64_t d =
        static_cast<std::int64_t>((rng() >> (64 - bits)) | (std::uint64_t{1} << (bits - 1)));
    std::vector<std::int64_t> n(200);
    for (auto& x : n) x = static_cast<std::int64_t>(rng() >> (1 + rng() % 63));
    bad += mismatches(d, n);
  }
  CHECK(bad == 0);
}

TEST_CASE("FastDivmod of a divisor below 1 divides by 1") {
  // The layouts never pass one (validate() rejects it); the fallback keeps it defined.
  const FastDivmod div(0);
  CHECK(div.divisor == 1);
  CHECK(div.quotient(12345) == 12345);
}
