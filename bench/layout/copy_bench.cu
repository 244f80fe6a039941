// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file GPU gather (paged block-table NHD -> transfer layout) and scatter (the reverse),
//! for all layers and for a layer subset with gaps, the fused fp8 quantise-gather and
//! dequantise-scatter, and the per-layer deviation,
//! against cudaMemcpyAsync device-to-device of the same bytes in the same benchmark: bf16,
//! head_dim 128, 8 KV heads, page 16, 32 layers, 8 MiB to 256 MiB. Timed with CUDA events
//! (UseManualTime), L2 flushed before every timed operation.
#include "droidspeak/cuda/device.hpp"
#include "droidspeak/cuda/layout.hpp"
#include "kv_bench_shape.hpp"

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

using namespace droidspeak::bench;

// Reports a failed CUDA call as the benchmark's error; true when it failed.
bool failed(benchmark::State& state, cudaError_t e, const char* what) {
  if (e == cudaSuccess) return false;
  state.SkipWithError((std::string(what) + ": " + cudaGetErrorString(e)).c_str());
  return true;
}

bool no_device(benchmark::State& state) {
  if (cuda::has_device()) return false;
  state.SkipWithError("no CUDA device: GPU benchmarks need one");
  return true;
}

// A device allocation freed on scope exit.
struct DeviceMemory {
  void* ptr = nullptr;
  explicit DeviceMemory(std::size_t bytes) {
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) ptr = nullptr;
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() {
    if (ptr != nullptr) (void)cudaFree(ptr);
  }
  std::byte* bytes() const { return static_cast<std::byte*>(ptr); }
};

// A paged cache (split K/V pools, shuffled block table) and a transfer-layout cache of the
// same tokens, on the device, plus an fp8 transfer cache and its scales.
struct Caches {
  std::int64_t tokens;
  std::int64_t pages;
  DeviceMemory table, k_pool, v_pool, transfer, fp8, scales;
  BlockTableLayout paged;
  TransferLayout flat;

  explicit Caches(std::int64_t mib)
      : tokens(tokens_of(mib)),
        pages(pages_of(tokens)),
        table(static_cast<std::size_t>(pages) * sizeof(std::int32_t)),
        k_pool(static_cast<std::size_t>(kLayers * pages * kPage * kHeads * kHeadDim * 2)),
        v_pool(static_cast<std::size_t>(kLayers * pages * kPage * kHeads * kHeadDim * 2)),
        transfer(static_cast<std::size_t>(tokens * kBytesPerToken)),
        fp8(static_cast<std::size_t>(tokens * kBytesPerToken / 2)),
        scales(static_cast<std::size_t>(kLayers * 2 * tokens * kHeads) * sizeof(float)) {
    const std::vector<std::int32_t> h_table = shuffled_table(pages);
    if (table.ptr != nullptr) {
      (void)cudaMemcpy(table.ptr, h_table.data(), h_table.size() * sizeof(std::int32_t),
                       cudaMemcpyHostToDevice);
    }
    paged = paged_layout(static_cast<const std::int32_t*>(table.ptr), tokens);
    flat = transfer_layout(tokens);
    // Non-zero bf16 values (0x3C00 is 0.0078125) so the quantiser has work to do.
    if (k_pool.ptr != nullptr) {
      (void)cudaMemset(k_pool.ptr, 0x3C, static_cast<std::size_t>(paged.pool_elements() * 2));
      (void)cudaMemset(v_pool.ptr, 0x3D, static_cast<std::size_t>(paged.pool_elements() * 2));
    }
    if (transfer.ptr != nullptr) {
      (void)cudaMemset(transfer.ptr, 0x3E, static_cast<std::size_t>(flat.pool_elements() * 2));
    }
    // The set-up ran on the legacy stream; the timed work runs on a non-blocking one.
    (void)cudaDeviceSynchronize();
  }
  bool ok() const {
    return table.ptr && k_pool.ptr && v_pool.ptr && transfer.ptr && fp8.ptr && scales.ptr;
  }
  KvView paged_view() const { return {k_pool.bytes(), v_pool.bytes(), DType::kBF16, paged}; }
  KvView flat_view() const { return {transfer.bytes(), DType::kBF16, flat}; }
  KvView fp8_view() const { return {fp8.bytes(), DType::kFP8E4M3, flat}; }
};

