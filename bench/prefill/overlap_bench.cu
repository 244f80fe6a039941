// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file How well cuda::StreamPrefill overlaps its two lanes: for a few plans on a
//! Llama-shaped toy model (tests/cuda/prefill/toy_device_engine.cuh), the device time of the
//! transfer lane alone (the sender's E and KV read from pinned host memory, as after a
//! network receive), of the compute lane alone, and of the two pipelined on two streams, all
//! measured with events on the device. The target is pipelined <= 1.1 x max(transfer,
//! compute); the program prints each ratio and exits 1 when one misses it, 77 without a GPU
//! (the ctest skip code; this program is not a ctest entry).
//! Usage: overlap_bench_cuda [context_tokens (default 2048)]
#include "droidspeak/cuda/device.hpp"
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/cuda/stream_prefill.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "prefill/toy_device_engine.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

using namespace droidspeak;
using droidspeak::test::ToyConfig;
using droidspeak::test::ToyDeviceEngine;

namespace {

constexpr double kTarget = 1.1;
constexpr int kRepeats = 5;

bool ok(const Status& s, const char* what) {
  if (s.is_ok()) return true;
  std::fprintf(stderr, "overlap_bench_cuda: %s: %s\n", what, s.to_string().c_str());
  return false;
}
bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "overlap_bench_cuda: %s: %s\n", what, cudaGetErrorString(e));
  return false;
}

// Pinned host memory the device reads directly (mapped; with unified addressing the host
// pointer is the device pointer).
struct Pinned {
  void* p = nullptr;
  explicit Pinned(std::size_t bytes) { (void)ok(cudaHostAlloc(&p, bytes, cudaHostAllocMapped), "cudaHostAlloc"); }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  ~Pinned() {
    if (p != nullptr) (void)cudaFreeHost(p);
  }
  std::byte* get() const { return static_cast<std::byte*>(p); }
};

