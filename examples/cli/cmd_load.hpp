// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak load`: many requests. A load generator replays Poisson arrivals over a
//! few contexts that share prefixes (several requests per context, each with its own suffix;
//! the sender's caches of each context prefilled once, as a cache store holds them) and one
//! receiver serves them first come first served with real prefills on the reference engine,
//! for four strategies: full prefill, full reuse, the plan chosen for the link, and the
//! run-time policy (plan::RuntimePolicy, driven by the queue a request finds). The sender's
//! bytes cross one modelled link (serving::LinkTimeline) reserved when each request arrives,
//! so the next request's transfer overlaps the current one's recomputation. Prints p50 / p99
//! time to first token and throughput per load and strategy, and draws them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "args.hpp"
#include "charts.hpp"
#include "cmd_profile.hpp"
#include "common.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/runtime_policy.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/profile/cost_calibration.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/profile/plan_choice.hpp"
#include "droidspeak/serving/arrivals.hpp"
#include "droidspeak/serving/latency_summary.hpp"
#include "droidspeak/serving/link_timeline.hpp"
#include "droidspeak/serving/queue_load.hpp"

namespace droidspeak_cli {

struct LoadCommand {
  fs::path sender, receiver, samples;
  fs::path plan;  //!< the plan file; empty: profile first (quickly) into load-plan.json by the picture
  fs::path svg;   //!< the latency-against-load picture
  std::vector<double> rates = {0.2, 0.4, 0.6, 0.8, 0.95};  //!< arrival rate / full-prefill capacity
  std::int64_t requests = 32;   //!< per strategy and rate
  std::int64_t contexts = 4;    //!< distinct contexts (shared prefixes) the requests reuse
  double bandwidth_gbit = 8.0;  //!< the link, Gbit/s
  double latency_ms = 0.05;     //!< per chunk
  std::uint64_t seed = 1;
  std::int64_t pairs = 6;       //!< paired full-prefill timings for the capacity
  double slo = 1.0;             //!< the policy's latency target, times the predicted idle full prefill
  double max_seconds = 300.0;   //!< bound on each replay (and on every wait in it)
};

//! Where the plan goes when `load` profiles it itself.
inline fs::path load_plan_path(const LoadCommand& c) {
  return (c.svg.has_parent_path() ? c.svg.parent_path() : fs::path(".")) / "load-plan.json";
}

//! The strategies, in the order they are printed and drawn.
enum class Strategy { kFullPrefill, kFullReuse, kSelected, kPolicy };
inline constexpr const char* kStrategyNames[] = {"full prefill", "full reuse", "selected plan", "run-time policy"};

namespace detail {

using Clock = std::chrono::steady_clock;

// What every replay serves: contexts with the sender's caches, and requests over them.
struct Workload {
  std::vector<std::vector<std::int32_t>> contexts;
  std::vector<ds::prefill::SenderCacheBuffers> caches;  //!< [contexts], every layer's E and KV
  std::vector<std::vector<std::int32_t>> suffixes;
  struct Request {
    std::size_t context = 0;
    std::size_t suffix = 0;
  };
  std::vector<Request> requests;  //!< [N]
};

// The plan choices a replay needs besides the strategy.
struct Choices {
  ds::plan::ReusePlan selected;
  const ds::plan::RuntimePolicy* policy = nullptr;
  double target_seconds = 0.0;
  ds::plan::CostInputs nominal;
};

struct ReplayResult {
  std::vector<ds::serving::RequestTiming> timings;
  std::map<std::string, std::int64_t> plans;  //!< plan -> requests it served
};

// One replay: a single receiver serves `w.requests` arriving at `arrivals` (seconds), first come
// first served. A request's link reservation and (for the policy) plan depend only on what was
// known at its arrival: earlier reservations and how many earlier requests had not completed
// by then. The worker makes them when it picks the request up, in arrival order, which gives
// the same link calendar and the same choice as making them at the arrival itself.
inline Result<ReplayResult> replay(Strategy strategy, const std::vector<double>& arrivals, const Workload& w,
                                   Pair& pair, const Choices& choices, const LoadCommand& cmd) {
  const ds::layout::ModelGeometry g = pair.receiver.geometry();
  Result<ds::serving::LinkTimeline> link =
      ds::serving::LinkTimeline::create(cmd.bandwidth_gbit * 1e9 / 8.0, cmd.latency_ms * 1e-3);
  if (!link) return link.status();
  std::vector<float> logits(static_cast<std::size_t>(pair.receiver.vocab_size()));
  ReplayResult out;
  std::vector<double> completions;
  const Clock::time_point epoch = Clock::now() + std::chrono::milliseconds(10);
  auto now = [&] { return std::chrono::duration<double>(Clock::now() - epoch).count(); };
  for (std::size_t j = 0; j < w.requests.size(); ++j) {
    const double arrival = arrivals[j];
    if (arrival > cmd.max_seconds || now() > cmd.max_seconds) {
      return Status::out_of_range("the replay would run past --max-seconds " + std::to_string(cmd.max_seconds) +
                                  " s (request " + std::to_string(j) + ")");
    }
    std::this_thread::sleep_until(epoch + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(arrival)));
    const auto& req = w.requests[j];
    const std::vector<std::int32_t>& ctx = w.contexts[req.context];
    const std::vector<std::int32_t>& sfx = w.suffixes[req.suffix];
    const ds::prefill::SenderCaches caches = w.caches[req.context].caches();
    ds::plan::ReusePlan plan = ds::plan::ReusePlan::full_recompute(g.num_layers);
    if (strategy == Strategy::kFullReuse) plan = ds::plan::ReusePlan::full_reuse(g.num_layers);
    if (strategy == Strategy::kSelected) plan = choices.selected;
    if (strategy == Strategy::kPolicy) {
      const std::int64_t ahead = ds::serving::requests_ahead(completions, arrival);
      Result<double> load = ds::serving::load_from_queue(ahead);
      if (!load) return load.status();
      Result<ds::plan::ProfiledPlan> chosen = choices.policy->choose(*load, choices.target_seconds, choices.nominal);
      if (!chosen) return chosen.status();
      plan = chosen->plan;
    }
    if (strategy == Strategy::kFullPrefill) {
      DROIDSPEAK_TRY(ds::prefill::full_prefill(pair.receiver, ctx, sfx, logits));
      ++out.plans["own full prefill"];
    } else {
      const auto n = static_cast<std::int64_t>(ctx.size());
      Result<ds::prefill::Schedule> schedule = ds::prefill::make_schedule(
          plan, g, n, static_cast<std::int64_t>(sfx.size()),
          ds::prefill::chunk_sizes(g, n, caches.e.dtype, caches.kv.dtype));
      if (!schedule) return schedule.status();
      Result<ds::serving::LinkReservation> reservation = link->reserve(arrival, *schedule);
      if (!reservation) return reservation.status();
      ds::serving::ReservedLinkTransport transport(std::move(reservation).value(), epoch, cmd.max_seconds);
      DROIDSPEAK_TRY(ds::prefill::streamed_partial_prefill(pair.receiver, plan, ctx, caches, transport,
                                                           ds::prefill::Overlap::kPipelined, sfx, logits));
      ++out.plans[plan.to_string()];
    }
    const double completion = now();
    completions.push_back(completion);
    out.timings.push_back({arrival, completion});
  }
  return out;
}

// "0-11 x20, 6-11 x12": the plans a replay used, most used first.
inline std::string plans_used(const std::map<std::string, std::int64_t>& plans) {
  std::vector<std::pair<std::string, std::int64_t>> v(plans.begin(), plans.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [plan, count] : v) out += (out.empty() ? "" : ", ") + plan + " x" + std::to_string(count);
  return out;
}

}  // namespace detail

