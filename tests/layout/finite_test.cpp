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