// Times `op` and a cudaMemcpyAsync of `bytes` bytes alternately in every iteration, each
// after an L2 flush, with CUDA events; reports the op's bytes/s and the ratio memcpy time
// / op time (1.0: the op runs at device-to-device memcpy speed).
// `bytes` is what a memcpy of the same traffic copies: (bytes read + bytes written) / 2.
template <class Op>
void run_against_memcpy(benchmark::State& state, std::int64_t bytes, Op&& op) {
  int device = 0;
  int l2 = 0;
  if (failed(state, cudaGetDevice(&device), "cudaGetDevice") ||
      failed(state, cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device),
             "cudaDeviceGetAttribute")) {
    return;
  }
  const std::size_t flush_bytes = static_cast<std::size_t>(l2 > 0 ? l2 : 1 << 20) * 2;
  DeviceMemory flush(flush_bytes), a(static_cast<std::size_t>(bytes)),
      b(static_cast<std::size_t>(bytes));
  if (flush.ptr == nullptr || a.ptr == nullptr || b.ptr == nullptr) {
    state.SkipWithError("cudaMalloc failed for the memcpy baseline");
    return;
  }
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  if (failed(state, cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream") ||
      failed(state, cudaEventCreate(&start), "event") ||
      failed(state, cudaEventCreate(&stop), "event")) {
    return;
  }
  auto timed = [&](auto&& fn) -> float {
    (void)cudaMemsetAsync(flush.ptr, 0, flush_bytes, stream);
    (void)cudaEventRecord(start, stream);
    fn(stream);
    (void)cudaEventRecord(stop, stream);
    (void)cudaEventSynchronize(stop);
    float ms = 0.0f;
    (void)cudaEventElapsedTime(&ms, start, stop);
    return ms;
  };
  // Warm-up (first launch, page faults of fresh allocations).
  op(stream);
  (void)cudaMemcpyAsync(b.ptr, a.ptr, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice,
                        stream);
  if (failed(state, cudaStreamSynchronize(stream), "warm-up")) return;

  double op_ms = 0.0, memcpy_ms = 0.0;
  std::int64_t n = 0;
  for (auto _ : state) {
    const float t = timed(op);
    state.SetIterationTime(t / 1e3);
    op_ms += t;
    memcpy_ms += timed([&](cudaStream_t s) {
      (void)cudaMemcpyAsync(b.ptr, a.ptr, static_cast<std::size_t>(bytes),
                            cudaMemcpyDeviceToDevice, s);
    });
    ++n;
  }
  if (failed(state, cudaGetLastError(), "benchmark loop")) return;
  state.SetBytesProcessed(n * bytes);
  state.counters["MiB"] = static_cast<double>(bytes) / (1 << 20);
  state.counters["memcpy_GBps"] = static_cast<double>(n * bytes) / (memcpy_ms / 1e3) / 1e9;
  state.counters["ratio_to_memcpy"] = memcpy_ms / op_ms;
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  (void)cudaStreamDestroy(stream);
}

// Launches a copy; a failed launch stops the benchmark with its status.
auto copy_op(benchmark::State& state, const KvCopyArgs& args) {
  return [&state, args](cudaStream_t s) {
    const Status st = cuda::copy_kv(args, s);
    if (!st.is_ok()) state.SkipWithError(st.to_string().c_str());
  };
}

// The layers a DroidSpeak plan typically reuses: all but two recomputed intervals
// ({4..7} and {20..23}), 24 of 32 layers, in one launch. memcpy copies as many bytes.
LayerSet layers_with_gaps() {
  LayerSet s = LayerSet::all(kLayers);
  for (std::int64_t l : {4, 5, 6, 7, 20, 21, 22, 23}) s.erase(l);
  return s;
}

// Gather (paged -> transfer) or scatter of `layers`; memcpy copies as many bytes.
void bench_copy(benchmark::State& state, bool gather, const LayerSet& layers) {
  if (no_device(state)) return;
  const Caches c(state.range(0));
  if (!c.ok()) return state.SkipWithError("cudaMalloc failed");
  const KvCopyArgs args{gather ? c.paged_view() : c.flat_view(),
                        gather ? c.flat_view() : c.paged_view(), layers, {0, c.tokens}, 0};
  run_against_memcpy(state, c.tokens * kBytesPerToken / kLayers * layers.count(),
                     copy_op(state, args));
}

