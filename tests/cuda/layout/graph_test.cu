// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The launchers capture into a CUDA graph (global capture mode: no synchronising
//! call allowed) and the graph replays with new data in the same buffers.
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/quantize.hpp"
#include "support.cuh"

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::KvDeviation;
using namespace droidspeak::test::names;

TEST_CASE("copy, quantise and deviation capture into a CUDA graph and replay") {
  const LayoutSpec paged{LayoutKind::kBlockTable, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  const LayoutSpec transfer{LayoutKind::kTransfer, HeadOrder::kNHD, KvPlacement::kSplit, 16};
  const std::int64_t layers = 6, tokens = 45, heads = 8, dim = 128;
  const LayerSet selected = LayerSet::from_mask(0b110101);  // {0, 2, 4, 5}
  OwnedCache src = test::make_cache(paged, DType::kBF16, layers, tokens, heads, dim, 3);
  OwnedCache copy = test::make_cache(transfer, DType::kBF16, layers, tokens, heads, dim, 0);
  OwnedCache quant = test::make_cache(transfer, DType::kFP8E4M3, layers, tokens, heads, dim, 0);
  std::vector<float> scales(static_cast<std::size_t>(layers * 2 * tokens * heads), -1.0f);
  DeviceCache d_src(src);  // not const: replays upload new values
  const DeviceCache d_copy(copy);
  const DeviceCache d_quant(quant);
  DeviceBuffer d_scales = DeviceBuffer::from_vector(scales);
  DeviceBuffer d_out(static_cast<std::size_t>(layers) * sizeof(KvDeviation));

  const layout::KvCopyArgs copy_args{d_src.cview(), d_copy.view(), selected, {0, tokens}, 0};
  const layout::KvQuantizeArgs quant_args{d_src.cview(), d_quant.view(),
                                          reinterpret_cast<float*>(d_scales.get()), selected,
                                          {0, tokens}, 0};
  const layout::KvDeviationArgs dev_args{d_src.cview(), d_quant.cview(), selected, {0, tokens}};
  std::size_t bytes = 0;
  REQUIRE(cuda::kv_deviation(dev_args, nullptr, nullptr, bytes, nullptr).is_ok());
  DeviceBuffer workspace(bytes);

  cudaStream_t stream = nullptr;
  test::check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  test::check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const Status s1 = cuda::copy_kv(copy_args, stream);
  const Status s2 = cuda::quantize_kv(quant_args, stream);
  const Status s3 = cuda::kv_deviation(dev_args, reinterpret_cast<KvDeviation*>(d_out.get()),
                                       workspace.get(), bytes, stream);
  cudaGraph_t graph = nullptr;
  test::check_cuda(cudaStreamEndCapture(stream, &graph));
  REQUIRE_MESSAGE(s1.is_ok(), s1.to_string());
  REQUIRE_MESSAGE(s2.is_ok(), s2.to_string());
  REQUIRE_MESSAGE(s3.is_ok(), s3.to_string());
  cudaGraphExec_t exec = nullptr;
  test::check_cuda(cudaGraphInstantiate(&exec, graph, 0));

  for (std::uint64_t seed : {3u, 77u}) {
    INFO("replay with data seed " << seed);
    if (seed != 3u) {  // new values in the same buffers: the graph must pick them up
      src.k = test::random_bytes(DType::kBF16, src.owned.layout.pool_elements(), seed);
      src.v = test::random_bytes(DType::kBF16, src.owned.layout.pool_elements(), seed + 1);
      d_src.k.upload(src.k.data(), src.k.size());
      d_src.v.upload(src.v.data(), src.v.size());
    }
    // The uploads ran on the legacy stream, which a non-blocking stream does not wait for.
    test::check_cuda(cudaDeviceSynchronize());
    test::check_cuda(cudaGraphLaunch(exec, stream));
    test::check_cuda(cudaStreamSynchronize(stream));

    REQUIRE(layout::copy_kv({src.cview(), copy.view(), selected, {0, tokens}, 0}).is_ok());
    REQUIRE(layout::quantize_kv({src.cview(), quant.view(), scales.data(), selected,
                                 {0, tokens}, 0})
                .is_ok());
    std::vector<KvDeviation> expected(static_cast<std::size_t>(layers));
    REQUIRE(layout::kv_deviation({src.cview(), quant.cview(), selected, {0, tokens}}, expected)
                .is_ok());
    CHECK(test::same_bytes(d_copy, copy));
    CHECK(test::same_bytes(d_quant, quant));
    CHECK(d_scales.download(scales.size() * sizeof(float)) ==
          std::vector<std::byte>(reinterpret_cast<const std::byte*>(scales.data()),
                                 reinterpret_cast<const std::byte*>(scales.data() + scales.size())));
    std::vector<KvDeviation> got(static_cast<std::size_t>(layers));
    const std::vector<std::byte> raw = d_out.download(got.size() * sizeof(KvDeviation));
    std::memcpy(got.data(), raw.data(), raw.size());
    for (std::int64_t l = 0; l < layers; ++l) {
      if (!selected.contains(l)) continue;
      const auto& g = got[static_cast<std::size_t>(l)];
      const auto& e = expected[static_cast<std::size_t>(l)];
      CHECK(g.k.count == e.k.count);
      CHECK(g.v.max_abs == e.v.max_abs);
      CHECK(std::abs(g.k.sum_sq_diff - e.k.sum_sq_diff) <= 1e-9 * e.k.sum_sq_diff);
      CHECK(std::abs(g.v.sum_sq_diff - e.v.sum_sq_diff) <= 1e-9 * e.v.sum_sq_diff);
    }
  }
  test::check_cuda(cudaGraphExecDestroy(exec));
  test::check_cuda(cudaGraphDestroy(graph));
  test::check_cuda(cudaStreamDestroy(stream));
}
