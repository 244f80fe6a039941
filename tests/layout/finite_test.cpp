// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of layout/finite.hpp: the first non-finite element of a KV or E cache, in
//! every dtype and layout, and where it is reported.
#include "droidspeak/layout/finite.hpp"

#include "support/layouts.hpp"
#include "support/test_data.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Overwrites element `e` of the row (layer, part, token, head) with `x` in the cache's dtype.
void poke(test::OwnedCache& c, std::int64_t layer, KvPart part, std::int64_t token,
          std::int64_t head, std::int64_t e, float x) {
  std::byte* row = c.view().row(layer, part, token, head);
  REQUIRE(row != nullptr);
  std::byte* p = row + e * dtype_size(c.dtype);
  switch (c.dtype) {
    case DType::kF32: std::memcpy(p, &x, 4); break;
    case DType::kF16: { const Half h = to_half(x); std::memcpy(p, &h, 2); break; }
    case DType::kBF16: { const BFloat16 b = to_bfloat16(x); std::memcpy(p, &b, 2); break; }
    default: FAIL("poke: float dtypes only");
  }
}

}  // namespace

TEST_CASE("finite: is_finite_value on the bits of every dtype") {
  CHECK(is_finite_value(1.5f));
  CHECK(is_finite_value(std::numeric_limits<float>::max()));
  CHECK_FALSE(is_finite_value(kNaN));
  CHECK_FALSE(is_finite_value(kInf));
  CHECK_FALSE(is_finite_value(-kInf));
  CHECK(is_finite_value(to_half(65504.0f)));
  CHECK_FALSE(is_finite_value(to_half(kInf)));
  CHECK_FALSE(is_finite_value(to_half(kNaN)));
  CHECK(is_finite_value(to_bfloat16(3.0e38f)));
  CHECK_FALSE(is_finite_value(to_bfloat16(kNaN)));
  CHECK_FALSE(is_finite_value(to_bfloat16(-kInf)));
  // fp8 e4m3: 448 (0x7E) is the largest finite value, 0x7F and 0xFF are NaN, no infinity.
  CHECK(is_finite_value(Fp8E4M3{0x7E}));
  CHECK(is_finite_value(Fp8E4M3{0xFE}));
  CHECK_FALSE(is_finite_value(Fp8E4M3{0x7F}));
  CHECK_FALSE(is_finite_value(Fp8E4M3{0xFF}));
  CHECK_FALSE(is_finite_value(to_fp8_e4m3(kNaN)));
  CHECK(is_finite_value(to_fp8_e4m3(kInf)));  // saturates to 448
  CHECK(is_finite_value(std::int8_t{-128}));
}

TEST_CASE("finite: first_non_finite over a flat buffer") {
  std::vector<float> x = {1, 2, 3, 4, 5};
  const auto* b = reinterpret_cast<const std::byte*>(x.data());
  CHECK(*first_non_finite(b, DType::kF32, 5) == -1);
  x[3] = kInf;
  x[4] = kNaN;
  CHECK(*first_non_finite(b, DType::kF32, 5) == 3);
  CHECK(*first_non_finite(b, DType::kF32, 3) == -1);  // only the first n elements
  CHECK(*first_non_finite(b, DType::kF32, 0) == -1);
  CHECK(first_non_finite(b, DType::kF32, -1).status().code() == StatusCode::kErrorInvalidArgument);
  CHECK(first_non_finite(b, static_cast<DType>(99), 1).status().code() ==
        StatusCode::kErrorNotSupported);
  const std::vector<std::byte> fp8 = {std::byte{0x10}, std::byte{0x7E}, std::byte{0xFF}};
  CHECK(*first_non_finite(fp8.data(), DType::kFP8E4M3, 3) == 2);
  const std::vector<std::byte> i8 = {std::byte{0x7F}, std::byte{0xFF}, std::byte{0x80}};
  CHECK(*first_non_finite(i8.data(), DType::kI8, 3) == -1);
}

