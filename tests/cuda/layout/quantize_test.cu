// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA fused quantise-gather and dequantise-scatter against the host primitives, bit
//! for bit (data and scales): every float/quantised dtype pair, awkward sizes, every layout
//! pair, layer subsets with gaps, all-zero and NaN rows, the unvectorised path.
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/layout/quantize.hpp"
#include "support.cuh"

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::test::names;

namespace {

struct QuantCase : test::TransferCase {
  DType float_dtype = DType::kBF16;
  DType quant_dtype = DType::kFP8E4M3;
  QuantCase() { src = {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16}; }
};

std::vector<float> filled(std::int64_t n, float value) {
  return std::vector<float>(static_cast<std::size_t>(n), value);
}

// Sets every element of one row of a host cache to `value` (f32 bits rounded into dtype).
void set_row(OwnedCache& c, std::int64_t layer, KvPart part, std::int64_t token,
             std::int64_t head, float value, std::int64_t only_element = -1) {
  std::byte* row = c.view().row(layer, part, token, head);
  const std::int64_t size = dtype_size(c.dtype);
  for (std::int64_t e = 0; e < c.owned.layout.head_dim(); ++e) {
    if (only_element >= 0 && e != only_element) continue;
    switch (c.dtype) {
      case DType::kF32: std::memcpy(row + e * size, &value, 4); break;
      case DType::kF16: { const Half h = to_half(value); std::memcpy(row + e * size, &h, 2); break; }
      case DType::kBF16: { const BFloat16 b = to_bfloat16(value); std::memcpy(row + e * size, &b, 2); break; }
      default: FAIL("set_row: float dtypes only");
    }
  }
}

void check_quantize(const QuantCase& c) {
  INFO(c.describe(c.float_dtype, c.quant_dtype));
  OwnedCache src = c.make_src(c.float_dtype, 13);
  OwnedCache dst = c.make_dst(c.quant_dtype);
  // An all-zero row (scale 0) and a row with one NaN (ignored by the absmax).
  const std::int64_t first = c.selected.nth(0);
  if (c.range.size() > 0 && first >= 0) {
    set_row(src, first, KvPart::kK, c.range.begin, 0, 0.0f);
    set_row(src, first, KvPart::kV, c.range.end - 1, c.heads - 1, NAN, 3);
  }
  std::vector<float> scales = filled(c.layers * 2 * c.dst_tokens * c.heads, -3.5f);
  const DeviceCache d_src = c.upload(src);
  const DeviceCache d_dst = c.upload(dst);
  DeviceBuffer d_scales = DeviceBuffer::from_vector(scales);

  REQUIRE(layout::quantize_kv({src.cview(), dst.view(), scales.data(), c.selected, c.range,
                               c.dst_begin})
              .is_ok());
  const Status s = cuda::quantize_kv({d_src.cview(), d_dst.view(),
                                      reinterpret_cast<float*>(d_scales.get()), c.selected,
                                      c.range, c.dst_begin},
                                     nullptr);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  test::check_cuda(cudaDeviceSynchronize());
  CHECK(test::same_bytes(d_dst, dst));
  const std::vector<std::byte> got = d_scales.download(scales.size() * sizeof(float));
  CHECK(std::memcmp(got.data(), scales.data(), got.size()) == 0);
}

void check_dequantize(const QuantCase& c) {
  INFO(c.describe(c.quant_dtype, c.float_dtype));
  OwnedCache src = c.make_src(c.quant_dtype, 19);
  OwnedCache dst = c.make_dst(c.float_dtype);
  std::vector<float> scales(static_cast<std::size_t>(c.layers * 2 * c.src_tokens * c.heads));
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> dist(1e-3f, 0.1f);
  for (float& x : scales) x = dist(rng);
  const DeviceCache d_src = c.upload(src);
  const DeviceCache d_dst = c.upload(dst);
  DeviceBuffer d_scales = DeviceBuffer::from_vector(scales);

  REQUIRE(layout::dequantize_kv({src.cview(), scales.data(), dst.view(), c.selected, c.range,
                                 c.dst_begin})
              .is_ok());
  const Status s = cuda::dequantize_kv({d_src.cview(),
                                        reinterpret_cast<const float*>(d_scales.get()),
                                        d_dst.view(), c.selected, c.range, c.dst_begin},
                                       nullptr);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  test::check_cuda(cudaDeviceSynchronize());
  CHECK(test::same_bytes(d_dst, dst));
}

constexpr DType kFloatTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr DType kQuantTypes[] = {DType::kFP8E4M3, DType::kI8};

}  // namespace

