// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The results of DroidSpeak on the bundled model family, as Markdown: for every
//! sender -> receiver pair, profiling on the profiling split, evaluation on the held-out split,
//! single-layer sensitivity, whether the profile transfers, several intervals against one,
//! measured prefill time against full prefill in the same run, and the profiler's cost.
//!
//! Usage: family_report [--models DIR] [--data DIR] [--pairs a>b,c>d] [--granularity g]
//!        [--multi-max-layers k] [--timing-pairs p]
#include "droidspeak/plan/candidates.hpp"
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/profile/profiler.hpp"
#include "droidspeak/profile/samples_file.hpp"
#include "droidspeak/reference/compatibility.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/hf_loader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace droidspeak;
namespace fs = std::filesystem;

namespace {

struct Args {
  fs::path models = fs::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "models";
  fs::path data = fs::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "data";
  std::string pairs =
      "base>ft-code,base>ft-scripture,base>lora-scripture,base>frozen-code,ft-code>ft-scripture,"
      "ft-scripture>ft-code";
  std::int64_t granularity = 1;
  std::int64_t multi_max_layers = 3;
  std::int64_t timing_pairs = 6;  //!< measured pairs per plan in the prefill-time table
};

std::string domain_of(const std::string& receiver) {
  if (receiver.find("code") != std::string::npos) return "code";
  if (receiver.find("scripture") != std::string::npos) return "scripture";
  return "prose";
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.2f %%", 100.0 * v);
  return b;
}

// The best plan per number of recomputed layers (lowest drop), from a list of drops.
std::map<std::int64_t, plan::ProfiledPlan> best_per_cost(const std::vector<plan::ProfiledPlan>& points) {
  std::map<std::int64_t, plan::ProfiledPlan> best;
  for (const plan::ProfiledPlan& p : points) {
    const std::int64_t k = p.plan.num_recomputed();
    auto it = best.find(k);
    if (it == best.end() || p.quality_drop < it->second.quality_drop) best.insert_or_assign(k, p);
  }
  return best;
}

struct Row {
  std::string name;
  plan::ReusePlan plan;
};

int run_pair(const Args& args, const std::string& s_name, const std::string& r_name) {
  Result<reference::ModelWeights> sw = reference::load_hf_model(args.models / s_name);
  Result<reference::ModelWeights> rw = reference::load_hf_model(args.models / r_name);
  if (!sw || !rw) {
    std::fprintf(stderr, "loading %s / %s: %s %s\n", s_name.c_str(), r_name.c_str(), sw.status().to_string().c_str(),
                 rw.status().to_string().c_str());
    return 1;
  }
  Result<plan::PairCompatibility> compat =
      plan::check_compatibility(*reference::compatibility_record(*sw), *reference::compatibility_record(*rw));
  if (!compat) {
    std::fprintf(stderr, "%s\n", compat.status().to_string().c_str());
    return 1;
  }
  reference::Engine sender = std::move(reference::Engine::create(*sw).value());
  reference::Engine receiver = std::move(reference::Engine::create(*rw).value());
  const std::int64_t L = receiver.geometry().num_layers;
  const std::string domain = domain_of(r_name);
  const std::int64_t max_positions =
      std::min(sw->config.max_position_embeddings, rw->config.max_position_embeddings);
  auto prof = profile::read_samples(args.data / (domain + "_profile.jsonl"), receiver.vocab_size(), max_positions);
  auto held = profile::read_samples(args.data / (domain + "_heldout.jsonl"), receiver.vocab_size(), max_positions);
  if (!prof || !held) {
    std::fprintf(stderr, "samples: %s %s\n", prof.status().to_string().c_str(), held.status().to_string().c_str());
    return 1;
  }
  const auto measure = profile::QualityMeasure::kLoss;

  std::printf("\n### %s → %s (%s samples: %zu profiling, %zu held-out)\n\n", s_name.c_str(), r_name.c_str(),
              domain.c_str(), prof->size(), held->size());
  std::printf("Identical layers: %s (leading %lld, embeddings %s): exact reuse of %s.\n\n",
              compat->identical_layers.to_string().c_str(), static_cast<long long>(compat->identical_prefix),
              compat->embeddings_identical ? "identical" : "differ",
              compat->exact_reuse_layers().to_string().c_str());

  // Profile on the profiling split and select.
  Result<profile::ProfileResult> pr = profile::profile_intervals(sender, receiver, std::span(*prof),
                                                                 {.granularity = args.granularity, .progress = {}, .prune_for = {}});
  if (!pr) {
    std::fprintf(stderr, "profile: %s\n", pr.status().to_string().c_str());
    return 1;
  }
  const std::vector<plan::ProfiledPlan> drops = pr->drops(measure);
  const plan::ProfiledPlan sel5 = *plan::select_plan(drops, L, 0.05, 1);
  const plan::ProfiledPlan sel1 = *plan::select_plan(drops, L, 0.01, 1);

  // Evaluate on the held-out split.
  const std::vector<Row> rows = {{"full reuse", plan::ReusePlan::full_reuse(L)},
                                 {"selected at 5 %", sel5.plan},
                                 {"selected at 1 %", sel1.plan},
                                 {"full recompute", plan::ReusePlan::full_recompute(L)}};
  std::vector<plan::ReusePlan> row_plans;
  for (const Row& r : rows) row_plans.push_back(r.plan);
  profile::QualityMetrics held_full;
  auto held_q = profile::evaluate_plans(sender, receiver, std::span(*held), std::span(row_plans), &held_full);
  if (!held_q) {
    std::fprintf(stderr, "evaluate: %s\n", held_q.status().to_string().c_str());
    return 1;
  }
  std::printf("Held-out quality (loss in nats/byte; drop relative to the receiver's full prefill):\n\n");
  std::printf("| plan | layers recomputed | suffix loss | loss drop | next-token accuracy | KL to full prefill |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::printf("| receiver full prefill | %lld | %.4f | — | %.3f | 0 |\n", static_cast<long long>(L), held_full.loss(),
              held_full.accuracy());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const profile::QualityMetrics& q = (*held_q)[i].quality;
    std::printf("| %s: `%s` | %lld | %.4f | %s | %.3f | %.4f |\n", rows[i].name.c_str(), rows[i].plan.to_string().c_str(),
                static_cast<long long>(rows[i].plan.num_recomputed()), q.loss(),
                pct(profile::quality_drop(q, held_full, measure)).c_str(), q.accuracy(), q.kl());
  }

