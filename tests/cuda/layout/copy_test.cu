// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA copy / gather / scatter and E-cache copies against the host primitives:
//! every layout pair, awkward sizes, every dtype pair, layer subsets with gaps, the
//! unvectorised path, and rows on pages outside the pool.
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/layout/copy.hpp"
#include "support.cuh"

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::HeadOrder;
using droidspeak::layout::KvPlacement;
using droidspeak::layout::LayerSet;
using droidspeak::layout::LayoutKind;
using droidspeak::test::DeviceBuffer;
using droidspeak::test::DeviceCache;
using droidspeak::test::LayoutSpec;
using droidspeak::test::OwnedCache;

namespace {

struct CopyCase {
  LayoutSpec src;
  LayoutSpec dst;
  DType src_dtype = DType::kBF16;
  DType dst_dtype = DType::kBF16;
  std::int64_t layers = 3;
  std::int64_t heads = 8;
  std::int64_t head_dim = 80;
  std::int64_t src_tokens = 37;
  std::int64_t dst_tokens = 37;
  LayerSet selected = LayerSet::all(3);
  layout::TokenRange range{0, 37};
  std::int64_t dst_begin = 0;
  bool misalign = false;  // shift both device bases by one element
};

// Runs the host copy on host caches and the kernel on device copies of the same (random
// source, poisoned destination) caches, then compares every byte of the destinations.
void check_copy(const CopyCase& c) {
  INFO(test::describe(c.src, c.src_dtype) << " -> " << test::describe(c.dst, c.dst_dtype)
                                          << ", head_dim " << c.head_dim << ", heads " << c.heads
                                          << ", tokens " << c.range.to_string() << " -> "
                                          << c.dst_begin << ", layers "
                                          << c.selected.to_string());
  OwnedCache src = test::make_cache(c.src, c.src_dtype, c.layers, c.src_tokens, c.heads,
                                    c.head_dim, 11);
  OwnedCache dst = test::make_cache(c.dst, c.dst_dtype, c.layers, c.dst_tokens, c.heads,
                                    c.head_dim, 0);
  const DeviceCache d_src(src, c.misalign ? dtype_size(c.src_dtype) : 0);
  const DeviceCache d_dst(dst, c.misalign ? dtype_size(c.dst_dtype) : 0);
  REQUIRE(layout::copy_kv({src.cview(), dst.view(), c.selected, c.range, c.dst_begin}).is_ok());
  const Status s =
      cuda::copy_kv({d_src.cview(), d_dst.view(), c.selected, c.range, c.dst_begin}, nullptr);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  test::check_cuda(cudaDeviceSynchronize());
  CHECK(test::same_bytes(d_dst, dst));
}

}  // namespace

TEST_CASE("copy_kv matches the host for every layout pair") {
  const std::pair<std::int64_t, std::int64_t> page_sizes[] = {{1, 17}, {16, 3}};
  for (const auto& [src_page, dst_page] : page_sizes) {
    for (const LayoutSpec& s : test::all_specs(src_page)) {
      for (const LayoutSpec& d : test::all_specs(dst_page)) {
        CopyCase c;
        c.src = s;
        c.dst = d;
        check_copy(c);
      }
    }
  }
}

TEST_CASE("copy_kv matches the host at awkward sizes") {
  for (std::int64_t page : {1, 3, 16, 17}) {
    for (std::int64_t head_dim : {64, 80, 128}) {
      for (std::int64_t heads : {1, 8}) {
        CopyCase gather;  // paged -> transfer, a token window moved to another position
        gather.src = {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, page};
        gather.dst = {LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, page};
        gather.head_dim = head_dim;
        gather.heads = heads;
        gather.dst_tokens = 40;
        gather.range = {5, 37};
        gather.dst_begin = 2;
        check_copy(gather);

        CopyCase scatter;  // transfer -> CSR pages
        scatter.src = {LayoutKind::kTransfer, HeadOrder::kHND, KvPlacement::kSplit, page};
        scatter.dst = {LayoutKind::kCsr, HeadOrder::kHND, KvPlacement::kFused, page};
        scatter.head_dim = head_dim;
        scatter.heads = heads;
        scatter.dst_tokens = 45;
        scatter.dst_begin = 3;
        check_copy(scatter);
      }
    }
  }
}