//! Runs the load test and reports on stdout; draws cmd.svg. `pair` is the loaded pair.
inline Status run_load(const LoadCommand& cmd, Pair& pair) {
  const ds::layout::ModelGeometry g = pair.receiver.geometry();
  const std::int64_t L = g.num_layers;

  // The plan file: given, or profiled here on the same samples (the demo's quick settings).
  fs::path plan_path = cmd.plan;
  if (plan_path.empty()) {
    plan_path = load_plan_path(cmd);
    std::printf("== profiling a plan first (no --plan): %s ==\n\n", plan_path.c_str());
    ProfileCommand pc{.sender = cmd.sender,
                      .receiver = cmd.receiver,
                      .samples = cmd.samples,
                      .out = plan_path,
                      .svg_dir = plan_path.parent_path().empty() ? fs::path(".") : plan_path.parent_path(),
                      .granularity = L >= 8 ? 2 : 1,
                      .threshold = 0.05,
                      .max_intervals = 1,
                      .measure = "loss",
                      .max_samples = 4};
    DROIDSPEAK_TRY(run_profile(pc, pair));
    std::printf("\n");
  }
  Result<ds::plan::PlanFile> file = load_plan_for(plan_path, pair);
  if (!file) return file.status();

  // The workload: `contexts` contexts from the samples; request i uses context i mod K and the
  // suffix of sample i mod S, so each context is shared by requests with different suffixes.
  Result<std::vector<ds::profile::Sample>> samples = load_samples(cmd.samples, pair, 0);
  if (!samples) return samples.status();
  if (samples->empty()) return Status::invalid_argument(cmd.samples.string() + ": no samples");
  detail::Workload w;
  const std::size_t K = std::min(samples->size(), static_cast<std::size_t>(cmd.contexts));
  for (std::size_t c = 0; c < K; ++c) {
    w.contexts.push_back((*samples)[c].context);
    Result<ds::prefill::SenderCacheBuffers> sent = ds::prefill::SenderCacheBuffers::prefill(
        pair.sender, file->plan, w.contexts.back(), {.layers = ds::prefill::SenderLayers::kAll});
    if (!sent) return sent.status();
    w.caches.push_back(std::move(sent).value());
  }
  for (const ds::profile::Sample& s : *samples) w.suffixes.push_back(s.suffix);
  for (std::int64_t i = 0; i < cmd.requests; ++i) {
    const auto u = static_cast<std::size_t>(i);
    w.requests.push_back({u % K, u % w.suffixes.size()});
  }

  // The cost model on this receiver for the link, the plan chosen for it (as `run` chooses) and
  // the run-time policy over every profiled plan: quality budget from a fifth of the file's
  // threshold when idle (the paper's 1 % online against 5 % offline) to the threshold when busy.
  const ds::profile::LinkSpec link_spec{cmd.bandwidth_gbit * 1e9 / 8.0, cmd.latency_ms * 1e-3};
  const auto n0 = static_cast<std::int64_t>(w.contexts[0].size());
  Result<ds::profile::CostCalibration> calibration =
      ds::profile::measure_cost_calibration(pair.receiver, w.contexts[0], w.caches[0].caches(), w.suffixes[0]);
  if (!calibration) return calibration.status();
  Result<ds::plan::CostInputs> nominal = ds::profile::cost_inputs(g, n0, *calibration, link_spec);
  if (!nominal) return nominal.status();
  Result<ds::plan::ProfiledPlan> selected = ds::profile::fastest_plan(*file, *nominal);
  if (!selected) return selected.status();
  Result<std::vector<ds::plan::ProfiledPlan>> points = ds::profile::profiled_plans(*file);
  if (!points) return points.status();
  Result<ds::plan::RuntimePolicy> policy = ds::plan::RuntimePolicy::create(
      *points, L,
      {.quality_budget_idle = file->threshold / 5.0, .quality_budget_busy = file->threshold,
       .max_intervals = file->max_intervals});
  if (!policy) return policy.status();

  // Capacity, measured in this run: the receiver's full prefill over the request mix, paired
  // with the selected plan's prefill over an idle link of the same bandwidth.
  std::vector<float> logits(static_cast<std::size_t>(pair.receiver.vocab_size()));
  std::size_t next_full = 0, next_partial = 0;
  ds::prefill::SimulatedLink idle_link(link_spec.bytes_per_second, link_spec.latency_seconds);
  DROIDSPEAK_TRY(idle_link.validate());
  auto full = [&] {
    const auto& r = w.requests[next_full++ % w.requests.size()];
    return ds::prefill::full_prefill(pair.receiver, w.contexts[r.context], w.suffixes[r.suffix], logits);
  };
  auto partial = [&] {
    const auto& r = w.requests[next_partial++ % w.requests.size()];
    return ds::prefill::streamed_partial_prefill(pair.receiver, selected->plan, w.contexts[r.context],
                                                 w.caches[r.context].caches(), idle_link,
                                                 ds::prefill::Overlap::kPipelined, w.suffixes[r.suffix], logits);
  };
  Result<ds::profile::PairedTiming> timing =
      ds::profile::time_paired(full, partial, {.warmup_pairs = 1, .pairs = cmd.pairs});
  if (!timing) return timing.status();
  double mean_full = 0.0;
  for (double s : timing->baseline_seconds) mean_full += s;
  mean_full /= static_cast<double>(timing->baseline_seconds.size());
  const double capacity = 1.0 / mean_full;
  // The policy's cost model, as `run` predicts: its compute per layer-token from this run's
  // paired full prefills (the three calibration runs alone are too few on a shared machine).
  ds::profile::CostCalibration same_run = *calibration;
  same_run.full_prefill_seconds = timing->median_baseline_seconds;
  Result<ds::plan::CostInputs> policy_inputs = ds::profile::cost_inputs(g, n0, same_run, link_spec);
  if (!policy_inputs) return policy_inputs.status();
  const detail::Choices choices{selected->plan, &*policy,
                                cmd.slo * ds::plan::predict_full_prefill(*policy_inputs), *policy_inputs};

  std::printf("%lld requests per rate and strategy over %zu contexts of %lld tokens (shared prefixes: the\n"
              "sender's caches of each prefilled once), suffixes of %zu tokens; %s -> %s\n",
              static_cast<long long>(cmd.requests), K, static_cast<long long>(n0), w.suffixes[0].size(),
              pair.sender_dir.filename().c_str(), pair.receiver_dir.filename().c_str());
  std::printf("link: %.3g Gbit/s, %.3g ms per chunk, one for all requests, reserved at each arrival\n",
              cmd.bandwidth_gbit, cmd.latency_ms);
  std::printf("selected plan %s (the plan file's plans within its threshold, fastest for this link);\n"
              "run-time policy over %zu profiled plans, latency target %s (%.2f x predicted idle full prefill)\n",
              selected->plan.to_string().c_str(), points->size(), ms(choices.target_seconds).c_str(), cmd.slo);
  std::printf("capacity: %.2f requests/s (mean full prefill %s over %lld paired runs); selected plan / full\n"
              "prefill on an idle link: %s\n\n",
              capacity, ms(mean_full).c_str(), static_cast<long long>(cmd.pairs),
              ds::profile::describe(*timing).c_str());

  // The replays: every strategy sees the same arrival times at a rate (one seed per rate); the
  // strategies' order rotates from rate to rate so a drift of the machine falls on all of them.
  const double load_before = ds::profile::load_average();
  charts::LoadData chart;
  for (const char* name : kStrategyNames) chart.series.push_back({name, {}, {}, {}});
  std::printf("  latencies also as ratios to this run's mean idle full prefill (%s): p50/f, p99/f\n\n",
              ms(mean_full).c_str());
  std::printf("  %-5s %-16s %10s %10s %6s %6s %10s %10s  %s\n", "load", "strategy", "p50 TTFT", "p99 TTFT", "p50/f",
              "p99/f", "mean", "throughput", "plans (requests)");
  for (std::size_t ri = 0; ri < cmd.rates.size(); ++ri) {
    const double f = cmd.rates[ri];
    Result<std::vector<double>> arrivals = ds::serving::poisson_arrivals(f * capacity, cmd.requests, cmd.seed + ri);
    if (!arrivals) return arrivals.status();
    std::vector<std::string> rows(4);
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t si = (k + ri) % 4;
      const auto strategy = static_cast<Strategy>(si);
      Result<detail::ReplayResult> r = detail::replay(strategy, *arrivals, w, pair, choices, cmd);
      if (!r) return r.status().with_context(std::string(kStrategyNames[si]) + " at load " + std::to_string(f));
      Result<ds::serving::LatencySummary> s = ds::serving::summarize_requests(r->timings);
      if (!s) return s.status();
      char buf[320];
      std::snprintf(buf, sizeof buf, "  %-5.2f %-16s %10s %10s %6.2f %6.2f %10s %6.2f r/s  %s", f, kStrategyNames[si],
                    ms(s->p50).c_str(), ms(s->p99).c_str(), s->p50 / mean_full, s->p99 / mean_full,
                    ms(s->mean).c_str(), s->throughput, detail::plans_used(r->plans).c_str());
      rows[si] = buf;
      chart.series[si].load.push_back(f);
      chart.series[si].p50.push_back(s->p50 / mean_full);
      chart.series[si].p99.push_back(s->p99 / mean_full);
    }
    for (const std::string& row : rows) std::printf("%s\n", row.c_str());
    std::fflush(stdout);
  }
  const double load_after = ds::profile::load_average();
  std::printf("\nload average %.1f before the replays, %.1f after (p99 is the nearest-rank percentile: with\n"
              "fewer than 100 requests, the slowest request)\n",
              load_before, load_after);

  char subtitle[192];
  std::snprintf(subtitle, sizeof subtitle,
                "%s -> %s, %lld requests per point, %.3g Gbit/s link, idle full prefill %.0f ms, load average %.1f",
                pair.sender_dir.filename().c_str(), pair.receiver_dir.filename().c_str(),
                static_cast<long long>(cmd.requests), cmd.bandwidth_gbit, 1e3 * mean_full,
                std::max(load_before, load_after));
  chart.title = "Time to first token against load";
  chart.subtitle = subtitle;
  chart.y_label = "time to first token / idle full prefill";
  chart.unit = " x idle full prefill";
  std::error_code ec;
  if (cmd.svg.has_parent_path()) fs::create_directories(cmd.svg.parent_path(), ec);
  const std::string err = charts::load_curves(chart).save(cmd.svg.string());
  if (!err.empty()) return Status::io_error(err);
  std::printf("wrote %s\n", cmd.svg.c_str());
  return Status::ok();
}

