// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Host copy / gather / scatter: bit-exact round trips between every pair of layouts,
//! layer subsets and token ranges, dtype conversion, E-cache copies.
#include "droidspeak/layout/copy.hpp"
#include "support/layouts.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

// True when rows (layer, part, token, head) of `a` at `ta` and `b` at `tb` hold the same bytes.
bool same_row(const ConstKvView& a, std::int64_t ta, const ConstKvView& b, std::int64_t tb,
              std::int64_t layer, KvPart part, std::int64_t head) {
  const std::int64_t bytes = a.layout.head_dim() * dtype_size(a.dtype);
  return std::memcmp(a.row(layer, part, ta, head), b.row(layer, part, tb, head),
                     static_cast<std::size_t>(bytes)) == 0;
}

bool row_is_poison(const ConstKvView& a, std::int64_t t, std::int64_t layer, KvPart part,
                   std::int64_t head) {
  const std::byte* r = a.row(layer, part, t, head);
  for (std::int64_t i = 0; i < a.layout.head_dim() * dtype_size(a.dtype); ++i) {
    if (r[i] != std::byte{0x5A}) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("round trips between every pair of layouts are bit-exact") {
  for (std::int64_t page_size : {1, 3, 16, 17}) {
    for (std::int64_t head_dim : {64, 80}) {
      const std::int64_t heads = page_size == 3 ? 1 : 8;
      const std::int64_t tokens = 37;  // not a multiple of any page size above but 1
      for (const test::LayoutSpec& a_spec : test::all_specs(page_size)) {
        for (const test::LayoutSpec& b_spec : test::all_specs(page_size)) {
          CAPTURE(a_spec.name());
          CAPTURE(b_spec.name());
          CAPTURE(head_dim);
          test::OwnedCache a = test::make_cache(a_spec, DType::kBF16, 2, tokens, heads, head_dim, 3);
          test::OwnedCache b = test::make_cache(b_spec, DType::kBF16, 2, tokens, heads, head_dim, 0);
          test::OwnedCache back = test::make_cache(a_spec, DType::kBF16, 2, tokens, heads, head_dim, 0);
          REQUIRE(copy_kv({a.cview(), b.view(), LayerSet::all(2), {0, tokens}, 0}).is_ok());
          REQUIRE(copy_kv({b.cview(), back.view(), LayerSet::all(2), {0, tokens}, 0}).is_ok());
          bool all_same = true;
          for (std::int64_t l = 0; l < 2; ++l)
            for (KvPart p : {KvPart::kK, KvPart::kV})
              for (std::int64_t t = 0; t < tokens; ++t)
                for (std::int64_t h = 0; h < heads; ++h)
                  all_same = all_same && same_row(a.cview(), t, back.cview(), t, l, p, h) &&
                             same_row(a.cview(), t, b.cview(), t, l, p, h);
          CHECK(all_same);
        }
      }
    }
  }
}

TEST_CASE("a layer subset and a token range touch exactly the selected rows") {
  const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kFused, 16};
  const test::LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  test::OwnedCache src = test::make_cache(transfer, DType::kF16, 5, 20, 2, 64, 9);
  test::OwnedCache dst = test::make_cache(paged, DType::kF16, 5, 40, 2, 64, 0);
  const std::int64_t layers[] = {0, 2, 3};
  const LayerSet subset = *LayerSet::from_list(layers, 5);
  REQUIRE(copy_kv({src.cview(), dst.view(), subset, {3, 11}, 21}).is_ok());
  for (std::int64_t l = 0; l < 5; ++l) {
    for (KvPart p : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = 0; t < 40; ++t) {
        for (std::int64_t h = 0; h < 2; ++h) {
          const bool selected = subset.contains(l) && t >= 21 && t < 29;
          if (selected) {
            CHECK(same_row(src.cview(), t - 18, dst.cview(), t, l, p, h));
          } else {
            CHECK(row_is_poison(dst.cview(), t, l, p, h));
          }
        }
      }
    }
  }
}

TEST_CASE("empty selections are valid and write nothing") {
  const test::LayoutSpec transfer{};
  test::OwnedCache src = test::make_cache(transfer, DType::kF32, 2, 4, 1, 64, 5);
  test::OwnedCache dst = test::make_cache(transfer, DType::kF32, 2, 4, 1, 64, 0);
  CHECK(copy_kv({src.cview(), dst.view(), LayerSet{}, {0, 4}, 0}).is_ok());
  CHECK(copy_kv({src.cview(), dst.view(), LayerSet::all(2), {2, 2}, 4}).is_ok());
  for (std::byte b : dst.k) REQUIRE(b == std::byte{0x5A});
}

TEST_CASE_TEMPLATE("copy converts every dtype pair with the rounding of core/dtype", Dst, float,
                   Half, BFloat16, Fp8E4M3, std::int8_t) {
  const DType dst_dtype = DTypeOf<Dst>::value;
  for (DType src_dtype : kAllDTypes) {
    CAPTURE(to_string(src_dtype));
    CAPTURE(to_string(dst_dtype));
    const test::LayoutSpec csr{LayoutKind::kCsr, HeadOrder::kNHD, KvPlacement::kSplit, 3};
    const test::LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kHND, KvPlacement::kSplit, 3};
    test::OwnedCache src = test::make_cache(csr, src_dtype, 2, 7, 2, 80, 21);
    test::OwnedCache dst = test::make_cache(transfer, dst_dtype, 2, 7, 2, 80, 0);
    REQUIRE(copy_kv({src.cview(), dst.view(), LayerSet::all(2), {0, 7}, 0}).is_ok());
    bool ok = true;
    for (std::int64_t l = 0; l < 2; ++l)
      for (KvPart p : {KvPart::kK, KvPart::kV})
        for (std::int64_t t = 0; t < 7; ++t)
          for (std::int64_t h = 0; h < 2; ++h)
            for (std::int64_t e = 0; e < 80; ++e) {
              const float x = test::element(src.cview().row(l, p, t, h), src_dtype, e);
              const Dst expect = from_float<Dst>(x);
              ok = ok && std::memcmp(&expect, dst.cview().row(l, p, t, h) + e * sizeof(Dst),
                                     sizeof(Dst)) == 0;
            }
    CHECK(ok);
  }
}