  // Single-layer sensitivity: reuse one layer's KV, recompute the rest.
  std::vector<plan::ReusePlan> singles;
  for (std::int64_t l = 0; l < L; ++l) {
    std::vector<plan::LayerInterval> iv;
    if (l > 0) iv.push_back({0, l - 1});
    if (l + 1 < L) iv.push_back({l + 1, L - 1});
    singles.push_back(*plan::ReusePlan::create(L, iv));
  }
  profile::QualityMetrics prof_full;
  auto single_q = profile::evaluate_plans(sender, receiver, std::span(*prof), std::span(singles), &prof_full);
  if (!single_q) return 1;
  std::printf("\nSingle-layer sensitivity (profiling split): loss drop when only layer l is reused:\n\n|");
  for (std::int64_t l = 0; l < L; ++l) std::printf(" %lld |", static_cast<long long>(l));
  std::printf("\n|");
  for (std::int64_t l = 0; l < L; ++l) std::printf("---|");
  std::printf("\n|");
  for (std::int64_t l = 0; l < L; ++l) {
    std::printf(" %.2f %% |", 100.0 * profile::quality_drop((*single_q)[static_cast<std::size_t>(l)].quality, prof_full, measure));
  }
  std::printf("\n");

  // Does the profile transfer? The held-out grid gives the best single interval per cost.
  Result<profile::ProfileResult> hr = profile::profile_intervals(sender, receiver, std::span(*held),
                                                                 {.granularity = args.granularity, .progress = {}, .prune_for = {}});
  if (!hr) return 1;
  const std::vector<plan::ProfiledPlan> held_drops = hr->drops(measure);
  const auto best_prof = best_per_cost(drops);
  const auto best_held = best_per_cost(held_drops);
  const double reuse_gap = held_drops[0].quality_drop;
  double worst_transfer = 0.0;
  std::printf("\nDoes the profile transfer? For each number of recomputed layers, the interval chosen on the "
              "profiling split vs the best on the held-out split, both measured on held-out (gap as a "
              "fraction of the full-reuse drop %s):\n\n",
              pct(reuse_gap).c_str());
  std::printf("| layers | chosen on profiling | its held-out drop | best on held-out | its drop | gap / full-reuse gap |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& [k, p] : best_prof) {
    if (k == 0 || k == L) continue;
    double chosen_held = NAN;
    for (const plan::ProfiledPlan& h : held_drops) {
      if (h.plan == p.plan) chosen_held = h.quality_drop;
    }
    const plan::ProfiledPlan& b = best_held.at(k);
    // The ratio means something only when full reuse loses quality.
    char frac_text[32] = "n/a";
    if (reuse_gap > 0) {
      const double frac = (chosen_held - b.quality_drop) / reuse_gap;
      worst_transfer = std::max(worst_transfer, frac);
      std::snprintf(frac_text, sizeof frac_text, "%.3f", frac);
    }
    std::printf("| %lld | `%s` | %s | `%s` | %s | %s |\n", static_cast<long long>(k), p.plan.to_string().c_str(),
                pct(chosen_held).c_str(), b.plan.to_string().c_str(), pct(b.quality_drop).c_str(), frac_text);
  }
  if (reuse_gap > 0) {
    std::printf("\nWorst transfer gap: %.3f of the full-reuse gap (target ≤ 0.10).\n", worst_transfer);
  } else {
    std::printf("\nFull reuse loses nothing on held-out text here, so the gap has no scale: compare the drops.\n");
  }

