// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak compare`: full reuse, the plan and full recompute side by side on
//! held-out samples (quality, layers recomputed, prefill time and its ratio to full prefill,
//! timed in interleaved pairs against the full prefill), and the plan's K/V-only interval
//! tails: its prefill with and without them, measured in pairs beside the cost model.
#pragma once

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/profile/cost_calibration.hpp"
#include "droidspeak/profile/profiler.hpp"
#include "tail_saving.hpp"

namespace droidspeak_cli {

struct CompareCommand {
  fs::path plan, sender, receiver, samples;
  std::int64_t max_samples = 0;
  std::int64_t pairs = 6;  //!< measured pairs per row after a warm-up pair; even: each order
                           //!< within a pair equally often
};

//! Evaluates and prints the table on stdout.
inline Status run_compare(const CompareCommand& cmd, Pair& pair) {
  Result<ds::plan::PlanFile> file = load_plan_for(cmd.plan, pair);
  if (!file) return file.status();
  const ds::plan::QualityMeasure measure = file->measure;
  const std::string measure_name(ds::plan::to_string(measure));
  Result<std::vector<ds::profile::Sample>> samples =
      load_samples(cmd.samples, pair, cmd.max_samples);
  if (!samples) return samples.status();
  const std::int64_t L = pair.num_layers();
  struct Row {
    std::string name;
    ds::plan::ReusePlan plan;
  };
  const std::vector<Row> rows = {{"full reuse", ds::plan::ReusePlan::full_reuse(L)},
                                 {"the plan", file->plan},
                                 {"full recompute", ds::plan::ReusePlan::full_recompute(L)}};
  std::vector<ds::plan::ReusePlan> plans;
  for (const Row& r : rows) plans.push_back(r.plan);
  // One sample at a time, for the progress bar; the metrics are sums, so they add up.
  ProgressBar bar("evaluating");
  ds::profile::QualityMetrics full;
  std::vector<ds::profile::PlanQuality> q;
  for (std::size_t i = 0; i < samples->size(); ++i) {
    ds::profile::QualityMetrics f;
    Result<std::vector<ds::profile::PlanQuality>> one = ds::profile::evaluate_plans(
        pair.sender, pair.receiver, std::span(*samples).subspan(i, 1), std::span(plans), &f);
    if (!one) return one.status();
    full += f;
    if (q.empty()) q.resize(one->size());
    for (std::size_t k = 0; k < one->size(); ++k) {
      q[k].plan = (*one)[k].plan;
      q[k].quality += (*one)[k].quality;
    }
    bar.update(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(samples->size()));
  }

  // Prefill time on the first sample, each row paired against the receiver's full prefill
  // (profile::time_paired), from the sender's caches in this process: E for every layer
  // (three plans are timed), KV read in place from the sender's cache.
  const ds::profile::Sample& smp = (*samples)[0];
  const auto n = static_cast<std::int64_t>(smp.context.size());
  Result<ds::prefill::SenderCacheBuffers> sent = ds::prefill::SenderCacheBuffers::prefill(
      pair.sender, file->plan, smp.context,
      {.layers = ds::prefill::SenderLayers::kAll, .kv = ds::prefill::SenderKv::kEngineCache});
  if (!sent) return sent.status();
  std::vector<float> logits(static_cast<std::size_t>(pair.receiver.vocab_size()));
  const ds::profile::PairedTimingOptions pairing{.warmup_pairs = 1, .pairs = cmd.pairs};
  std::vector<ds::profile::PairedTiming> times;
  ProgressBar timing_bar("timing");
  for (const Row& r : rows) {
    Result<ds::profile::PairedTiming> t = ds::profile::time_paired(
        [&] { return ds::prefill::full_prefill(pair.receiver, smp.context, smp.suffix, logits); },
        [&] {
          return ds::prefill::partial_prefill(pair.receiver, r.plan, smp.context, sent->caches(),
                                              smp.suffix, logits);
        },
        pairing);
    if (!t) return t.status();
    times.push_back(*t);
    timing_bar.update(static_cast<std::int64_t>(times.size()),
                      static_cast<std::int64_t>(rows.size()));
  }
  double load = -1.0;
  for (const ds::profile::PairedTiming& t : times)
    load = std::max({load, t.load_before, t.load_after});

  // The plan's K/V-only tails: the same direct prefill with every layer in full, beside the
  // cost model calibrated on this sample (its copy rate from a transfer-layout KV buffer;
  // the direct prefill itself sends nothing, so the link is taken as free).
  std::optional<TailSaving> tail;
  if (file->plan.num_intervals() > 0) {
    Result<ds::prefill::SenderCacheBuffers> streamable = ds::prefill::SenderCacheBuffers::prefill(
        pair.sender, file->plan, smp.context, {.layers = ds::prefill::SenderLayers::kAll});
    if (!streamable) return streamable.status();
    Result<ds::profile::CostCalibration> calibration =
        ds::profile::measure_cost_calibration(pair.receiver, smp.context, streamable->caches(), smp.suffix);
    if (!calibration) return calibration.status();
    Result<ds::plan::CostInputs> inputs =
        ds::profile::cost_inputs(pair.receiver.geometry(), n, *calibration, {.bytes_per_second = 1e15});
    if (!inputs) return inputs.status();
    Result<TailSaving> t = measure_tail_saving(
        pair.receiver, file->plan, *inputs, ds::plan::CostSchedule::kSequential, cmd.pairs,
        [&](auto& engine, ds::prefill::PrefillReport* rep) {
          return ds::prefill::partial_prefill(engine, file->plan, smp.context, sent->caches(), smp.suffix,
                                              logits, rep);
        });
    if (!t) return t.status();
    tail = *t;
  }

  std::printf(
      "\n%zu held-out samples of %s; plan %s from %s; quality relative to the receiver's full "
      "prefill;\n"
      "prefill time on the first sample (%lld + %lld tokens): median of %lld pairs interleaved "
      "with the receiver's full prefill\n(after a warm-up pair), the ratio the median of the "
      "per-pair ratios with its range; load %.1f\n\n",
      samples->size(), cmd.samples.c_str(), file->plan.to_string().c_str(), cmd.plan.c_str(),
      static_cast<long long>(n), static_cast<long long>(smp.suffix.size()),
      static_cast<long long>(cmd.pairs), load);
  std::printf("  %-15s %-9s %7s  %-11s  %10s  %8s  %10s  %10s  %6s  %-11s\n", "", "plan", "layers",
              measure_label(measure_name).c_str(), "loss/token", "accuracy", "KL to full",
              "prefill", "ratio", "range");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ds::profile::QualityMetrics& m = q[i].quality;
    const ds::profile::PairedTiming& t = times[i];
    std::printf("  %-15s %-9s %7lld  %11s  %10.4f  %8.3f  %10.4f  %10s  %6.3f  %.3f-%.3f\n",
                rows[i].name.c_str(), rows[i].plan.to_string().c_str(),
                static_cast<long long>(rows[i].plan.num_recomputed()),
                drop_text(ds::profile::quality_drop(m, full, measure), measure_name).c_str(),
                m.loss(), m.accuracy(), m.kl(), ms(t.median_candidate_seconds).c_str(),
                t.ratio.median, t.ratio.min, t.ratio.max);
  }
  std::printf("  %-15s %-9s %7lld  %11s  %10s  %8s  %10s  %10s\n", "(full prefill)", "",
              static_cast<long long>(L), "", "", "", "",
              ms(times.back().median_baseline_seconds).c_str());
  std::printf(
      "  (predicted for the plan on the profiling samples: %s %s, prefill compute %.2f of full)\n",
      measure_label(measure_name).c_str(),
      drop_text(file->predicted_quality_drop, measure_name).c_str(),
      file->predicted_prefill_ratio);
  std::printf("\n");
  if (tail) {
    print_tail_saving(*tail);
  } else {
    std::printf("K/V-only tail: the plan recomputes no layer\n");
  }
  return Status::ok();
}

}  // namespace droidspeak_cli