// The scan goes block by block (32 elements): a value anywhere in a block, in the tail after
// the last whole block, or two in one block, is found where an element-by-element reading of
// is_finite_value finds it, for every dtype and every alignment of the start.
TEST_CASE("finite: first_non_finite agrees with is_finite_value at every position, block and tail") {
  const std::int64_t n = 101;  // three whole blocks and a tail of 5
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kFP8E4M3}) {
    CAPTURE(to_string(dtype));
    const std::int64_t w = dtype_size(dtype);
    std::vector<std::byte> bad(static_cast<std::size_t>(w), std::byte{0xFF});  // NaN in each of them
    for (std::int64_t offset : {0, 1}) {  // any alignment
      for (std::int64_t at = 0; at < n; ++at) {
        for (std::int64_t second : {std::int64_t{-1}, at + 1, at + 31}) {
          std::vector<std::byte> buf(static_cast<std::size_t>((n + 1) * w), std::byte{0x01});
          std::byte* data = buf.data() + offset;
          std::memcpy(data + at * w, bad.data(), static_cast<std::size_t>(w));
          if (second >= 0 && second < n) std::memcpy(data + second * w, bad.data(), static_cast<std::size_t>(w));
          CAPTURE(at);
          CAPTURE(second);
          CHECK(*first_non_finite(data, dtype, n) == at);
          CHECK(*first_non_finite(data, dtype, at) == -1);  // only the first n elements
        }
      }
    }
  }
}

TEST_CASE("finite: a NaN in a KV cache is found at its layer, part, token, head and element") {
  const test::LayoutSpec transfer{};
  const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kSplit, 16};
  for (const test::LayoutSpec& spec : {transfer, paged}) {
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
      CAPTURE(to_string(dtype));
      test::OwnedCache c = test::make_cache(spec, dtype, 4, 37, 2, 64, 5);
      const LayerSet all = LayerSet::all(4);
      Result<KvNonFinite> clean = find_non_finite_kv(c.cview(), all, {0, 37});
      REQUIRE_MESSAGE(clean.is_ok(), clean.status().to_string());
      CHECK_FALSE(clean->found);
      CHECK(clean->to_string() == "none");

      poke(c, 2, KvPart::kV, 30, 1, 17, kNaN);
      poke(c, 3, KvPart::kK, 0, 0, 0, kInf);
      Result<KvNonFinite> at = find_non_finite_kv(c.cview(), all, {0, 37});
      REQUIRE(at.is_ok());
      CHECK(at->found);
      CHECK(at->layer == 2);
      CHECK(at->part == KvPart::kV);
      CHECK(at->token == 30);
      CHECK(at->head == 1);
      CHECK(at->element == 17);
      CHECK(at->to_string() == "layer 2 V token 30 head 1 element 17");
      // Outside the searched layers or tokens it is not seen; the next one is.
      CHECK_FALSE(find_non_finite_kv(c.cview(), LayerSet::from_mask(0b0011), {0, 37})->found);
      CHECK_FALSE(find_non_finite_kv(c.cview(), LayerSet::from_mask(0b0100), {0, 30})->found);
      Result<KvNonFinite> l3 = find_non_finite_kv(c.cview(), LayerSet::from_mask(0b1000), {0, 37});
      REQUIRE(l3.is_ok());
      CHECK(l3->to_string() == "layer 3 K token 0 head 0 element 0");
    }
  }
}