inline constexpr const char* kLoadHelp =
    R"(usage: droidspeak load [--sender DIR] [--receiver DIR] [--samples FILE] [--plan FILE]
         [--rates 0.2,0.4,0.6,0.8,0.95] [--requests N] [--contexts K]
         [--bandwidth Gbit/s] [--latency ms] [--seed S] [--pairs N] [--slo X]
         [--max-seconds T] [--svg FILE]

Many requests: Poisson arrivals over K contexts that share prefixes (request i
reuses context i mod K with the suffix of sample i), served first come first
served by one receiver with real prefills, for four strategies: full prefill,
full reuse, the plan chosen for the link, and the run-time policy, which moves
along the plan file's quality/cost front as the queue a request finds grows.
The sender's bytes cross one modelled link (--bandwidth Gbit/s, default 8) that
is reserved when each request arrives, so the next request's transfer overlaps
the current one's recomputation. Rates are fractions of the receiver's
full-prefill capacity, measured first in the same run (--pairs paired runs).
Prints p50 / p99 time to first token and throughput per rate and strategy,
with the load average, and draws them (--svg, default droidspeak-out/load.svg).
Defaults: the bundled base -> ft-code on examples/data/code_profile.jsonl,
32 requests, 4 contexts; without --plan a plan is profiled first (suffix loss
within 5 %, 4 samples) into load-plan.json next to the picture. --slo X sets the policy's
latency target to X times the predicted idle full prefill (default 1).
Every replay stops with an error past --max-seconds (default 300).
)";

