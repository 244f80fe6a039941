// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA per-layer deviation against the host primitive (sums within 1e-9 relative,
//! max_abs and count exactly), bit-identical from run to run; the two-phase workspace.
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "support.cuh"

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::DeviationStats;
using droidspeak::layout::KvDeviation;
using namespace droidspeak::test::names;

namespace {

struct DeviationCase {
  LayoutSpec a{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  LayoutSpec b{LayoutKind::kTransfer, HeadOrder::kHND, KvPlacement::kSplit, 16};
  DType a_dtype = DType::kBF16;
  DType b_dtype = DType::kBF16;
  std::int64_t layers = 4;
  std::int64_t heads = 8;
  std::int64_t head_dim = 128;
  std::int64_t tokens = 300;
  LayerSet selected = LayerSet::all(4);
  layout::TokenRange range{0, 300};
  bool same_data = false;  // b holds a's values (the deviation is exactly zero)
};

void check_close(double device, double host, double scale, const char* what) {
  INFO(what << ": device " << device << ", host " << host);
  CHECK(std::fabs(device - host) <= 1e-9 * scale);
}

void check_stats(const DeviationStats& d, const DeviationStats& h) {
  check_close(d.sum_sq_diff, h.sum_sq_diff, h.sum_sq_diff, "sum_sq_diff");
  check_close(d.sum_sq_a, h.sum_sq_a, h.sum_sq_a, "sum_sq_a");
  check_close(d.sum_sq_b, h.sum_sq_b, h.sum_sq_b, "sum_sq_b");
  check_close(d.dot, h.dot, std::sqrt(h.sum_sq_a * h.sum_sq_b), "dot");
  CHECK(d.max_abs == h.max_abs);
  CHECK(d.count == h.count);
}

// Computes the deviation with the host and twice with the kernels; the device entries of
// unselected layers must keep their poison.
void check_deviation(const DeviationCase& c) {
  INFO(test::describe(c.a, c.a_dtype) << " vs " << test::describe(c.b, c.b_dtype)
                                      << ", head_dim " << c.head_dim << ", heads " << c.heads
                                      << ", tokens " << c.range.to_string() << ", layers "
                                      << c.selected.to_string());
  OwnedCache a = test::make_cache(c.a, c.a_dtype, c.layers, c.tokens, c.heads, c.head_dim, 29);
  OwnedCache b = test::make_cache(c.b, c.b_dtype, c.layers, c.tokens, c.heads, c.head_dim,
                                  c.same_data ? 0 : 31);
  if (c.same_data) {
    REQUIRE(layout::copy_kv({a.cview(), b.view(), LayerSet::all(c.layers), {0, c.tokens}, 0})
                .is_ok());
  }
  const DeviceCache d_a(a);
  const DeviceCache d_b(b);
  const layout::KvDeviationArgs host_args{a.cview(), b.cview(), c.selected, c.range};
  const layout::KvDeviationArgs args{d_a.cview(), d_b.cview(), c.selected, c.range};

  std::vector<KvDeviation> expected(static_cast<std::size_t>(c.layers));
  REQUIRE(layout::kv_deviation(host_args, expected).is_ok());

  std::size_t bytes = 0;
  REQUIRE(cuda::kv_deviation(args, nullptr, nullptr, bytes, nullptr).is_ok());
  DeviceBuffer workspace(bytes);
  const std::size_t out_bytes = static_cast<std::size_t>(c.layers) * sizeof(KvDeviation);
  const std::vector<std::byte> poison(out_bytes, std::byte{0xFF});
  std::vector<std::byte> runs[2];
  for (std::vector<std::byte>& run : runs) {
    DeviceBuffer d_out = DeviceBuffer::from_vector(poison);
    const Status s = cuda::kv_deviation(args, reinterpret_cast<KvDeviation*>(d_out.get()),
                                        workspace.get(), bytes, nullptr);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    run = d_out.download(out_bytes);
  }
  CHECK(runs[0] == runs[1]);  // deterministic, to the bit

  std::vector<KvDeviation> got(static_cast<std::size_t>(c.layers));
  std::memcpy(got.data(), runs[0].data(), out_bytes);
  for (std::int64_t l = 0; l < c.layers; ++l) {
    INFO("layer " << l);
    if (!c.selected.contains(l)) {
      CHECK(std::memcmp(runs[0].data() + l * sizeof(KvDeviation), poison.data(),
                        sizeof(KvDeviation)) == 0);
      continue;
    }
    check_stats(got[static_cast<std::size_t>(l)].k, expected[static_cast<std::size_t>(l)].k);
    check_stats(got[static_cast<std::size_t>(l)].v, expected[static_cast<std::size_t>(l)].v);
  }
}

}  // namespace

TEST_CASE("kv_deviation matches the host and repeats bit for bit") {
  check_deviation(DeviationCase{});
}

TEST_CASE("kv_deviation across layouts, dtypes and awkward sizes") {
  for (std::int64_t page : {1, 3, 17}) {
    for (std::int64_t head_dim : {64, 80}) {
      for (std::int64_t heads : {1, 8}) {
        DeviationCase c;
        c.a = {LayoutKind::kCsr, HeadOrder::kHND, KvPlacement::kFused, page};
        c.b = {LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, page + 1};
        c.a_dtype = DType::kF16;
        c.b_dtype = DType::kFP8E4M3;
        c.head_dim = head_dim;
        c.heads = heads;
        c.tokens = 37;
        c.range = {2, 35};
        check_deviation(c);
      }
    }
  }
  for (DType a : kAllDTypes) {
    for (DType b : kAllDTypes) {
      for (std::int64_t head_dim : {128, 12}) {  // 12: the unvectorised path
        DeviationCase c;
        c.a_dtype = a;
        c.b_dtype = b;
        c.head_dim = head_dim;
        c.tokens = 33;
        c.range = {0, 33};
        check_deviation(c);
      }
    }
  }
}

TEST_CASE("kv_deviation over a layer subset with gaps, many blocks per layer") {
  DeviationCase c;
  c.layers = 9;
  c.selected = LayerSet::from_mask(0b100100101);  // {0, 2, 5, 8}
  c.tokens = 2000;  // 16000 rows per layer and part: the most blocks per part
  c.range = {7, 1999};
  check_deviation(c);
}

TEST_CASE("kv_deviation of identical caches is exactly zero") {
  DeviationCase c;
  c.same_data = true;
  c.b_dtype = DType::kBF16;
  check_deviation(c);
}

TEST_CASE("kv_deviation workspace query and checks") {
  DeviationCase c;
  OwnedCache a = test::make_cache(c.a, c.a_dtype, 4, 300, 8, 128, 29);
  OwnedCache b = test::make_cache(c.b, c.b_dtype, 4, 300, 8, 128, 31);
  const DeviceCache d_a(a);
  const DeviceCache d_b(b);
  const layout::KvDeviationArgs args{d_a.cview(), d_b.cview(), LayerSet::all(4), {0, 300}};
  std::size_t bytes = 0;
  REQUIRE(cuda::kv_deviation(args, nullptr, nullptr, bytes, nullptr).is_ok());
  CHECK(bytes > 0);
  DeviceBuffer workspace(bytes);
  DeviceBuffer out(4 * sizeof(KvDeviation));
  auto* d_out = reinterpret_cast<KvDeviation*>(out.get());
  std::size_t smaller = bytes - 1;
  CHECK(cuda::kv_deviation(args, d_out, workspace.get(), smaller, nullptr).code() ==
        StatusCode::kErrorWorkspaceTooSmall);
  CHECK(cuda::kv_deviation(args, nullptr, workspace.get(), bytes, nullptr).code() ==
        StatusCode::kErrorInvalidArgument);
  layout::KvDeviationArgs bad = args;
  bad.tokens = {0, 301};
  std::size_t query = 0;
  CHECK(cuda::kv_deviation(bad, nullptr, nullptr, query, nullptr).code() ==
        StatusCode::kErrorOutOfRange);
  test::check_cuda(cudaDeviceSynchronize());
}

TEST_CASE("kv_deviation over many tokens: every block's groups take several tokens") {
  // 20000 tokens: 256 blocks per layer and part (the cap), each group of lanes walking
  // about 5 tokens; the sums still match the host and repeat bit for bit.
  DeviationCase c;
  c.layers = 2;
  c.selected = LayerSet::all(2);
  c.heads = 4;
  c.head_dim = 64;
  c.tokens = 20000;
  c.range = {0, 20000};
  check_deviation(c);
}
