// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Per-layer deviation against a double-precision reference computed directly.
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

TEST_CASE("deviation matches a double-precision reference across layouts and dtypes") {
  const std::int64_t layers = 3, tokens = 21, heads = 2, dim = 64;
  const test::LayoutSpec transfer{};
  const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kFused, 16};
  test::OwnedCache a = test::make_cache(transfer, DType::kF32, layers, tokens, heads, dim, 2);
  test::OwnedCache b_t = test::make_cache(transfer, DType::kF32, layers, tokens, heads, dim, 3);
  test::OwnedCache b = test::make_cache(paged, DType::kBF16, layers, tokens, heads, dim, 0);
  REQUIRE(copy_kv({b_t.cview(), b.view(), LayerSet::all(layers), {0, tokens}, 0}).is_ok());

  std::vector<KvDeviation> dev(layers);
  const LayerSet selected = LayerSet::from_mask(0b101);
  REQUIRE(kv_deviation({a.cview(), b.cview(), selected, {4, tokens}}, dev).is_ok());

  // Reference straight from the transfer-layout buffers: [layer][part][token][head][dim].
  const auto* fa = reinterpret_cast<const float*>(a.k.data());
  const auto* fb = reinterpret_cast<const float*>(b_t.k.data());
  for (std::int64_t l : {0, 2}) {
    for (int part = 0; part < 2; ++part) {
      double ssd = 0, sa = 0, sb = 0, dot = 0, mx = 0;
      for (std::int64_t t = 4; t < tokens; ++t) {
        for (std::int64_t i = 0; i < heads * dim; ++i) {
          const std::int64_t idx = ((l * 2 + part) * tokens + t) * heads * dim + i;
          const double x = fa[idx];
          const double y = to_float(to_bfloat16(fb[idx]));
          ssd += (x - y) * (x - y);
          sa += x * x;
          sb += y * y;
          dot += x * y;
          mx = std::max(mx, std::fabs(x - y));
        }
      }
      const DeviationStats& got = part == 0 ? dev[l].k : dev[l].v;
      CHECK(got.sum_sq_diff == doctest::Approx(ssd).epsilon(1e-12));
      CHECK(got.sum_sq_a == doctest::Approx(sa).epsilon(1e-12));
      CHECK(got.dot == doctest::Approx(dot).epsilon(1e-12));
      CHECK(got.max_abs == mx);
      CHECK(got.count == (tokens - 4) * heads * dim);
      CHECK(got.relative_l2() == doctest::Approx(std::sqrt(ssd / sa)).epsilon(1e-12));
      CHECK(got.cosine() == doctest::Approx(dot / std::sqrt(sa * sb)).epsilon(1e-12));
    }
  }
  // Layer 1 was not selected: untouched.
  CHECK(dev[1].k.count == 0);
}

TEST_CASE("deviation of a cache with itself is zero and cosine one") {
  const test::LayoutSpec csr{LayoutKind::kCsr, HeadOrder::kNHD, KvPlacement::kSplit, 3};
  test::OwnedCache a = test::make_cache(csr, DType::kFP8E4M3, 2, 8, 8, 64, 5);
  std::vector<KvDeviation> dev(2);
  REQUIRE(kv_deviation({a.cview(), a.cview(), LayerSet::all(2), {0, 8}}, dev).is_ok());
  CHECK(dev[1].both().sum_sq_diff == 0.0);
  CHECK(dev[1].both().relative_l2() == 0.0);
  CHECK(dev[1].both().cosine() == doctest::Approx(1.0).epsilon(1e-15));
}

TEST_CASE("deviation is deterministic run to run") {
  const test::LayoutSpec transfer{};
  test::OwnedCache a = test::make_cache(transfer, DType::kF32, 2, 64, 8, 128, 6);
  test::OwnedCache b = test::make_cache(transfer, DType::kF32, 2, 64, 8, 128, 7);
  std::vector<KvDeviation> d1(2), d2(2);
  REQUIRE(kv_deviation({a.cview(), b.cview(), LayerSet::all(2), {0, 64}}, d1).is_ok());
  REQUIRE(kv_deviation({a.cview(), b.cview(), LayerSet::all(2), {0, 64}}, d2).is_ok());
  CHECK(std::memcmp(d1.data(), d2.data(), sizeof(KvDeviation) * 2) == 0);
}

TEST_CASE("deviation statistics: edge cases") {
  DeviationStats zero;
  CHECK(zero.relative_l2() == 0.0);
  CHECK(zero.cosine() == 1.0);
  CHECK(zero.rms_diff() == 0.0);
  DeviationStats only_b{4.0, 0.0, 4.0, 0.0, 2.0, 1};
  CHECK(std::isinf(only_b.relative_l2()));
  CHECK(only_b.cosine() == 0.0);
}