//! The `load` subcommand: parses `argv` (after the command name), runs, returns the exit code.
inline int load_main(const std::vector<std::string>& argv) {
  auto fail = [](const std::string& message) {
    std::string line = message;
    std::replace(line.begin(), line.end(), '\n', ' ');
    std::fprintf(stderr, "droidspeak load: error: %s\n", line.c_str());
    return 1;
  };
  Args args(argv,
            {{"sender"}, {"receiver"}, {"samples"}, {"plan"}, {"rates"}, {"requests"}, {"contexts"}, {"bandwidth"},
             {"latency"}, {"seed"}, {"pairs"}, {"slo"}, {"max-seconds"}, {"svg"}});
  if (args.help()) {
    std::fputs(kLoadHelp, stdout);
    return 0;
  }
  if (!args.error().empty()) return fail(args.error() + " (see droidspeak load --help)");
  if (!args.positional().empty()) {
    return fail("unexpected argument '" + args.positional()[0] + "' (see droidspeak load --help)");
  }
#ifdef DROIDSPEAK_SOURCE_DIR
  const fs::path src = DROIDSPEAK_SOURCE_DIR;
#else
  const fs::path src = ".";
#endif
  std::error_code ec;
  const fs::path bundled = fs::is_directory("examples/models", ec) ? fs::path("examples") : src / "examples";
  LoadCommand c;
  c.sender = args.get("sender", (bundled / "models" / "base").string());
  c.receiver = args.get("receiver", (bundled / "models" / "ft-code").string());
  c.samples = args.get("samples", (bundled / "data" / "code_profile.jsonl").string());
  c.plan = args.get("plan");
  c.svg = args.get("svg", "droidspeak-out/load.svg");
  std::int64_t seed = 1;
  if (!args.get_int("requests", 32, 1, 100000, c.requests) || !args.get_int("contexts", 4, 1, 4096, c.contexts) ||
      !args.get_number("bandwidth", 8.0, 1e-6, 1e6, c.bandwidth_gbit) ||
      !args.get_number("latency", 0.05, 0, 1e4, c.latency_ms) || !args.get_int("seed", 1, 0, 1LL << 62, seed) ||
      !args.get_int("pairs", 6, 1, 10000, c.pairs) || !args.get_number("slo", 1.0, 0.01, 100, c.slo) ||
      !args.get_number("max-seconds", 300, 1, 86400, c.max_seconds)) {
    return fail(args.error());
  }
  c.seed = static_cast<std::uint64_t>(seed);
  if (args.has("rates")) {
    c.rates.clear();
    std::string text = args.get("rates");
    for (std::size_t start = 0; start <= text.size();) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      const std::optional<double> v = parse_number(std::string_view(text).substr(start, comma - start));
      if (!v || !(*v > 0.0) || *v > 10.0) {
        return fail("--rates must be a comma-separated list of numbers in (0, 10], got '" + text + "'");
      }
      c.rates.push_back(*v);
      start = comma + 1;
    }
  }
  if (const Status s = check_output_file(c.svg, "--svg"); !s) return fail(s.message());
  Result<Pair> pair = load_pair(c.sender, c.receiver);
  if (!pair) return fail(pair.status().message());
  const Status s = run_load(c, *pair);
  return s ? 0 : fail(s.message());
}

}  // namespace droidspeak_cli