namespace {

// find_non_finite_kv read row by row and element by element with is_finite_value: the order
// and the locations its runs of rows must reproduce.
KvNonFinite first_non_finite_row_by_row(const ConstKvView& v, const LayerSet& layers, TokenRange tokens,
                                        const float* scales) {
  const std::int64_t heads = v.layout.num_kv_heads();
  for (std::int64_t i = 0; i < layers.count(); ++i) {
    const std::int64_t layer = layers.nth(i);
    for (KvPart part : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
        for (std::int64_t h = 0; h < heads; ++h) {
          if (scales != nullptr && !is_finite_value(scales[scale_index(layer, part, t, h, v.layout.num_tokens(), heads)])) {
            return {true, layer, part, t, h, -1};
          }
          const std::byte* row = v.row(layer, part, t, h);
          for (std::int64_t e = 0; e < v.layout.head_dim(); ++e) {
            bool finite = true;
            (void)dispatch_dtype(v.dtype, [&](auto tag) {
              typename decltype(tag)::type x;
              std::memcpy(&x, row + e * dtype_size(v.dtype), sizeof x);
              finite = is_finite_value(x);
              return Status::ok();
            });
            if (!finite) return {true, layer, part, t, h, e};
          }
        }
      }
    }
  }
  return {};
}

}  // namespace

// Rows adjacent in memory are scanned as one run; where a layout's rows are (a transfer
// layout's layer part) or are not (pages of a shuffled table), with a scale before or after
// an element of the same run, the first value found is the one a row-by-row reading finds.
TEST_CASE("finite: runs of rows report the first non-finite value of a row-by-row reading") {
  const test::LayoutSpec specs[] = {
      {},
      {LayoutKind::kTransfer, HeadOrder::kHND},
      {LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kSplit, 16},
      {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kFused, 4},
  };
  std::mt19937_64 g(11);
  for (const test::LayoutSpec& spec : specs) {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kFP8E4M3}) {
      CAPTURE(spec.name());
      CAPTURE(to_string(dtype));
      for (int trial = 0; trial < 12; ++trial) {
        test::OwnedCache c = test::make_cache(spec, dtype, 3, 21, 2, 32, 7 + static_cast<std::uint64_t>(trial));
        std::vector<float> scales(3 * 2 * 21 * 2, 1.0f);
        const bool with_scales = dtype == DType::kFP8E4M3;
        const auto pick = [&](std::int64_t n) { return static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(n)); };
        for (int k = 0; k < 1 + trial % 3; ++k) {
          const std::int64_t layer = pick(3), token = pick(21), head = pick(2), e = pick(32);
          const KvPart part = pick(2) == 0 ? KvPart::kK : KvPart::kV;
          if (with_scales && k == 1) {
            scales[static_cast<std::size_t>(scale_index(layer, part, token, head, 21, 2))] = kNaN;
          } else if (dtype == DType::kFP8E4M3) {
            c.view().row(layer, part, token, head)[e] = std::byte{0xFF};
          } else {
            poke(c, layer, part, token, head, e, k % 2 == 0 ? kNaN : -kInf);
          }
        }
        const LayerSet layers = LayerSet::from_mask(1 + g() % 7);
        const std::int64_t begin = pick(21);
        const TokenRange tokens{begin, begin + pick(22 - begin)};
        const float* sc = with_scales ? scales.data() : nullptr;
        Result<KvNonFinite> got = find_non_finite_kv(c.cview(), layers, tokens, sc);
        REQUIRE(got.is_ok());
        CHECK(got->to_string() == first_non_finite_row_by_row(c.cview(), layers, tokens, sc).to_string());
      }
    }
  }
}