  // Several intervals vs one at the same cost (profiling split).
  std::printf("\nTwo intervals vs one at the same number of recomputed layers (profiling split):\n\n");
  std::printf("| layers | best one interval | drop | best two intervals | drop |\n|---|---|---|---|---|\n");
  for (std::int64_t k = 2; k <= args.multi_max_layers && k < L; ++k) {
    const std::vector<plan::ReusePlan> two =
        *plan::candidate_plans(L, {.min_intervals = 2, .max_intervals = 2, .min_recomputed = k, .max_recomputed = k});
    auto q2 = profile::evaluate_plans(sender, receiver, std::span(*prof), std::span(two), &prof_full);
    if (!q2) return 1;
    plan::ProfiledPlan best2{two[0], INFINITY};
    for (const profile::PlanQuality& pq : *q2) {
      const double d = profile::quality_drop(pq.quality, prof_full, measure);
      if (d < best2.quality_drop) best2 = {pq.plan, d};
    }
    const plan::ProfiledPlan& best1 = best_prof.at(k);
    std::printf("| %lld | `%s` | %s | `%s` | %s |\n", static_cast<long long>(k), best1.plan.to_string().c_str(),
                pct(best1.quality_drop).c_str(), best2.plan.to_string().c_str(), pct(best2.quality_drop).c_str());
  }

