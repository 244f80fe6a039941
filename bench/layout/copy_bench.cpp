// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Host gather (paged -> transfer) and scatter (transfer -> paged) against memcpy of
//! the same bytes, measured in the same benchmark: bf16, head_dim 128, 8 KV heads, page 16;
//! and the finite check a receiver runs over every KV it adopts, against memcpy alike.
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/finite.hpp"
#include "kv_bench_shape.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

using namespace droidspeak::bench;

struct Caches {
  std::int64_t tokens;
  std::vector<std::int32_t> table;
  std::vector<std::byte> k_pool, v_pool, transfer;
  BlockTableLayout paged;
  TransferLayout flat;

  explicit Caches(std::int64_t mib)
      : tokens(tokens_of(mib)),
        table(shuffled_table(pages_of(tokens))),
        paged(paged_layout(table.data(), tokens)),
        flat(transfer_layout(tokens)) {
    k_pool.assign(static_cast<std::size_t>(paged.pool_elements() * 2), std::byte{1});
    v_pool.assign(k_pool.size(), std::byte{2});
    transfer.assign(static_cast<std::size_t>(flat.pool_elements() * 2), std::byte{3});
  }
  KvView paged_view() { return {k_pool.data(), v_pool.data(), DType::kBF16, paged}; }
  KvView flat_view() { return {transfer.data(), DType::kBF16, flat}; }
};

double seconds_of(auto&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Times `op` and a memcpy of the same `bytes` alternately in every iteration (so a change in
// machine load hits both alike), and reports the op's bytes/s and the ratio memcpy time /
// op time: 1.0 means the op runs at memcpy speed.
template <class Op>
void run_against_memcpy(benchmark::State& state, std::int64_t bytes, Op&& op) {
  std::vector<std::byte> a(static_cast<std::size_t>(bytes), std::byte{4}), b(a.size());
  double op_seconds = 0.0, memcpy_seconds = 0.0;
  std::int64_t n = 0;
  for (auto _ : state) {
    const double t = seconds_of(op);
    state.SetIterationTime(t);
    op_seconds += t;
    memcpy_seconds += seconds_of([&] {
      std::memcpy(b.data(), a.data(), a.size());
      benchmark::DoNotOptimize(b.data());
    });
    ++n;
  }
  state.SetBytesProcessed(n * bytes);
  state.counters["MiB"] = static_cast<double>(bytes) / (1 << 20);
  state.counters["memcpy_GBps"] = static_cast<double>(n * bytes) / memcpy_seconds / 1e9;
  state.counters["ratio_to_memcpy"] = memcpy_seconds / op_seconds;
}

void BM_gather_paged_to_transfer(benchmark::State& state) {
  Caches c(state.range(0));
  const KvCopyArgs args{c.paged_view(), c.flat_view(), LayerSet::all(kLayers), {0, c.tokens}, 0};
  run_against_memcpy(state, c.tokens * kBytesPerToken, [&] {
    if (!gather_kv(args).is_ok()) state.SkipWithError("gather_kv failed");
  });
}

void BM_scatter_transfer_to_paged(benchmark::State& state) {
  Caches c(state.range(0));
  const KvCopyArgs args{c.flat_view(), c.paged_view(), LayerSet::all(kLayers), {0, c.tokens}, 0};
  run_against_memcpy(state, c.tokens * kBytesPerToken, [&] {
    if (!scatter_kv(args).is_ok()) state.SkipWithError("scatter_kv failed");
  });
}

// Every other layer: only the selected layers' bytes move, and memcpy copies as many.
void BM_gather_half_the_layers(benchmark::State& state) {
  Caches c(state.range(0));
  LayerSet odd;
  for (std::int64_t l = 1; l < kLayers; l += 2) odd.insert(l);
  const KvCopyArgs args{c.paged_view(), c.flat_view(), odd, {0, c.tokens}, 0};
  run_against_memcpy(state, c.tokens * kBytesPerToken / 2, [&] {
    if (!gather_kv(args).is_ok()) state.SkipWithError("gather_kv failed");
  });
}

// The receiver's check of a landed transfer buffer (all finite, so every byte is read); the
// ratio to memcpy says how much the check adds to an adoption that copies the same bytes.
void BM_find_non_finite_transfer(benchmark::State& state) {
  Caches c(state.range(0));
  const ConstKvView flat = c.flat_view();
  run_against_memcpy(state, c.tokens * kBytesPerToken, [&] {
    Result<KvNonFinite> r = find_non_finite_kv(flat, LayerSet::all(kLayers), {0, c.tokens});
    if (!r || r->found) state.SkipWithError("find_non_finite_kv failed or found a value");
  });
}

}  // namespace

BENCHMARK(BM_find_non_finite_transfer)->Arg(8)->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gather_paged_to_transfer)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_scatter_transfer_to_paged)->RangeMultiplier(2)->Range(8, 256)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gather_half_the_layers)->Arg(64)->Arg(256)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
