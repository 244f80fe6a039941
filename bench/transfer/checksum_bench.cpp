// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
// The chunk checksum's lane sums at each vector width against the generic build's, timed in
// alternating pairs in one run: the speed-up is the median of per-pair ratios (generic time /
// this width's time), with its spread and the load average. 2 MiB is one piece of a chunk as
// the UCX receiver checks it (in cache after it landed); 64 MiB streams from memory.
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/transfer/checksum.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace droidspeak;

namespace {

double seconds_of(auto&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_ChecksumLanes(benchmark::State& state) {
  const auto level = static_cast<SimdLevel>(state.range(0));
  if (runnable_simd_level(level) != level) {
    state.SkipWithError("this CPU does not run that vector width");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(1));
  std::vector<std::byte> buf(bytes);
  for (std::size_t i = 0; i < bytes; ++i) buf[i] = static_cast<std::byte>((i * 131 + 7) & 0xFF);
  auto sum_at = [&](SimdLevel l) {
    // All eight lanes escape: were only one used, the inlined generic copy would sum just that one.
    transfer::ChecksumLanes lanes = transfer::checksum_lanes(buf, 0, l);
    benchmark::DoNotOptimize(lanes);
  };
  sum_at(level);  // warm-up: page faults, caches
  sum_at(SimdLevel::kGeneric);
  std::vector<double> speedups;
  double seconds = 0.0;
  const double load_before = profile::load_average();
  for (auto _ : state) {
    double t = 0.0, generic = 0.0;
    if (speedups.size() % 2 == 0) {
      t = seconds_of([&] { sum_at(level); });
      generic = seconds_of([&] { sum_at(SimdLevel::kGeneric); });
    } else {
      generic = seconds_of([&] { sum_at(SimdLevel::kGeneric); });
      t = seconds_of([&] { sum_at(level); });
    }
    state.SetIterationTime(t);
    seconds += t;
    speedups.push_back(generic / t);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  const Result<profile::RatioSummary> s = profile::summarize(speedups);
  if (!s) {
    state.SkipWithError("no pairs to summarise");
    return;
  }
  state.SetLabel(to_string(level));
  state.counters["GBps"] = static_cast<double>(speedups.size() * bytes) / seconds / 1e9;
  state.counters["x_generic"] = s->median;
  state.counters["x_min"] = s->min;
  state.counters["x_max"] = s->max;
  state.counters["load"] = std::max(load_before, profile::load_average());
}

BENCHMARK(BM_ChecksumLanes)
    ->ArgsProduct({{static_cast<std::int64_t>(SimdLevel::kAvx2), static_cast<std::int64_t>(SimdLevel::kAvx512)},
                   {std::int64_t{2} << 20, std::int64_t{64} << 20}})
    ->UseManualTime()
    ->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