TEST_CASE("finite: quantised caches: fp8 NaN codes and non-finite scales") {
  const test::LayoutSpec transfer{};
  test::OwnedCache q = test::make_cache(transfer, DType::kFP8E4M3, 2, 5, 2, 16, 3);
  std::vector<float> scales(2 * 2 * 5 * 2, 0.5f);
  CHECK_FALSE(find_non_finite_kv(q.cview(), LayerSet::all(2), {0, 5}, scales.data())->found);
  q.view().row(1, KvPart::kK, 4, 1)[3] = std::byte{0x7F};
  Result<KvNonFinite> at = find_non_finite_kv(q.cview(), LayerSet::all(2), {0, 5}, scales.data());
  REQUIRE(at.is_ok());
  CHECK(at->to_string() == "layer 1 K token 4 head 1 element 3");
  // A NaN scale makes its whole row NaN when dequantised: reported before the elements.
  scales[static_cast<std::size_t>(scale_index(0, KvPart::kV, 2, 0, 5, 2))] = kNaN;
  at = find_non_finite_kv(q.cview(), LayerSet::all(2), {0, 5}, scales.data());
  REQUIRE(at.is_ok());
  CHECK(at->to_string() == "layer 0 V token 2 head 0 scale");
  CHECK(at->element == -1);
  // An element of an earlier row in the same run of rows still comes first.
  q.view().row(0, KvPart::kV, 1, 1)[5] = std::byte{0xFF};
  at = find_non_finite_kv(q.cview(), LayerSet::all(2), {0, 5}, scales.data());
  REQUIRE(at.is_ok());
  CHECK(at->to_string() == "layer 0 V token 1 head 1 element 5");

  // int8 elements are all finite; only the scales can be non-finite.
  test::OwnedCache i8 = test::make_cache(transfer, DType::kI8, 2, 5, 2, 16, 4);
  CHECK_FALSE(find_non_finite_kv(i8.cview(), LayerSet::all(2), {0, 5})->found);
  scales.assign(scales.size(), 1.0f);
  scales[static_cast<std::size_t>(scale_index(1, KvPart::kK, 0, 1, 5, 2))] = -kInf;
  CHECK(find_non_finite_kv(i8.cview(), LayerSet::all(2), {0, 5}, scales.data())->to_string() ==
        "layer 1 K token 0 head 1 scale");
}

TEST_CASE("finite: find_non_finite_kv refuses selections outside the cache") {
  test::OwnedCache c = test::make_cache(test::LayoutSpec{}, DType::kF32, 2, 5, 1, 8, 1);
  CHECK(find_non_finite_kv(c.cview(), LayerSet::all(3), {0, 5}).status().code() ==
        StatusCode::kErrorOutOfRange);
  CHECK(find_non_finite_kv(c.cview(), LayerSet::all(2), {0, 6}).status().code() ==
        StatusCode::kErrorOutOfRange);
  CHECK(find_non_finite_kv(c.cview(), LayerSet::all(2), {3, 2}).status().code() ==
        StatusCode::kErrorOutOfRange);
  ConstKvView null_view(static_cast<const std::byte*>(nullptr), DType::kF32, c.owned.layout);
  CHECK(find_non_finite_kv(null_view, LayerSet::all(2), {0, 5}).status().code() ==
        StatusCode::kErrorInvalidArgument);
}

TEST_CASE("finite: a NaN in an E cache is found at its entry layer, token and element") {
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    CAPTURE(to_string(dtype));
    const ECacheLayout l{LayerSet::from_mask(0b1000001), 9, 32};  // entries at layers 0 and 6
    std::vector<std::byte> data = test::random_bytes(dtype, l.pool_elements(), 7);
    EView v(data.data(), dtype, l);
    CHECK_FALSE(find_non_finite_e(v, l.entry_layers, {0, 9})->found);
    std::byte* p = v.row(6, 4) + 11 * dtype_size(dtype);
    if (dtype == DType::kF32) {
      std::memcpy(p, &kNaN, 4);
    } else {
      const BFloat16 b = to_bfloat16(kNaN);
      std::memcpy(p, &b, 2);
    }
    Result<ENonFinite> at = find_non_finite_e(v, l.entry_layers, {0, 9});
    REQUIRE(at.is_ok());
    CHECK(at->found);
    CHECK(at->to_string() == "layer 6 token 4 element 11");
    CHECK_FALSE(find_non_finite_e(v, LayerSet::from_mask(0b1), {0, 9})->found);
    CHECK_FALSE(find_non_finite_e(v, l.entry_layers, {5, 9})->found);
    CHECK(find_non_finite_e(v, LayerSet::from_mask(0b10), {0, 9}).status().code() ==
          StatusCode::kErrorInvalidArgument);
    CHECK(find_non_finite_e(v, l.entry_layers, {0, 10}).status().code() ==
          StatusCode::kErrorOutOfRange);
  }
}