void BM_gather_paged_to_transfer(benchmark::State& state) {
  bench_copy(state, true, LayerSet::all(kLayers));
}
void BM_scatter_transfer_to_paged(benchmark::State& state) {
  bench_copy(state, false, LayerSet::all(kLayers));
}
void BM_gather_layer_subset(benchmark::State& state) { bench_copy(state, true, layers_with_gaps()); }
void BM_scatter_layer_subset(benchmark::State& state) {
  bench_copy(state, false, layers_with_gaps());
}

// Times `pass(stream)`, a bf16 <-> fp8 pass over the whole cache (scales included), against
// a memcpy of half its traffic; a pass that fails skips the benchmark.
template <class Pass>
void run_fp8_pass(benchmark::State& state, const Caches& c, Pass pass) {
  const std::int64_t rows = kLayers * 2 * c.tokens * kHeads;
  const std::int64_t traffic = c.tokens * kBytesPerToken * 3 / 2 + rows * 4;
  run_against_memcpy(state, traffic / 2, [&state, pass](cudaStream_t s) {
    const Status st = pass(s);
    if (!st.is_ok()) state.SkipWithError(st.to_string().c_str());
  });
}

// bf16 paged -> fp8 transfer with one scale per (layer, part, token, head): reads 2 bytes,
// writes 1 byte per element plus 4 bytes per row; memcpy copies half that traffic.
void BM_gather_quantize_fp8(benchmark::State& state) {
  if (no_device(state)) return;
  const Caches c(state.range(0));
  if (!c.ok()) return state.SkipWithError("cudaMalloc failed");
  const KvQuantizeArgs args{c.paged_view(), c.fp8_view(), static_cast<float*>(c.scales.ptr),
                            LayerSet::all(kLayers), {0, c.tokens}, 0};
  run_fp8_pass(state, c, [args](cudaStream_t s) { return cuda::quantize_kv(args, s); });
}

// fp8 transfer -> bf16 paged with the scales of the quantise: the reverse traffic.
void BM_scatter_dequantize_fp8(benchmark::State& state) {
  if (no_device(state)) return;
  const Caches c(state.range(0));
  if (!c.ok()) return state.SkipWithError("cudaMalloc failed");
  const KvDequantizeArgs args{c.fp8_view(), static_cast<const float*>(c.scales.ptr),
                              c.paged_view(), LayerSet::all(kLayers), {0, c.tokens}, 0};
  (void)cudaMemset(c.scales.ptr, 0, static_cast<std::size_t>(kLayers * 2 * c.tokens * kHeads) * 4);
  run_fp8_pass(state, c, [args](cudaStream_t s) { return cuda::dequantize_kv(args, s); });
}

// Per-layer deviation of the paged cache against the transfer one (both bf16): reads both,
// writes a few statistics; memcpy moves the same traffic by copying one cache's bytes.
void BM_deviation_paged_vs_transfer(benchmark::State& state) {
  if (no_device(state)) return;
  const Caches c(state.range(0));
  if (!c.ok()) return state.SkipWithError("cudaMalloc failed");
  const KvDeviationArgs args{c.paged_view(), c.flat_view(), LayerSet::all(kLayers), {0, c.tokens}};
  std::size_t workspace_bytes = 0;
  if (!cuda::kv_deviation(args, nullptr, nullptr, workspace_bytes, nullptr).is_ok()) {
    return state.SkipWithError("kv_deviation size query failed");
  }
  const DeviceMemory workspace(workspace_bytes), out(sizeof(KvDeviation) * kLayers);
  if (workspace.ptr == nullptr || out.ptr == nullptr) return state.SkipWithError("cudaMalloc failed");
  run_against_memcpy(state, c.tokens * kBytesPerToken, [&](cudaStream_t s) {
    std::size_t bytes = workspace_bytes;
    const Status st = cuda::kv_deviation(args, static_cast<KvDeviation*>(out.ptr), workspace.ptr,
                                         bytes, s);
    if (!st.is_ok()) state.SkipWithError(st.to_string().c_str());
  });
}

}  // namespace

BENCHMARK(BM_gather_paged_to_transfer)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_scatter_transfer_to_paged)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gather_layer_subset)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_scatter_layer_subset)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gather_quantize_fp8)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_scatter_dequantize_fp8)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_deviation_paged_vs_transfer)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