  // Prefill time of each plan, paired against the receiver's full prefill in the same run
  // (profile::time_paired): a warm-up pair, then args.timing_pairs pairs in alternating order;
  // the result is the median of the per-pair ratios plan / full prefill with its spread.
  const profile::Sample& smp = (*held)[0];
  const auto n = static_cast<std::int64_t>(smp.context.size());
  const auto m = static_cast<std::int64_t>(smp.suffix.size());
  // E for every layer (every row's plan is timed), KV read in place from the sender's cache.
  Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
      sender, plan::ReusePlan::full_reuse(L), smp.context,
      {.layers = prefill::SenderLayers::kAll, .kv = prefill::SenderKv::kEngineCache});
  if (!sent) return 1;
  std::vector<float> logits(static_cast<std::size_t>(receiver.vocab_size()));
  const profile::PairedTimingOptions pairing{.warmup_pairs = 1, .pairs = args.timing_pairs};
  auto full = [&] { return prefill::full_prefill(receiver, smp.context, smp.suffix, logits); };
  // The suffix's share s, paired the same way: the context's own prefill against the full one.
  Result<profile::PairedTiming> context_only = profile::time_paired(
      full, [&] { return prefill::full_prefill(receiver, smp.context, {}, {}); }, pairing);
  if (!context_only) {
    std::fprintf(stderr, "timing: %s\n", context_only.status().to_string().c_str());
    return 1;
  }
  const double suffix_share = std::max(0.0, 1.0 - context_only->ratio.median);
  std::vector<profile::PairedTiming> times;
  for (const Row& r : rows) {
    // The full-recompute row pairs two identical workloads (each resets, reserves, embeds and
    // runs every layer over context + suffix): it measures the method's noise, near 1.00.
    Result<profile::PairedTiming> t = profile::time_paired(
        full,
        [&] { return prefill::partial_prefill(receiver, r.plan, smp.context, sent->caches(), smp.suffix, logits); },
        pairing);
    if (!t) {
      std::fprintf(stderr, "timing %s: %s\n", r.name.c_str(), t.status().to_string().c_str());
      return 1;
    }
    times.push_back(*t);
  }
  std::printf("\nPrefill time on one held-out sample (%lld context + %lld suffix tokens), each plan paired "
              "against the receiver's full prefill in the same run (a warm-up pair, then %lld pairs in "
              "alternating order): ratio = median of the per-pair ratios plan / full prefill, with its range "
              "and half inter-quartile range (±), load = 1-minute load average. Expected = k/L · (1 − s) + s "
              "with the suffix's share s = 1 − context-only / full prefill = %.3f, paired the same way "
              "(context-only / full: %s):\n\n",
              static_cast<long long>(n), static_cast<long long>(m), static_cast<long long>(pairing.pairs),
              suffix_share, profile::describe(*context_only).c_str());
  std::printf("| plan | layers | median ms (plan / full) | ratio | range | ± | expected | difference | load |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const profile::PairedTiming& t = times[i];
    const double expected =
        static_cast<double>(r.plan.num_recomputed()) / static_cast<double>(L) * (1.0 - suffix_share) + suffix_share;
    std::printf("| %s `%s` | %lld | %.2f / %.2f | %.3f | %.3f-%.3f | %.3f | %.3f | %+.3f | %.1f |\n", r.name.c_str(),
                r.plan.to_string().c_str(), static_cast<long long>(r.plan.num_recomputed()),
                t.median_candidate_seconds * 1e3, t.median_baseline_seconds * 1e3, t.ratio.median, t.ratio.min,
                t.ratio.max, t.ratio.half_iqr, expected, t.ratio.median - expected,
                std::max(t.load_before, t.load_after));
  }

  // Every pass counted (profile::ProfileCost), the wall time as a multiple of the receiver's
  // reference prefill timed in the same run; the sweep's passes are counted, not run.
  std::printf("\nProfiler cost (profiling split, granularity %lld, no pruning), in full prefills of the samples:\n"
              "  profiler          %s\n  exhaustive sweep  %s; counted, not timed\n",
              static_cast<long long>(args.granularity), pr->cost.describe().c_str(),
              pr->exhaustive_cost.describe().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--models") args.models = value();
    else if (a == "--data") args.data = value();
    else if (a == "--pairs") args.pairs = value();
    else if (a == "--granularity") args.granularity = std::stoll(value());
    else if (a == "--multi-max-layers") args.multi_max_layers = std::stoll(value());
    else if (a == "--timing-pairs") args.timing_pairs = std::stoll(value());
    else {
      std::fprintf(stderr, "usage: family_report [--models DIR] [--data DIR] [--pairs a>b,...] [--granularity g] "
                           "[--multi-max-layers k] [--timing-pairs p]\n");
      return 2;
    }
  }
  int rc = 0;
  std::string pairs = args.pairs;
  while (!pairs.empty()) {
    const std::size_t comma = pairs.find(',');
    const std::string pair = pairs.substr(0, comma);
    pairs = comma == std::string::npos ? "" : pairs.substr(comma + 1);
    const std::size_t gt = pair.find('>');
    if (gt == std::string::npos) {
      std::fprintf(stderr, "pair '%s' is not sender>receiver\n", pair.c_str());
      return 2;
    }
    rc |= run_pair(args, pair.substr(0, gt), pair.substr(gt + 1));
  }
  return rc;
}