TEST_CASE("gather and scatter insist on their direction") {
  const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  const test::LayoutSpec transfer{};
  test::OwnedCache p = test::make_cache(paged, DType::kBF16, 2, 20, 8, 128, 4);
  test::OwnedCache t = test::make_cache(transfer, DType::kBF16, 2, 20, 8, 128, 0);
  CHECK(gather_kv({p.cview(), t.view(), LayerSet::all(2), {0, 20}, 0}).is_ok());
  CHECK(scatter_kv({t.cview(), p.view(), LayerSet::all(2), {0, 20}, 0}).is_ok());
  const Status wrong = gather_kv({t.cview(), p.view(), LayerSet::all(2), {0, 20}, 0});
  CHECK(wrong.code() == StatusCode::kErrorInvalidArgument);
  CHECK(wrong.message().find("gather_kv: expects a paged src") == 0);
  CHECK(scatter_kv({p.cview(), t.view(), LayerSet::all(2), {0, 20}, 0}).code() ==
        StatusCode::kErrorInvalidArgument);
  // The one can_implement that the host and the CUDA launchers share: direction first,
  // then the copy's own checks under the operation's name.
  test::OwnedCache t2 = test::make_cache(transfer, DType::kBF16, 2, 20, 8, 128, 0);
  const KvCopyArgs both_transfer{t.cview(), t2.view(), LayerSet::all(2), {0, 20}, 0};
  CHECK(can_implement(both_transfer, IndexMemory::kHost).is_ok());
  CHECK(can_implement(both_transfer, IndexMemory::kDevice, CopyDirection::kGather)
            .message()
            .find("gather_kv: expects a paged src") == 0);
  CHECK(can_implement(both_transfer, IndexMemory::kDevice, CopyDirection::kScatter)
            .message()
            .find("scatter_kv: expects a transfer-layout src") == 0);
  const KvCopyArgs too_many{p.cview(), t.view(), LayerSet::all(3), {0, 20}, 0};
  CHECK(can_implement(too_many, IndexMemory::kHost, CopyDirection::kGather).message() ==
        "gather_kv: layer 2 selected but src has 2 and dst 2 layers");
}

TEST_CASE("E-cache copy moves the selected entry rows with conversion") {
  const std::int64_t hidden = 192;
  const std::int64_t tokens = 9;
  ECacheLayout src_l{LayerSet::from_mask(0b1010001), tokens, hidden};  // entries 0, 4, 6
  ECacheLayout dst_l{LayerSet::from_mask(0b0010001), tokens + 4, hidden};  // entries 0, 4
  std::vector<std::byte> src = test::random_bytes(DType::kF32, src_l.pool_elements(), 77);
  std::vector<std::byte> dst = test::poisoned(dst_l.pool_elements() * 2);
  const ConstEView sv(src.data(), DType::kF32, src_l);
  const EView dv(dst.data(), DType::kBF16, dst_l);
  REQUIRE(copy_e({sv, dv, LayerSet::from_mask(0b10000), {2, 9}, 4}).is_ok());
  for (std::int64_t t = 0; t < tokens + 4; ++t) {
    for (std::int64_t e = 0; e < hidden; ++e) {
      BFloat16 got;
      std::memcpy(&got, dv.row(4, t) + e * 2, 2);
      if (t >= 4 && t < 11) {
        CHECK(got.bits == to_bfloat16(test::element(sv.row(4, t - 2), DType::kF32, e)).bits);
      } else {
        CHECK(got.bits == 0x5A5A);
      }
    }
  }
  // Layer 6 is not an entry of dst.
  const Status s = copy_e({sv, dv, LayerSet::from_mask(0b1000000), {0, 9}, 0});
  CHECK(s.message() == "copy_e: layers {6} are not all entries of src {0, 4, 6} and dst {0, 4}");
}

TEST_CASE("a copy past the streaming threshold is bit-exact and touches only its rows") {
  // 2 layers x 2 x 2100 tokens x 8 heads x 128 x 2 bytes = 17.2 MB > kStreamingCopyBytes (4 MiB).
  const test::LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  const test::LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  test::OwnedCache src = test::make_cache(paged, DType::kBF16, 2, 2100, 8, 128, 31);
  test::OwnedCache dst = test::make_cache(transfer, DType::kBF16, 2, 2101, 8, 128, 0);
  REQUIRE(2 * 2 * 2100 * 8 * 128 * 2 > kStreamingCopyBytes);
  REQUIRE(copy_kv({src.cview(), dst.view(), LayerSet::all(2), {0, 2100}, 1}).is_ok());
  bool ok = true;
  for (std::int64_t l = 0; l < 2; ++l)
    for (KvPart p : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t h = 0; h < 8; ++h) ok = ok && row_is_poison(dst.cview(), 0, l, p, h);
      for (std::int64_t t = 0; t < 2100; ++t)
        for (std::int64_t h = 0; h < 8; ++h) ok = ok && same_row(src.cview(), t, dst.cview(), t + 1, l, p, h);
    }
  CHECK(ok);
}
