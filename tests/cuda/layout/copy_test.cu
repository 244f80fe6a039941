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

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::test::names;

namespace {

struct CopyCase : test::TransferCase {
  DType src_dtype = DType::kBF16;
  DType dst_dtype = DType::kBF16;
  CopyCase() { head_dim = 80; }
};

// Runs the host copy on host caches and the kernel on device copies of the same (random
// source, poisoned destination) caches, then compares every byte of the destinations.
void check_copy(const CopyCase& c) {
  INFO(c.describe(c.src_dtype, c.dst_dtype));
  OwnedCache src = c.make_src(c.src_dtype, 11);
  OwnedCache dst = c.make_dst(c.dst_dtype);
  const DeviceCache d_src = c.upload(src);
  const DeviceCache d_dst = c.upload(dst);
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

TEST_CASE("copy_kv: grids of many waves, where the grid-stride loop iterates") {
  // 3 layers x 2 x 40000 tokens = 240000 units; 64-element bf16 rows give 8 lanes a unit
  // and 32 units a block: 7500 blocks wanted, far more than one wave of any GPU.
  for (const DType to : {DType::kBF16, DType::kF32}) {
    CopyCase c;
    c.src = {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
    c.dst = {LayoutKind::kTransfer, HeadOrder::kHND, KvPlacement::kSplit, 16};
    c.dst_dtype = to;
    c.heads = 6;  // one unrolled step of 4 rows and 2 rows left over
    c.head_dim = 64;
    c.src_tokens = c.dst_tokens = 40000;
    c.range = {0, 40000};
    check_copy(c);
    std::swap(c.src, c.dst);  // and the scatter
    c.src_dtype = to;
    c.dst_dtype = DType::kBF16;
    check_copy(c);
  }
}

TEST_CASE("gather and scatter reach rows past 4 GiB of a page pool") {
  // A bf16 split pool of 2^17 + 8 pages of 16 x 8 x 128: 32 KiB a page, each pool 4 GiB
  // and a little. The request's 4 pages lie past 4 GiB (and one below), so every offset
  // of interest needs 64 bits. The same bytes sit in a small host pool whose page i is
  // the device's page table[i]: the host gather over it is the expected result.
  const std::int64_t heads = 8, dim = 128, page = 16, tokens = 60;
  const std::int64_t big_pages = (std::int64_t{1} << 17) + 8;
  const std::vector<std::int32_t> table = {(1 << 17) + 3, 5, (1 << 17) + 7, (1 << 17) + 1};
  const layout::PagePool big_pool{1, big_pages, page, heads, dim, HeadOrder::kNHD, KvPlacement::kSplit};
  const std::size_t pool_bytes = static_cast<std::size_t>(big_pool.pool_elements() * 2);
  const std::size_t page_bytes = static_cast<std::size_t>(big_pool.page_elements() * 2);
  REQUIRE(pool_bytes > (std::size_t{1} << 32));
  std::size_t free_bytes = 0, total_bytes = 0;
  test::check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes));
  REQUIRE_MESSAGE(free_bytes > 2 * pool_bytes + (std::size_t{1} << 30),
                  "needs " << 2 * pool_bytes / (1 << 20) << " MiB of free device memory");
  // Host: pages 0..3 of a small pool in table order, random contents.
  const std::vector<std::int32_t> identity = {0, 1, 2, 3};
  const layout::PagePool small_pool{1, 4, page, heads, dim, HeadOrder::kNHD, KvPlacement::kSplit};
  const layout::BlockTableLayout small{small_pool, identity.data(), 4, tokens};
  std::vector<std::byte> k = test::random_bytes(DType::kBF16, small_pool.pool_elements(), 41);
  std::vector<std::byte> v = test::random_bytes(DType::kBF16, small_pool.pool_elements(), 43);
  const layout::TransferLayout flat{1, tokens, heads, dim, HeadOrder::kNHD};
  std::vector<std::byte> expected = test::poisoned(flat.pool_elements() * 2);
  REQUIRE(layout::gather_kv({layout::ConstKvView(k.data(), v.data(), DType::kBF16, small),
                             layout::KvView(expected.data(), DType::kBF16, flat), LayerSet::all(1),
                             {0, tokens}, 0})
              .is_ok());
  // Device: the big pools with the same pages at table[i].
  DeviceBuffer d_k(pool_bytes), d_v(pool_bytes);
  test::check_cuda(cudaMemset(d_k.get(), 0, pool_bytes));
  test::check_cuda(cudaMemset(d_v.get(), 0, pool_bytes));
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::size_t at = static_cast<std::size_t>(table[i]) * page_bytes;
    d_k.upload(k.data() + i * page_bytes, page_bytes, at);
    d_v.upload(v.data() + i * page_bytes, page_bytes, at);
  }
  DeviceBuffer d_table = DeviceBuffer::from_vector(table);
  const layout::BlockTableLayout big{big_pool, reinterpret_cast<const std::int32_t*>(d_table.get()),
                                     4, tokens};
  DeviceBuffer d_flat = DeviceBuffer::from_vector(test::poisoned(flat.pool_elements() * 2));
  const Status g = cuda::gather_kv({layout::ConstKvView(d_k.get(), d_v.get(), DType::kBF16, big),
                                    layout::KvView(d_flat.get(), DType::kBF16, flat),
                                    LayerSet::all(1), {0, tokens}, 0},
                                   nullptr);
  REQUIRE_MESSAGE(g.is_ok(), g.to_string());
  test::check_cuda(cudaDeviceSynchronize());
  CHECK(d_flat.download(expected.size()) == expected);
  // Scatter it back into cleared pools: the pages past 4 GiB hold the original bytes again
  // (the last page only its 12 used tokens).
  test::check_cuda(cudaMemset(d_k.get(), 0, pool_bytes));
  test::check_cuda(cudaMemset(d_v.get(), 0, pool_bytes));
  const Status s = cuda::scatter_kv({layout::ConstKvView(d_flat.get(), DType::kBF16, flat),
                                     layout::KvView(d_k.get(), d_v.get(), DType::kBF16, big),
                                     LayerSet::all(1), {0, tokens}, 0},
                                    nullptr);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  test::check_cuda(cudaDeviceSynchronize());
  const std::size_t row_bytes = static_cast<std::size_t>(heads * dim * 2);  // one NHD token
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::size_t used = std::min<std::size_t>(static_cast<std::size_t>(page),
                                                   static_cast<std::size_t>(tokens) - i * static_cast<std::size_t>(page));
    const std::size_t at = static_cast<std::size_t>(table[i]) * page_bytes;
    const std::vector<std::byte> gk = d_k.download(used * row_bytes, at);
    const std::vector<std::byte> gv = d_v.download(used * row_bytes, at);
    CHECK(std::equal(gk.begin(), gk.end(), k.begin() + static_cast<std::ptrdiff_t>(i * page_bytes)));
    CHECK(std::equal(gv.begin(), gv.end(), v.begin() + static_cast<std::ptrdiff_t>(i * page_bytes)));
  }
}