// Milliseconds of the work `enqueue` puts between two timing events on `stream`; the median
// of kRepeats runs after one warm-up. Negative on failure.
template <class F>
double median_ms(cudaStream_t stream, F&& enqueue) {
  cudaEvent_t a = nullptr, b = nullptr;
  if (!ok(cudaEventCreate(&a), "cudaEventCreate") || !ok(cudaEventCreate(&b), "cudaEventCreate")) return -1.0;
  std::vector<double> ms;
  for (int r = 0; r <= kRepeats; ++r) {
    float t = 0.0f;
    if (!ok(cudaEventRecord(a, stream), "record") || !ok(enqueue(), "enqueue") ||
        !ok(cudaEventRecord(b, stream), "record") || !ok(cudaEventSynchronize(b), "synchronize") ||
        !ok(cudaEventElapsedTime(&t, a, b), "elapsed")) {
      return -1.0;
    }
    if (r > 0) ms.push_back(t);
  }
  (void)cudaEventDestroy(a);
  (void)cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda::has_device()) {
    std::printf("overlap_bench_cuda: no GPU (no CUDA device found); nothing measured\n");
    return 77;
  }
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 2048;
  const std::int64_t m = 16;
  const ToyConfig c{.layers = 16, .hidden = 1024, .q_heads = 16, .kv_heads = 8, .head_dim = 64,
                    .ffn = 2816, .vocab = 2048, .page_size = 16, .max_tokens = n + m};
  if (n < 1 || c.max_tokens * 4 > 48 * 1024) {
    std::fprintf(stderr, "overlap_bench_cuda: context_tokens must be in [1, %d]\n", 48 * 256 - 16);
    return 2;
  }
  cudaDeviceProp prop{};
  if (!ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) return 1;
  cudaStream_t compute = nullptr, copy = nullptr;
  if (!ok(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking), "stream") ||
      !ok(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking), "stream")) {
    return 1;
  }

  // Tokens, the sender's prefill with E entering every layer, then its KV (transfer layout)
  // and E moved into pinned host memory: the bytes the transfer lane reads across the link.
  std::vector<std::int32_t> host_tokens(static_cast<std::size_t>(n + m));
  for (std::size_t i = 0; i < host_tokens.size(); ++i) host_tokens[i] = static_cast<std::int32_t>((i * 37 + 11) % 2048);
  cuda::DeviceMemory tokens, hidden;
  if (!ok(tokens.allocate(host_tokens.size() * 4), "tokens") ||
      !ok(cudaMemcpy(tokens.get(), host_tokens.data(), host_tokens.size() * 4, cudaMemcpyHostToDevice), "upload") ||
      !ok(hidden.allocate(static_cast<std::size_t>(n * c.hidden) * 4), "hidden") ||
      !ok(cudaDeviceSynchronize(), "upload")) {  // legacy-stream copy vs non-blocking streams
    return 1;
  }
  const std::span<const std::int32_t> context(reinterpret_cast<const std::int32_t*>(tokens.get()), static_cast<std::size_t>(n));
  const std::span<const std::int32_t> suffix = std::span<const std::int32_t>(
      reinterpret_cast<const std::int32_t*>(tokens.get()), host_tokens.size()).subspan(static_cast<std::size_t>(n));
  const std::span<float> h(reinterpret_cast<float*>(hidden.get()), static_cast<std::size_t>(n * c.hidden));

  std::vector<std::uint64_t> sender_seeds, receiver_seeds;
  for (std::int64_t l = 0; l < c.layers; ++l) {
    sender_seeds.push_back(100 + static_cast<std::uint64_t>(l));
    receiver_seeds.push_back(1 + static_cast<std::uint64_t>(l));
  }
  ToyDeviceEngine sender(c, sender_seeds), receiver(c, receiver_seeds);
  if (!ok(sender.init(), "sender init") || !ok(receiver.init(), "receiver init")) return 1;
  const layout::ECacheLayout e_layout{layout::LayerSet::all(c.layers), n, c.hidden};
  const layout::TransferLayout kv_layout{c.layers, n, c.kv_heads, c.head_dim, layout::HeadOrder::kNHD};
  Pinned e_host(static_cast<std::size_t>(e_layout.pool_elements()) * 4);
  Pinned kv_host(static_cast<std::size_t>(kv_layout.pool_elements()) * 4);
  if (e_host.get() == nullptr || kv_host.get() == nullptr) return 1;
  if (!ok(sender.reset(), "reset") || !ok(sender.reserve(n), "reserve") || !ok(sender.embed(context, h, compute), "embed")) {
    return 1;
  }
  for (std::int64_t l = 0; l < c.layers; ++l) {
    if (!ok(cudaMemcpyAsync(e_host.get() + e_layout.row_offset(l, 0) * 4, hidden.get(), h.size_bytes(),
                            cudaMemcpyDeviceToHost, compute), "capture E") ||
        !ok(sender.run_layers(l, l + 1, 0, n, h, compute), "sender layer")) {
      return 1;
    }
  }
  const layout::KvView kv_pinned(kv_host.get(), DType::kF32, kv_layout);
  if (!ok(cuda::copy_kv({sender.kv_cache(), kv_pinned, layout::LayerSet::all(c.layers), {0, n}, 0}, compute),
          "sender kv to pinned") ||
      !ok(cudaStreamSynchronize(compute), "sender prefill")) {
    return 1;
  }
  const prefill::SenderCaches caches{kv_pinned, layout::ConstEView(e_host.get(), DType::kF32, e_layout)};

  std::printf("overlap_bench_cuda on %s: %lld layers, hidden %lld, n = %lld, m = %lld; sender E and KV f32 in "
              "pinned host memory\n",
              prop.name, static_cast<long long>(c.layers), static_cast<long long>(c.hidden),
              static_cast<long long>(n), static_cast<long long>(m));
  std::printf("%-22s %12s %12s %12s %8s\n", "plan (recomputed)", "transfer ms", "compute ms", "pipelined ms", "ratio");
  const std::vector<std::pair<const char*, std::vector<plan::LayerInterval>>> plans = {
      {"[0,1]", {{0, 1}}},
      {"[0,1] [8,9]", {{0, 1}, {8, 9}}},
      {"[4,4] [12,12]", {{4, 4}, {12, 12}}},
      {"[2,5] [10,13]", {{2, 5}, {10, 13}}},
  };
  bool all_met = true;
  for (const auto& [label, intervals] : plans) {
    Result<plan::ReusePlan> plan = plan::ReusePlan::create(c.layers, intervals);
    if (!ok(plan.status(), "plan")) return 1;
    cuda::StreamPrefill<ToyDeviceEngine> p(receiver, plan.value(), context, caches, suffix, {});
    if (!ok(p.prepare(), "prepare")) return 1;
    const double transfer = median_ms(copy, [&] { return p.enqueue_transfer(copy); });
    const double compute_only = median_ms(compute, [&] { return p.enqueue_compute(compute); });
    const double pipelined = median_ms(compute, [&] { return p.enqueue(compute, copy); });
    if (transfer < 0 || compute_only < 0 || pipelined < 0) return 1;
    const double ratio = pipelined / std::max(transfer, compute_only);
    all_met = all_met && ratio <= kTarget;
    std::printf("%-22s %12.3f %12.3f %12.3f %8.3f%s\n", label, transfer, compute_only, pipelined, ratio,
                ratio <= kTarget ? "" : "  (misses 1.1)");
  }
  std::printf("overlap target pipelined <= %.1f x max(transfer, compute): %s\n", kTarget, all_met ? "MET" : "MISSED");
  (void)cudaStreamDestroy(compute);
  (void)cudaStreamDestroy(copy);
  return all_met ? 0 : 1;
}