// Every float/quantised dtype pair at awkward sizes: page sizes around 16, head_dim 64 / 80
// / 128, one or eight heads.
template <class F>
void for_awkward_sizes(F&& check) {
  for (DType f : kFloatTypes) {
    for (DType q : kQuantTypes) {
      for (std::int64_t page : {1, 3, 16, 17}) {
        for (std::int64_t head_dim : {64, 80, 128}) {
          for (std::int64_t heads : {1, 8}) {
            QuantCase c;
            c.float_dtype = f;
            c.quant_dtype = q;
            c.head_dim = head_dim;
            c.heads = heads;
            check(c, page);
          }
        }
      }
    }
  }
}

// Every source layout with pages of `src_page` tokens against every destination layout with
// pages of `dst_page`, the other fields at QuantCase's defaults.
template <class F>
void for_layout_pairs(std::int64_t src_page, std::int64_t dst_page, F&& check) {
  for (const LayoutSpec& s : test::all_specs(src_page)) {
    for (const LayoutSpec& d : test::all_specs(dst_page)) {
      QuantCase c;
      c.src = s;
      c.dst = d;
      check(c);
    }
  }
}

// Every float/quantised dtype pair off the vectorised path: head_dim 12 (a row no vector
// width divides) and head_dim 128 on buffers misaligned by one element.
template <class F>
void for_unvectorised(F&& check) {
  for (DType f : kFloatTypes) {
    for (DType q : kQuantTypes) {
      for (std::int64_t head_dim : {12, 128}) {
        QuantCase c;
        c.float_dtype = f;
        c.quant_dtype = q;
        c.head_dim = head_dim;
        c.misalign = head_dim == 128;
        check(c);
      }
    }
  }
}

TEST_CASE("quantize_kv matches the host at awkward sizes for every dtype pair") {
  for_awkward_sizes([](QuantCase c, std::int64_t page) {
    c.src.page_size = page;
    c.dst_tokens = 40;
    c.range = {3, 37};
    c.dst_begin = 5;
    check_quantize(c);
  });
}

TEST_CASE("quantize_kv matches the host for every layout pair") {
  for_layout_pairs(3, 16, [](QuantCase c) {
    c.head_dim = 80;
    check_quantize(c);
  });
}

TEST_CASE("quantize_kv matches the host on the unvectorised path") {
  for_unvectorised(check_quantize);
}

TEST_CASE("quantize_kv and dequantize_kv move a layer subset with gaps") {
  QuantCase c;
  c.layers = 8;
  c.selected = LayerSet::from_mask(0b10110010);  // {1, 4, 5, 7}
  c.src = {LayoutKind::kCsr, HeadOrder::kHND, KvPlacement::kFused, 16};
  c.src_tokens = 50;
  c.dst_tokens = 30;
  c.range = {10, 40};
  check_quantize(c);
  std::swap(c.src, c.dst);
  std::swap(c.src_tokens, c.dst_tokens);
  c.range = {0, 30};
  c.dst_begin = 17;
  check_dequantize(c);
}

TEST_CASE("dequantize_kv matches the host at awkward sizes for every dtype pair") {
  for_awkward_sizes([](QuantCase c, std::int64_t page) {  // scatter: transfer -> paged
    c.src = {LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, page};
    c.dst = {LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kFused, page};
    c.dst_tokens = 41;
    c.dst_begin = 4;
    check_dequantize(c);
  });
}

TEST_CASE("dequantize_kv matches the host for every layout pair and unvectorised") {
  for_layout_pairs(17, 1, [](QuantCase c) {
    c.head_dim = 64;
    c.quant_dtype = DType::kI8;
    check_dequantize(c);
  });
  for_unvectorised(check_dequantize);
}

TEST_CASE("quantize_kv validates before launching") {
  QuantCase c;
  OwnedCache src = test::make_cache(c.src, DType::kBF16, 3, 37, 8, 128, 13);
  OwnedCache dst = test::make_cache(c.dst, DType::kF16, 3, 37, 8, 128, 0);
  const DeviceCache d_src(src);
  const DeviceCache d_dst(dst);
  DeviceBuffer d_scales(3 * 2 * 37 * 8 * sizeof(float));
  const Status s = cuda::quantize_kv({d_src.cview(), d_dst.view(),
                                      reinterpret_cast<float*>(d_scales.get()), LayerSet::all(3),
                                      {0, 37}, 0},
                                     nullptr);
  CHECK(s.code() == StatusCode::kErrorInvalidArgument);
  CHECK(s.message().find("fp8_e4m3 or int8") != std::string::npos);
}

TEST_CASE("quantize_kv and dequantize_kv: grids of many waves") {
  // 3 layers x 2 x 30000 tokens = 180000 units of 6 rows: the grid-stride loop iterates.
  QuantCase c;
  c.heads = 6;
  c.head_dim = 64;
  c.src_tokens = c.dst_tokens = 30000;
  c.range = {0, 30000};
  check_quantize(c);
  std::swap(c.src, c.dst);
  check_dequantize(c);
}
