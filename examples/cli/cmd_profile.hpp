// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak profile`: profile a pair over samples, select a plan, write the plan
//! file, print the Pareto front and draw the grid and the front.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "charts.hpp"
#include "common.hpp"
#include "droidspeak/plan/candidates.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/profile/guard_calibration.hpp"
#include "droidspeak/profile/profiler.hpp"

namespace droidspeak_cli {

struct ProfileCommand {
  fs::path sender, receiver, samples, out;
  fs::path svg_dir;  //!< where grid.svg and pareto.svg go; empty: next to `out`
  std::int64_t granularity = 1;
  double threshold = 0.05;
  std::int64_t max_intervals = 1;
  std::string measure = "loss";
  std::int64_t max_samples = 0;
  //! Prune exactly for a loss or KL measure: plans that provably cannot be on the front or be
  //! selected stop being measured (profile::ProfileOptions::prune_for); the front and the
  //! selection are the exhaustive sweep's. Accuracy, f1 and exact never prune, nor does any
  //! measure on task samples (every plan generates its answers).
  bool prune = true;
};

//! Profiles, selects, writes `cmd.out` and the two pictures; prints a report on stdout.
inline Status run_profile(const ProfileCommand& cmd, Pair& pair,
                          ds::plan::PlanFile* written = nullptr) {
  Result<ds::plan::QualityMeasure> measure = ds::plan::parse_quality_measure(cmd.measure);
  if (!measure) return measure.status();
  const std::int64_t L = pair.num_layers();
  if (cmd.granularity > L) {
    return Status::invalid_argument("--granularity " + std::to_string(cmd.granularity) +
                                    " exceeds the model's " + std::to_string(L) + " layers");
  }
  Result<std::vector<ds::profile::Sample>> samples =
      load_samples(cmd.samples, pair, cmd.max_samples);
  if (!samples) return samples.status();
  DROIDSPEAK_TRY(check_measure_fits(*measure, *samples, cmd.samples));
  const bool answers = all_have_answers(*samples);
  std::int64_t n_sum = 0, m_sum = 0;
  for (const ds::profile::Sample& s : *samples) {
    n_sum += static_cast<std::int64_t>(s.context.size());
    m_sum += static_cast<std::int64_t>(s.suffix.size());
  }
  const auto count = static_cast<std::int64_t>(samples->size());
  std::printf("sender   %s (%s)\nreceiver %s (%s)\n%s\n", pair.sender_dir.c_str(),
              describe(pair.sender_weights.config).c_str(), pair.receiver_dir.c_str(),
              describe(pair.receiver_weights.config).c_str(), describe(pair.compat).c_str());
  std::printf(
      "profiling %lld %ssamples of %s (%lld context + %lld %s tokens on average), granularity "
      "%lld\n",
      static_cast<long long>(count), answers ? "task " : "", cmd.samples.c_str(),
      static_cast<long long>(n_sum / count), static_cast<long long>(m_sum / count),
      answers ? "question" : "suffix", static_cast<long long>(cmd.granularity));
  if (answers) {
    std::printf("each plan answers every question greedily over its mixed cache (f1 and exact "
                "scored against the reference answers)\n");
  }
  std::fflush(stdout);

  const bool prunes = cmd.prune && !answers &&
                      (*measure == ds::plan::QualityMeasure::kLoss || *measure == ds::plan::QualityMeasure::kKl);
  const std::optional<ds::plan::QualityMeasure> prune_for =
      prunes ? std::optional(*measure) : std::nullopt;
  ProgressBar bar("profiling");
  Result<ds::profile::ProfileResult> pr = ds::profile::profile_intervals(
      pair.sender, pair.receiver, std::span(*samples),
      {.granularity = cmd.granularity,
       .progress = [&](std::int64_t d, std::int64_t t) { bar.update(d, t); },
       .prune_for = prune_for});
  if (!pr) return pr.status();
  std::vector<ds::plan::ProfiledPlan> points = pr->drops(*measure);
  // Measured plans only: a pruned plan's metrics sum some of the samples.
  std::vector<ds::profile::PlanQuality> qualities;
  for (const ds::profile::PlanQuality& q : pr->grid) {
    if (q.complete) qualities.push_back(q);
  }
  const auto pruned = static_cast<std::int64_t>(pr->grid.size() - qualities.size());
  ds::profile::ProfileCost cost = pr->cost;
  ds::profile::ProfileCost sweep = pr->exhaustive_cost;
  // Select on the grid; with several intervals allowed, measure the cheaper multi-interval
  // candidates and select again (plan::select_extended).
  auto evaluate = [&](std::span<const ds::plan::ReusePlan> extra) -> Result<std::vector<double>> {
    std::printf("evaluating %zu %s plans cheaper than the grid's selection\n", extra.size(),
                cmd.max_intervals == 2 ? "two-interval" : "multi-interval");
    ds::profile::QualityMetrics full;
    ds::profile::ProfileCost spent;
    Result<std::vector<ds::profile::PlanQuality>> q = ds::profile::evaluate_plans(
        pair.sender, pair.receiver, std::span(*samples), extra, &full, &spent);
    if (!q) return q.status();
    // Both sides pay for these plans: the profiler all of it, the sweep (which has the
    // sender's and the reference prefill already) their context and suffix passes.
    cost.sender_prefill += spent.sender_prefill;
    cost.reference_prefill += spent.reference_prefill;
    cost.context_recompute += spent.context_recompute;
    cost.suffix += spent.suffix;
    sweep.context_recompute.layer_token_passes += spent.context_recompute.layer_token_passes;
    sweep.suffix.layer_token_passes += spent.suffix.layer_token_passes;
    std::vector<double> drops;
    for (const ds::profile::PlanQuality& pq : *q) {
      drops.push_back(ds::profile::quality_drop(pq.quality, full, *measure));
      qualities.push_back(pq);
    }
    return drops;
  };
  Result<ds::plan::ExtendedSelection> ext =
      ds::plan::select_extended(points, L, cmd.threshold, cmd.max_intervals, evaluate);
  if (!ext) return ext.status();
  points.insert(points.end(), ext->extension.begin(), ext->extension.end());
  const ds::plan::ProfiledPlan* sel = &ext->selected;
  const std::vector<ds::plan::ProfiledPlan> front = ds::plan::pareto_front(points);
  if (front.empty())
    return Status::internal("profiling gave no finite quality measurement (NaN logits?)");

  // The profiling cost, every pass counted for both: the profiler's measured, the sweep's
  // (each plan from scratch, profile::evaluate_plans) counted from the same grid and samples.
  std::printf("profiled; cost, every pass counted, in full prefills of the samples (wall time as a "
              "multiple of this run's reference prefill):\n");
  std::printf("  profiler          %s\n", cost.describe().c_str());
  std::printf("  exhaustive sweep  %s; counted, not timed\n", sweep.describe().c_str());
  const double cost_ratio = sweep.prefills() > 0 ? cost.prefills() / sweep.prefills() : 0.0;
  if (prunes) {
    std::printf("  profiler / sweep  %.3f (%lld of %zu grid plans pruned for %s, exactly: the "
                "front is the sweep's)\n\n",
                cost_ratio, static_cast<long long>(pruned), pr->grid.size(),
                std::string(ds::plan::to_string(*measure)).c_str());
  } else {
    std::printf("  profiler / sweep  %.3f (no pruning)\n\n", cost_ratio);
  }
  const std::string what = cmd.measure == "kl"
                               ? "KL divergence, in nats, of the receiver's next-token "
                                 "distributions from those of its own full prefill"
                               : cmd.measure + " drop relative to the receiver's own full prefill";
  std::printf("Pareto front (%s, on the profiling samples):\n\n", what.c_str());
  std::printf("  layers  plan        %-11s  loss/token  accuracy  KL to full%s\n",
              measure_label(cmd.measure).c_str(), answers ? "      f1   exact" : "");
  auto quality_of = [&](const ds::plan::ReusePlan& p) {
    for (const ds::profile::PlanQuality& q : qualities) {
      if (q.plan == p) return q.quality;
    }
    return pr->full_prefill;  // full recompute, not in the grid
  };
  for (const ds::plan::ProfiledPlan& p : front) {
    const ds::profile::QualityMetrics q = quality_of(p.plan);
    std::printf("  %6lld  %-10s  %11s  %10.4f  %8.3f  %10.4f%s%s\n",
                static_cast<long long>(p.plan.num_recomputed()), p.plan.to_string().c_str(),
                drop_text(p.quality_drop, cmd.measure).c_str(), q.loss(), q.accuracy(), q.kl(),
                answers ? task_columns(q).c_str() : "",
                p.plan == sel->plan
                    ? "   <- selected"
                    : (p.quality_drop <= cmd.threshold ? "   (within threshold)" : ""));
  }
  if (!(front.back().plan == sel->plan) && sel->plan.num_recomputed() == L) {
    std::printf("  %6lld  %-10s  %11s  (full recompute)   <- selected\n", static_cast<long long>(L),
                "all", pct(0).c_str());
  }
  const double n = static_cast<double>(n_sum) / static_cast<double>(count);
  const double m = static_cast<double>(m_sum) / static_cast<double>(count);
  const double ratio =
      (static_cast<double>(sel->plan.num_recomputed()) * n + static_cast<double>(L) * m) /
      (static_cast<double>(L) * (n + m));
  std::printf(
      "\nselected plan: recompute %s (%lld of %lld layers, reuse the sender's KV for the rest): %s "
      "%s <= "
      "threshold %s; predicted prefill compute %.2f of a full prefill\n",
      sel->plan.to_string().c_str(), static_cast<long long>(sel->plan.num_recomputed()),
      static_cast<long long>(L), measure_label(cmd.measure).c_str(),
      drop_text(sel->quality_drop, cmd.measure).c_str(),
      cmd.measure == "kl" ? drop_text(cmd.threshold, cmd.measure).c_str()
                          : pct(cmd.threshold, 1).substr(1).c_str(),
      ratio);

  // The plan file.
  ds::plan::PlanFile file;
  file.plan = sel->plan;
  file.sender = pair.sender_record;
  file.receiver = pair.receiver_record;
  file.measure = *measure;
  file.threshold = cmd.threshold;
  file.max_intervals = cmd.max_intervals;
  file.predicted_quality_drop = sel->quality_drop;
  file.predicted_prefill_ratio = ratio;
  file.granularity = cmd.granularity;
  file.num_samples = count;
  file.full_prefill = pr->full_prefill;
  for (const ds::profile::PlanQuality& q : qualities)
    file.grid.push_back({q.plan.to_string(), q.quality});
  for (const ds::plan::ProfiledPlan& p : front)
    file.frontier.push_back({p.plan.to_string(), quality_of(p.plan)});
  file.profile_context_layer_token_passes = pr->context_layer_token_passes;
  file.exhaustive_context_layer_token_passes = pr->exhaustive_context_layer_token_passes;
  file.profile_cost = cost;
  file.exhaustive_cost = sweep;
  if (prunes) file.pruned_for = *measure;
  // The run-time guard's bounds for the selected plan, from the same samples with the genuine
  // sender; `run` checks against them. A plan that reuses nothing has nothing to check.
  if (!sel->plan.reused().empty()) {
    Result<ds::profile::GuardCalibration> guard =
        ds::profile::calibrate_guard(pair.sender, pair.receiver, sel->plan, std::span(*samples));
    if (!guard) return guard.status();
    file.guard = guard->thresholds();
    const auto worst = std::max_element(guard->layer_max_relative_l2.begin(), guard->layer_max_relative_l2.end());
    std::printf("guard: calibrated on %lld samples, probe %lld tokens, worst layer bound %.4g (layer %lld)\n",
                static_cast<long long>(guard->num_samples), static_cast<long long>(guard->probe_tokens), *worst,
                static_cast<long long>(worst - guard->layer_max_relative_l2.begin()));
  } else {
    std::printf("guard: none (the plan reuses no layer)\n");
  }
  std::error_code ec;
  if (cmd.out.has_parent_path()) fs::create_directories(cmd.out.parent_path(), ec);
  DROIDSPEAK_TRY(ds::plan::write_plan_file(cmd.out, file));
  if (written != nullptr) *written = file;

  // The pictures.
  const fs::path dir = cmd.svg_dir.empty()
                           ? (cmd.out.has_parent_path() ? cmd.out.parent_path() : fs::path("."))
                           : cmd.svg_dir;
  fs::create_directories(dir, ec);
  const std::string pair_name =
      pair.sender_dir.filename().string() + " -> " + pair.receiver_dir.filename().string();
  charts::HeatMapData heat{
      .title = "Profiling grid: " + pair_name + " (" + std::to_string(count) + " samples)",
      .measure = measure_label(cmd.measure),
      .num_layers = L,
      .granularity = cmd.granularity,
      .cells = {},
      .full_reuse_drop = points[0].quality_drop,
      .threshold = cmd.threshold,
      .has_selected = false,
      .selected = {},
      .percent = cmd.measure != "kl"};
  for (std::size_t i = 1; i < pr->grid.size(); ++i) {
    const ds::plan::LayerInterval v = pr->grid[i].plan.intervals()[0];
    heat.cells.push_back({v.first, v.last, points[i].quality_drop});
  }
  if (sel->plan.num_intervals() == 1) {
    const ds::plan::LayerInterval v = sel->plan.intervals()[0];
    for (const charts::IntervalDrop& c : heat.cells) {
      if (c.first == v.first && c.last == v.last) heat.has_selected = true;
    }
    heat.selected = {v.first, v.last, sel->quality_drop};
  }
  charts::ParetoData par{
      .title = "Quality vs layers recomputed: " + pair_name,
      .measure = measure_label(cmd.measure),
      .num_layers = L,
      .points = {},
      .front = {},
      .full_reuse = {0, points[0].quality_drop, "none"},
      .full_recompute = {L, 0.0, "all"},
      .selected = {sel->plan.num_recomputed(), sel->quality_drop, sel->plan.to_string()},
      .threshold = cmd.threshold,
      .percent = cmd.measure != "kl"};
  for (const ds::plan::ProfiledPlan& p : points) {
    if (std::isnan(p.quality_drop)) continue;  // pruned: not measured on every sample
    par.points.push_back({p.plan.num_recomputed(), p.quality_drop, p.plan.to_string()});
  }
  for (const ds::plan::ProfiledPlan& p : front)
    par.front.push_back({p.plan.num_recomputed(), p.quality_drop, p.plan.to_string()});
  if (par.front.back().layers < L && par.front.back().drop > 0)
    par.front.push_back(par.full_recompute);
  for (const auto& [name, doc] : {std::pair{"grid.svg", charts::heat_map(heat)},
                                  std::pair{"pareto.svg", charts::pareto(par)}}) {
    const std::string err = doc.save((dir / name).string());
    if (!err.empty()) return Status::io_error(err);
  }
  std::printf("wrote %s, %s, %s\n", cmd.out.c_str(), (dir / "grid.svg").c_str(),
              (dir / "pareto.svg").c_str());
  return Status::ok();
}

}  // namespace droidspeak_cli