TEST_CASE("copy_kv matches the host for every dtype pair, vectorised or not") {
  for (DType s : kAllDTypes) {
    for (DType d : kAllDTypes) {
      for (std::int64_t head_dim : {128, 12}) {  // 12: rows too short for 16-byte vectors
        for (bool misalign : {false, true}) {
          CopyCase c;
          c.src = {LayoutKind::kBlockTable, HeadOrder::kHND, KvPlacement::kFused, 16};
          c.dst = {LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
          c.src_dtype = s;
          c.dst_dtype = d;
          c.head_dim = head_dim;
          c.misalign = misalign;
          check_copy(c);
        }
      }
    }
  }
}

TEST_CASE("copy_kv moves a layer subset with gaps in one call") {
  const LayerSet gaps = LayerSet::from_mask(0b01001101);  // {0, 2, 3, 6} of 8
  for (bool gather : {true, false}) {
    const LayoutSpec paged{LayoutKind::kCsr, HeadOrder::kNHD, KvPlacement::kSplit, 16};
    const LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
    CopyCase c;
    c.src = gather ? paged : transfer;
    c.dst = gather ? transfer : paged;
    c.layers = 8;
    c.selected = gaps;
    c.head_dim = 128;
    c.src_tokens = 50;
    c.dst_tokens = 33;
    c.range = {4, 30};
    c.dst_begin = 7;
    check_copy(c);
  }
}

TEST_CASE("copy_kv with no layers or no tokens writes nothing") {
  for (bool no_layers : {true, false}) {
    CopyCase c;
    c.src = {LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
    c.dst = {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
    c.selected = no_layers ? LayerSet{} : LayerSet::all(3);
    c.range = no_layers ? layout::TokenRange{0, 37} : layout::TokenRange{9, 9};
    check_copy(c);
  }
}

TEST_CASE("copy_kv skips rows whose page lies outside the pool") {
  const std::int64_t tokens = 50;  // blocks 0..3 of 16 tokens; blocks 1 and 2 are bad
  const LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  const LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kHND, KvPlacement::kSplit, 16};
  for (bool gather : {true, false}) {
    INFO((gather ? "gather" : "scatter"));
    OwnedCache src = test::make_cache(gather ? paged : transfer, DType::kBF16, 2, tokens, 8, 64, 5);
    OwnedCache dst = test::make_cache(gather ? transfer : paged, DType::kBF16, 2, tokens, 8, 64, 0);
    OwnedCache& bad = gather ? src : dst;
    const std::vector<std::int32_t> good_table = bad.owned.block_table;
    bad.owned.block_table[1] = static_cast<std::int32_t>(bad.owned.layout.block_table.pool.num_pages);
    bad.owned.block_table[2] = -1;
    const DeviceCache d_src(src);
    const DeviceCache d_dst(dst);
    bad.owned.block_table = good_table;  // the host refuses bad tables: copy around them
    REQUIRE(layout::copy_kv({src.cview(), dst.view(), LayerSet::all(2), {0, 16}, 0}).is_ok());
    REQUIRE(layout::copy_kv({src.cview(), dst.view(), LayerSet::all(2), {48, 50}, 48}).is_ok());
    const Status s =
        cuda::copy_kv({d_src.cview(), d_dst.view(), LayerSet::all(2), {0, tokens}, 0}, nullptr);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    test::check_cuda(cudaDeviceSynchronize());
    CHECK(test::same_bytes(d_dst, dst));
  }
}

TEST_CASE("gather_kv and scatter_kv check the direction and bad arguments launch nothing") {
  const LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kFused, 16};
  const LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  OwnedCache p = test::make_cache(paged, DType::kF16, 2, 20, 2, 64, 3);
  OwnedCache t = test::make_cache(transfer, DType::kF16, 2, 20, 2, 64, 0);
  const DeviceCache d_p(p);
  const DeviceCache d_t(t);
  const layout::KvCopyArgs gather{d_p.cview(), d_t.view(), LayerSet::all(2), {0, 20}, 0};
  const layout::KvCopyArgs wrong{d_t.cview(), d_p.view(), LayerSet::all(2), {0, 20}, 0};
  CHECK(cuda::gather_kv(wrong, nullptr).code() == StatusCode::kErrorInvalidArgument);
  CHECK(cuda::scatter_kv(gather, nullptr).code() == StatusCode::kErrorInvalidArgument);
  CHECK(cuda::gather_kv(gather, nullptr).is_ok());
  CHECK(cuda::scatter_kv(wrong, nullptr).is_ok());

  layout::KvCopyArgs too_many_layers = gather;
  too_many_layers.layers = LayerSet::all(3);
  const Status s = cuda::copy_kv(too_many_layers, nullptr);
  CHECK(s.code() == StatusCode::kErrorOutOfRange);
  CHECK(s.message().find("layer 2") != std::string::npos);
  test::check_cuda(cudaDeviceSynchronize());
}

TEST_CASE("copy_e matches the host") {
  const LayerSet src_entries = LayerSet::from_mask(0b101001);  // {0, 3, 5}
  const LayerSet dst_entries = LayerSet::from_mask(0b10101001);  // {0, 3, 5, 7}
  const LayerSet copied = LayerSet::from_mask(0b101000);  // {3, 5}
  const std::pair<DType, DType> pairs[] = {{DType::kBF16, DType::kBF16},
                                           {DType::kF32, DType::kBF16},
                                           {DType::kBF16, DType::kF32},
                                           {DType::kF16, DType::kFP8E4M3},
                                           {DType::kI8, DType::kF16}};
  for (const auto& [sd, dd] : pairs) {
    for (std::int64_t hidden : {192, 100}) {
      for (bool misalign : {false, true}) {
        INFO(to_string(sd) << " -> " << to_string(dd) << ", hidden " << hidden
                           << (misalign ? ", misaligned" : ""));
        const layout::ECacheLayout sl{src_entries, 20, hidden};
        const layout::ECacheLayout dl{dst_entries, 30, hidden};
        std::vector<std::byte> h_src = test::random_bytes(sd, sl.pool_elements(), 7);
        std::vector<std::byte> h_dst = test::poisoned(dl.pool_elements() * dtype_size(dd));
        const std::size_t s_off = misalign ? static_cast<std::size_t>(dtype_size(sd)) : 0;
        const std::size_t d_off = misalign ? static_cast<std::size_t>(dtype_size(dd)) : 0;
        DeviceBuffer d_src(h_src.size() + s_off);
        DeviceBuffer d_dst(h_dst.size() + d_off);
        d_src.upload(h_src.data(), h_src.size(), s_off);
        d_dst.upload(h_dst.data(), h_dst.size(), d_off);
        const layout::ConstEView hs(h_src.data(), sd, sl);
        const layout::EView hd(h_dst.data(), dd, dl);
        REQUIRE(layout::copy_e({hs, hd, copied, {2, 17}, 10}).is_ok());
        const layout::ConstEView ds(d_src.get() + s_off, sd, sl);
        const layout::EView dv(d_dst.get() + d_off, dd, dl);
        const Status s = cuda::copy_e({ds, dv, copied, {2, 17}, 10}, nullptr);
        REQUIRE_MESSAGE(s.is_ok(), s.to_string());
        CHECK(d_dst.download(h_dst.size(), d_off) == h_dst);
      }
    }
  }
}
