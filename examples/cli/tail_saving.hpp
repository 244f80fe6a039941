// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The K/V-only tail's saving as `compare` and `run` show it: one plan's partial prefill
//! with the tail against the same prefill with every layer in full (prefill::FullLayers),
//! timed in interleaved pairs, beside what the cost model predicts for both.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/execution.hpp"  // PrefillReport
#include "droidspeak/profile/paired_timing.hpp"

namespace droidspeak_cli {

//! What measure_tail_saving measured and predicted. Times in seconds.
struct TailSaving {
  std::int64_t intervals = 0;           //!< tails: one per interval of the plan
  double kv_only_layer_ratio = 1.0;     //!< the calibration's, the prediction's input
  ds::profile::PairedTiming timing;     //!< baseline: every layer in full; candidate: with the tail
  double recompute_with = 0.0;          //!< median recompute-lane time of the candidate runs
  double recompute_without = 0.0;       //!< and of the baseline runs
  double predicted_recompute_with = 0.0;
  double predicted_recompute_without = 0.0;
  double predicted_ratio = 1.0;         //!< predicted time to first token, with / without
};

//! Times `plan`'s partial prefill with the K/V-only tail against the same with every layer in
//! full, `pairs` pairs after a warm-up pair. `run(engine, report)` runs the prefill on the
//! engine it is given (the receiver or its FullLayers view; a generic lambda) and fills the
//! report. Predictions from `inputs` (whose kv_only_layer_ratio is the tail's) under
//! `schedule`; the recompute phase is predicted as the executor's driver measures it: the
//! pipelined compute lane from the start (its waits for E included), the sequential one
//! after the adoptions.
template <class Run>
Result<TailSaving> measure_tail_saving(ds::reference::Engine& receiver, const ds::plan::ReusePlan& plan,
                                       const ds::plan::CostInputs& inputs, ds::plan::CostSchedule schedule,
                                       std::int64_t pairs, Run&& run) {
  TailSaving out;
  out.intervals = plan.num_intervals();
  out.kv_only_layer_ratio = inputs.kv_only_layer_ratio;
  ds::prefill::FullLayers<ds::reference::Engine> full_layers(receiver);
  std::vector<double> with, without;
  auto timed = [&](auto& engine, std::vector<double>& recompute) {
    ds::prefill::PrefillReport rep;
    const Status s = run(engine, &rep);
    recompute.push_back(rep.recompute_seconds);
    return s;
  };
  const ds::profile::PairedTimingOptions pairing{.warmup_pairs = 1, .pairs = pairs};
  Result<ds::profile::PairedTiming> t = ds::profile::time_paired(
      [&] { return timed(full_layers, without); }, [&] { return timed(receiver, with); }, pairing);
  if (!t) return t.status().with_context("K/V-only tail");
  out.timing = *t;
  with.erase(with.begin(), with.begin() + pairing.warmup_pairs);
  without.erase(without.begin(), without.begin() + pairing.warmup_pairs);
  out.recompute_with = ds::profile::summarize(with)->median;
  out.recompute_without = ds::profile::summarize(without)->median;

  ds::plan::CostInputs full = inputs;
  full.kv_only_layer_ratio = 1.0;
  Result<ds::plan::CostPrediction> pw = ds::plan::predict_cost(plan, inputs, schedule);
  if (!pw) return pw.status();
  Result<ds::plan::CostPrediction> po = ds::plan::predict_cost(plan, full, schedule);
  if (!po) return po.status();
  auto recompute = [&](const ds::plan::CostPrediction& p) {
    return schedule == ds::plan::CostSchedule::kSequential ? p.recompute_end - p.kv_adopted_end : p.recompute_end;
  };
  out.predicted_recompute_with = recompute(*pw);
  out.predicted_recompute_without = recompute(*po);
  out.predicted_ratio = po->total > 0.0 ? pw->total / po->total : 1.0;
  return out;
}

//! Prints the saving: recompute with and without the tail and the time-to-first-token
//! ratio, measured beside predicted.
inline void print_tail_saving(const TailSaving& s) {
  const std::string which = s.intervals == 1 ? "the plan's interval"
                                              : "each of the plan's " + std::to_string(s.intervals) + " intervals";
  std::printf(
      "K/V-only tail: the last layer of %s writes only its K and V\n"
      "(no attention output, no MLP); calibrated in pairs, such a layer costs %.2f of a full one\n",
      which.c_str(), s.kv_only_layer_ratio);
  std::printf("  %-38s %12s  %12s\n", "", "measured", "predicted");
  std::printf("  %-38s %12s  %12s\n", "recompute, every layer in full", ms(s.recompute_without).c_str(),
              ms(s.predicted_recompute_without).c_str());
  std::printf("  %-38s %12s  %12s\n", "recompute, with the K/V-only tail", ms(s.recompute_with).c_str(),
              ms(s.predicted_recompute_with).c_str());
  std::printf("  %-38s %12.3f  %12.3f\n", "prefill with / without the tail", s.timing.ratio.median,
              s.predicted_ratio);
  std::printf("  with / without the tail: %s\n", ds::profile::describe(s.timing).c_str());
}

}  // namespace droidspeak_cli
