// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Quantisation to fp8 e4m3 / int8 with per-(token, head) scales: exact arithmetic,
//! reported and bounded error, zero rows, layout independence.
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/quantize.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

struct QuantCase {
  DType q;
  double max_rel_rms;  // bound on ||x - deq(q(x))|| / ||x|| over Gaussian rows
};

}  // namespace

TEST_CASE("quantise then dequantise: error reported per layer and bounded") {
  // Gaussian rows of 128: fp8 e4m3 keeps 3 mantissa bits (about 2.5 % rms), int8 with an
  // absmax scale about 0.7 % (figures in kernel-anchors section 9).
  for (const QuantCase& c : {QuantCase{DType::kFP8E4M3, 0.035}, QuantCase{DType::kI8, 0.012}}) {
    CAPTURE(to_string(c.q));
    const test::LayoutSpec transfer{};
    const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kSplit, 16};
    const std::int64_t layers = 4, tokens = 50, heads = 8, dim = 128;
    test::OwnedCache src = test::make_cache(paged, DType::kBF16, layers, tokens, heads, dim, 12);
    test::OwnedCache q = test::make_cache(transfer, c.q, layers, tokens, heads, dim, 0);
    test::OwnedCache back = test::make_cache(paged, DType::kF32, layers, tokens, heads, dim, 0);
    std::vector<float> scales(static_cast<std::size_t>(layers * 2 * tokens * heads), -1.0f);
    REQUIRE(quantize_kv({src.cview(), q.view(), scales.data(), LayerSet::all(layers), {0, tokens}, 0}).is_ok());
    REQUIRE(dequantize_kv({q.cview(), scales.data(), back.view(), LayerSet::all(layers), {0, tokens}, 0}).is_ok());
    std::vector<KvDeviation> dev(static_cast<std::size_t>(layers));
    REQUIRE(kv_deviation({src.cview(), back.cview(), LayerSet::all(layers), {0, tokens}}, dev).is_ok());
    for (std::int64_t l = 0; l < layers; ++l) {
      const double rel = dev[static_cast<std::size_t>(l)].both().relative_l2();
      MESSAGE(to_string(c.q), " layer ", l, ": relative rms error ", rel, ", max abs ",
              dev[static_cast<std::size_t>(l)].both().max_abs);
      CHECK(rel > 0.0);  // quantisation is lossy: a zero would mean nothing was compared
      CHECK(rel < c.max_rel_rms);
    }
    for (float s : scales) REQUIRE(s > 0.0f);
  }
}

TEST_CASE("quantised values follow the documented arithmetic exactly") {
  const test::LayoutSpec transfer{};
  test::OwnedCache src = test::make_cache(transfer, DType::kF32, 1, 3, 2, 64, 8);
  for (DType qd : {DType::kFP8E4M3, DType::kI8}) {
    test::OwnedCache q = test::make_cache(transfer, qd, 1, 3, 2, 64, 0);
    std::vector<float> scales(12);
    REQUIRE(quantize_kv({src.cview(), q.view(), scales.data(), LayerSet::all(1), {0, 3}, 0}).is_ok());
    for (KvPart p : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = 0; t < 3; ++t) {
        for (std::int64_t h = 0; h < 2; ++h) {
          const auto* x = reinterpret_cast<const float*>(src.cview().row(0, p, t, h));
          float absmax = 0.0f;
          for (int e = 0; e < 64; ++e) absmax = std::max(absmax, std::fabs(x[e]));
          const float qmax = quant_max(qd);
          CHECK(scales[static_cast<std::size_t>(scale_index(0, p, t, h, 3, 2))] == absmax / qmax);
          const std::byte* row = q.cview().row(0, p, t, h);
          for (int e = 0; e < 64; ++e) {
            const float y = x[e] * (qmax / absmax);
            const std::uint8_t expect = qd == DType::kFP8E4M3 ? to_fp8_e4m3(y).bits
                                                              : static_cast<std::uint8_t>(to_int8(y));
            REQUIRE(static_cast<std::uint8_t>(row[e]) == expect);
          }
        }
      }
    }
  }
}

TEST_CASE("an all-zero row quantises to zeros with scale 0; NaN does not set the scale") {
  const test::LayoutSpec transfer{};
  test::OwnedCache src = test::make_cache(transfer, DType::kF32, 1, 2, 1, 64, 3);
  auto* k0 = reinterpret_cast<float*>(src.view().row(0, KvPart::kK, 0, 0));
  for (int e = 0; e < 64; ++e) k0[e] = 0.0f;
  auto* k1 = reinterpret_cast<float*>(src.view().row(0, KvPart::kK, 1, 0));
  for (int e = 0; e < 64; ++e) k1[e] = e == 5 ? NAN : 1.0f;
  test::OwnedCache q = test::make_cache(transfer, DType::kI8, 1, 2, 1, 64, 0);
  std::vector<float> scales(4, -1.0f);
  REQUIRE(quantize_kv({src.cview(), q.view(), scales.data(), LayerSet::all(1), {0, 2}, 0}).is_ok());
  CHECK(scales[0] == 0.0f);
  for (int e = 0; e < 64; ++e) CHECK(q.cview().row(0, KvPart::kK, 0, 0)[e] == std::byte{0});
  CHECK(scales[1] == 1.0f / 127.0f);
  CHECK(static_cast<std::int8_t>(q.cview().row(0, KvPart::kK, 1, 0)[5]) == 0);  // NaN -> 0
  CHECK(static_cast<std::int8_t>(q.cview().row(0, KvPart::kK, 1, 0)[6]) == 127);
}

TEST_CASE("quantisation is independent of the layouts on either side") {
  const test::LayoutSpec transfer{};
  const test::LayoutSpec csr{LayoutKind::kCsr, HeadOrder::kNHD, KvPlacement::kFused, 17};
  test::OwnedCache src_t = test::make_cache(transfer, DType::kF16, 2, 30, 1, 80, 44);
  test::OwnedCache src_p = test::make_cache(csr, DType::kF16, 2, 30, 1, 80, 0);
  REQUIRE(copy_kv({src_t.cview(), src_p.view(), LayerSet::all(2), {0, 30}, 0}).is_ok());
  test::OwnedCache q1 = test::make_cache(transfer, DType::kFP8E4M3, 2, 30, 1, 80, 0);
  test::OwnedCache q2 = test::make_cache(transfer, DType::kFP8E4M3, 2, 30, 1, 80, 0);
  std::vector<float> s1(120), s2(120);
  REQUIRE(quantize_kv({src_t.cview(), q1.view(), s1.data(), LayerSet::all(2), {0, 30}, 0}).is_ok());
  REQUIRE(quantize_kv({src_p.cview(), q2.view(), s2.data(), LayerSet::all(2), {0, 30}, 0}).is_ok());
  CHECK(q1.k == q2.k);
  CHECK(s1 == s2);
}
