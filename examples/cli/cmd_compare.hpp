// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak compare`: full reuse, the plan and full recompute side by side on
//! held-out samples (quality, layers recomputed, prefill time and its ratio to full prefill,
//! timed in interleaved pairs against the full prefill), with the sender alone (and optionally
//! a smaller model) as the baseline that says whether reuse is worth it at all, and the plan's
//! K/V-only interval tails: its prefill with and without them, measured in pairs beside the
//! cost model.
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
  fs::path small_model{};   //!< a smaller model of the same vocabulary, scored alone; empty: none
  std::string measure{};    //!< the drop's measure; empty: the plan file's
  std::optional<double> threshold{};  //!< the sender-alone verdict's; none: the plan file's
  std::int64_t max_samples = 0;
  std::int64_t pairs = 6;  //!< measured pairs per row after a warm-up pair; even: each order
                           //!< within a pair equally often
};

//! Evaluates and prints the table on stdout.
inline Status run_compare(const CompareCommand& cmd, Pair& pair) {
  Result<ds::plan::PlanFile> file = load_plan_for(cmd.plan, pair);
  if (!file) return file.status();
  ds::plan::QualityMeasure measure = file->measure;
  if (!cmd.measure.empty()) {
    Result<ds::plan::QualityMeasure> m = ds::plan::parse_quality_measure(cmd.measure);
    if (!m) return m.status();
    measure = *m;
  }
  const std::string measure_name(ds::plan::to_string(measure));
  const double threshold = cmd.threshold.value_or(file->threshold);
  Result<std::vector<ds::profile::Sample>> samples =
      load_samples(cmd.samples, pair, cmd.max_samples);
  if (!samples) return samples.status();
  DROIDSPEAK_TRY(check_measure_fits(measure, *samples, cmd.samples));
  const bool answers = all_have_answers(*samples);
  // The baselines' models, checked before any work.
  std::optional<ds::reference::Engine> small;
  if (!cmd.small_model.empty()) {
    Result<ds::reference::ModelWeights> w = load_checkpoint(cmd.small_model, "small model");
    if (!w) return w.status();
    if (w->config.vocab_size != pair.receiver.vocab_size()) {
      return Status::invalid_argument("small model " + cmd.small_model.string() + " has " +
                                      std::to_string(w->config.vocab_size) + " tokens, the receiver " +
                                      std::to_string(pair.receiver.vocab_size()) +
                                      ": a baseline must share the vocabulary");
    }
    for (const ds::profile::Sample& smp : *samples) {
      const auto need = static_cast<std::int64_t>(smp.context.size() + smp.suffix.size()) +
                        (smp.has_answer() ? smp.max_answer_tokens : 0);
      if (need > w->config.max_position_embeddings) {
        return Status::out_of_range("small model " + cmd.small_model.string() + ": a sample needs " +
                                    std::to_string(need) + " positions, it has " +
                                    std::to_string(w->config.max_position_embeddings));
      }
    }
    Result<ds::reference::Engine> e = ds::reference::Engine::create(std::move(w).value());
    if (!e) return e.status();
    small = std::move(e).value();
  }
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
      q[k].answers.push_back((*one)[k].answers[0]);
    }
    bar.update(static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(samples->size()));
  }
  // The baselines: the sender alone on the receiver's samples (its own full prefill and
  // answers), and the smaller model if given.
  struct Alone {
    std::string name;
    ds::profile::QualityMetrics quality;
    std::vector<std::vector<std::int32_t>> answers;
  };
  std::vector<Alone> alone(1, {"sender alone", {}, {}});
  {
    Result<ds::profile::QualityMetrics> a =
        ds::profile::evaluate_alone(pair.sender, pair.receiver, std::span(*samples), &alone[0].answers);
    if (!a) return a.status();
    alone[0].quality = *a;
  }
  if (small) {
    alone.push_back({"small model", {}, {}});
    Result<ds::profile::QualityMetrics> a =
        ds::profile::evaluate_alone(*small, pair.receiver, std::span(*samples), &alone[1].answers);
    if (!a) return a.status();
    alone[1].quality = *a;
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
  // With task samples two more columns: the mean F1 and exact match of the answers.
  const std::string task_head = answers ? "      f1   exact" : "";
  std::printf("  %-15s %-9s %7s  %-11s  %10s  %8s  %10s%s  %10s  %6s  %-11s\n", "", "plan", "layers",
              measure_label(measure_name).c_str(), "loss/token", "accuracy", "KL to full",
              task_head.c_str(), "prefill", "ratio", "range");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ds::profile::QualityMetrics& m = q[i].quality;
    const ds::profile::PairedTiming& t = times[i];
    std::printf("  %-15s %-9s %7lld  %11s  %10.4f  %8.3f  %10.4f%s  %10s  %6.3f  %.3f-%.3f\n",
                rows[i].name.c_str(), rows[i].plan.to_string().c_str(),
                static_cast<long long>(rows[i].plan.num_recomputed()),
                drop_text(ds::profile::quality_drop(m, full, measure), measure_name).c_str(),
                m.loss(), m.accuracy(), m.kl(), answers ? task_columns(m).c_str() : "",
                ms(t.median_candidate_seconds).c_str(), t.ratio.median, t.ratio.min, t.ratio.max);
  }
  std::printf("  %-15s %-9s %7lld  %11s  %10s  %8s  %10s%s  %10s\n", "(full prefill)", "",
              static_cast<long long>(L), "", "", "", "", std::string(task_head.size(), ' ').c_str(),
              ms(times.back().median_baseline_seconds).c_str());
  // The baselines, untimed: quality only, scored against the receiver's full prefill.
  for (const Alone& a : alone) {
    std::printf("  %-15s %-9s %7s  %11s  %10.4f  %8.3f  %10.4f%s\n", a.name.c_str(), "", "",
                drop_text(ds::profile::quality_drop(a.quality, full, measure), measure_name).c_str(),
                a.quality.loss(), a.quality.accuracy(), a.quality.kl(),
                answers ? task_columns(a.quality).c_str() : "");
  }
  const std::string plan_measure(ds::plan::to_string(file->measure));  // what the prediction is in
  std::printf(
      "  (predicted for the plan on the profiling samples: %s %s, prefill compute %.2f of full)\n",
      measure_label(plan_measure).c_str(), drop_text(file->predicted_quality_drop, plan_measure).c_str(),
      file->predicted_prefill_ratio);
  if (answers) {
    // One question answered by each, so that a reader sees what the numbers score.
    const ds::profile::Sample& first = (*samples)[0];
    auto text = [&](const std::vector<std::int32_t>& tokens) {
      // Text samples are bytes, whatever the vocabulary; ids samples show ids.
      return "\"" + show_tokens(tokens, first.answer_kind == ds::profile::AnswerKind::kText ? 256 : 0) + "\"";
    };
    std::printf("\n  first question %s, reference answer %s:\n", text(first.suffix).c_str(),
                text(first.answer).c_str());
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::printf("    %-15s %s\n", rows[i].name.c_str(), text(q[i].answers[0]).c_str());
    for (const Alone& a : alone) std::printf("    %-15s %s\n", a.name.c_str(), text(a.answers[0]).c_str());
  }
  // The verdict on the pair: if the sender alone is as good as the receiver, nothing the
  // receiver computes (its fine-tuned weights, hence reuse) is worth paying for.
  const double sender_drop = ds::profile::quality_drop(alone[0].quality, full, measure);
  const std::string limit = measure == ds::plan::QualityMeasure::kKl ? drop_text(threshold, measure_name)
                                                                     : pct(threshold, 1).substr(1);
  const std::string sender_text = (measure == ds::plan::QualityMeasure::kKl ? "KL " : measure_name + " drop ") +
                                  drop_text(sender_drop, measure_name);
  if (sender_drop <= threshold) {
    std::printf("\nthe sender alone is within the %s threshold of the receiver's full prefill (%s): "
                "reuse is pointless for this pair, the sender can answer on its own\n",
                limit.c_str(), sender_text.c_str());
  } else {
    std::printf("\nthe sender alone is beyond the %s threshold of the receiver's full prefill (%s): "
                "the receiver's own weights matter, and reuse saves its prefill\n",
                limit.c_str(), sender_text.c_str());
  }
  std::printf("\n");
  if (tail) {
    print_tail_saving(*tail);
  } else {
    std::printf("K/V-only tail: the plan recomputes no layer\n");
  }
  return Status::ok();
}

}  // namespace droidspeak_cli
