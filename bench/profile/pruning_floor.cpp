// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The floor of the profiler's exact pruning (bench/RESULTS.md, "Profiling cost, every
//! pass counted"): every grid plan's KL or loss on each sample, measured without pruning, then
//! the pruning rule (profile/detail/pruning.hpp) replayed by a schedule that knows every value
//! in advance: group by group of as many layers, each group's best plan first, each plan on its
//! own worst samples first. It prints that schedule's cost beside the profiler's own, both as
//! a fraction of the exhaustive sweep, in layer-token passes (deterministic). No schedule of
//! whole (plan, sample) measurements under the same rule does much better than the floor.
//!
//! Usage: pruning_floor SENDER_DIR RECEIVER_DIR SAMPLES.jsonl [N] [kl|loss]  (granularity 1)
#include "droidspeak/profile/detail/pruning.hpp"
#include "droidspeak/profile/profiler.hpp"
#include "droidspeak/profile/samples_file.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/hf_loader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

using namespace droidspeak;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: pruning_floor SENDER_DIR RECEIVER_DIR SAMPLES.jsonl [N] [kl|loss]\n");
    return 2;
  }
  const std::size_t max_samples = argc > 4 ? static_cast<std::size_t>(std::atoi(argv[4])) : 8;
  const std::string measure_name = argc > 5 ? argv[5] : "kl";
  const profile::QualityMeasure measure =
      measure_name == "loss" ? profile::QualityMeasure::kLoss : profile::QualityMeasure::kKl;
  Result<reference::ModelWeights> sw = reference::load_hf_model(argv[1]);
  Result<reference::ModelWeights> rw = reference::load_hf_model(argv[2]);
  if (!sw || !rw) {
    std::fprintf(stderr, "pruning_floor: %s\n", (!sw ? sw.status() : rw.status()).to_string().c_str());
    return 1;
  }
  Result<reference::Engine> se = reference::Engine::create(*sw);
  Result<reference::Engine> re = reference::Engine::create(*rw);
  if (!se || !re) return 1;
  reference::Engine sender = std::move(se).value();
  reference::Engine receiver = std::move(re).value();
  Result<std::vector<profile::Sample>> samples =
      profile::read_samples(argv[3], receiver.vocab_size(), rw->config.max_position_embeddings);
  if (!samples) {
    std::fprintf(stderr, "pruning_floor: %s\n", samples.status().to_string().c_str());
    return 1;
  }
  if (samples->size() > max_samples) samples->resize(max_samples);
  const std::size_t count = samples->size();

  // The profiler itself, pruned: its cost, the sweep's, and the grid.
  Result<profile::ProfileResult> pruned =
      profile::profile_intervals(sender, receiver, std::span<const profile::Sample>(*samples),
                                 {.granularity = 1, .progress = {}, .prune_for = measure});
  if (!pruned) {
    std::fprintf(stderr, "pruning_floor: %s\n", pruned.status().to_string().c_str());
    return 1;
  }
  const std::int64_t L = pruned->num_layers;
  const std::vector<profile::PlanQuality>& grid = pruned->grid;
  // Every plan's value on each sample: the unpruned profile of that sample alone.
  std::vector<std::vector<double>> value(grid.size(), std::vector<double>(count, 0.0));
  for (std::size_t j = 0; j < count; ++j) {
    Result<profile::ProfileResult> one = profile::profile_intervals(
        sender, receiver, std::span<const profile::Sample>(&(*samples)[j], 1), {.granularity = 1, .progress = {}, .prune_for = {}});
    if (!one) return 1;
    for (std::size_t i = 0; i < grid.size(); ++i) value[i][j] = profile::detail::pruned_value(one->grid[i].quality, measure);
  }

  // The replay, counted as profile_intervals counts: per sample the sender's prefill, the
  // reference prefill and full reuse's suffix pass; per (plan [s, e], sample) the chain of s
  // extended through e (context and trunk) and the tail e+1 .. L-1 over the suffix.
  std::int64_t passes = 0;
  std::vector<std::vector<std::int64_t>> ran_to(count, std::vector<std::int64_t>(static_cast<std::size_t>(L)));
  for (std::size_t j = 0; j < count; ++j) {
    const auto n = static_cast<std::int64_t>((*samples)[j].context.size());
    const auto m = static_cast<std::int64_t>((*samples)[j].suffix.size());
    passes += L * n + L * (n + m) + L * m;
    std::iota(ran_to[j].begin(), ran_to[j].end(), std::int64_t{0});
  }
  auto measure_on = [&](std::size_t i, std::size_t j) {
    const std::int64_t s = grid[i].plan.intervals()[0].first;
    const std::int64_t e = grid[i].plan.intervals()[0].last;
    const auto n = static_cast<std::int64_t>((*samples)[j].context.size());
    const auto m = static_cast<std::int64_t>((*samples)[j].suffix.size());
    std::int64_t& to = ran_to[j][static_cast<std::size_t>(s)];
    if (s > 0 && to <= e) {  // the start-0 chain is the reference prefill
      passes += (e + 1 - to) * (n + m);
      to = e + 1;
    }
    passes += (L - 1 - e) * m;
  };
  std::vector<double> total(grid.size(), 0.0);
  for (std::size_t i = 0; i < grid.size(); ++i) total[i] = std::accumulate(value[i].begin(), value[i].end(), 0.0);
  // Sums stand for drops: for KL and loss the drop grows with the sum (one row count for all).
  std::vector<profile::detail::CompletePlan> complete{{0, 0, total[0]}};
  std::vector<std::size_t> order(grid.size() - 1);
  std::iota(order.begin(), order.end(), std::size_t{1});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::int64_t ka = grid[a].plan.num_recomputed(), kb = grid[b].plan.num_recomputed();
    return ka < kb || (ka == kb && total[a] < total[b]);
  });
  std::int64_t measured_pairs = 0, pruned_plans = 0;
  for (std::size_t i : order) {
    const std::int64_t k = grid[i].plan.num_recomputed();
    std::vector<std::size_t> worst(count);
    std::iota(worst.begin(), worst.end(), std::size_t{0});
    std::stable_sort(worst.begin(), worst.end(), [&](std::size_t a, std::size_t b) { return value[i][a] > value[i][b]; });
    double partial = 0.0;
    std::size_t done = 0;
    while (done < count && !profile::detail::dominated(k, i, partial, complete)) {
      measure_on(i, worst[done]);
      partial += value[i][worst[done]];
      ++done;
    }
    measured_pairs += static_cast<std::int64_t>(done);
    if (done == count) {
      complete.push_back({k, i, total[i]});
    } else {
      ++pruned_plans;
    }
  }
  const double sweep = static_cast<double>(pruned->exhaustive_cost.total().layer_token_passes);
  std::printf("%s -> %s, %zu samples, %s: profiler %.3f of the sweep (%zu of %zu plans pruned), floor %.3f (%lld of %zu "
              "plans pruned, %lld of %zu (plan, sample) pairs measured)\n",
              argv[1], argv[2], count, measure_name.c_str(),
              static_cast<double>(pruned->cost.total().layer_token_passes) / sweep,
              static_cast<std::size_t>(std::count_if(grid.begin(), grid.end(), [](const auto& p) { return !p.complete; })),
              grid.size(), static_cast<double>(passes) / sweep, static_cast<long long>(pruned_plans), grid.size(),
              static_cast<long long>(measured_pairs), (grid.size() - 1) * count);
  return 0;
}
