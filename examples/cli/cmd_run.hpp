// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak run`: the sender prefills a context; the receiver's cost model is
//! calibrated on this machine, the fastest of the plan file's profiled plans within its
//! quality threshold is chosen for the link, and its pipelined partial prefill (optionally
//! over a simulated link) is timed against the receiver's full prefill in interleaved pairs
//! (profile::time_paired), beside the cost model's prediction, and again without its
//! K/V-only interval tails (the tails' saving, measured and predicted). Both then generate a
//! continuation, outside the timing, and the median pair's phases are drawn.
//! With --remote the sender is another process (`droidspeak serve`): the receiver fetches its
//! caches over UCX while it recomputes, and falls back to its full prefill, saying why, when
//! the sender cannot serve them.
#pragma once

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "charts.hpp"
#include "common.hpp"
#include "remote.hpp"
#include "remote_link.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/prefill/quality_guard.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/prefill/transport.hpp"
#include "droidspeak/profile/cost_calibration.hpp"
#include "droidspeak/profile/guard_calibration.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/profile/plan_choice.hpp"
#include "droidspeak/reference/generate.hpp"
#include "tail_saving.hpp"

namespace droidspeak_cli {

struct RunCommand {
  fs::path plan, sender, receiver, context, prompt;
  fs::path timeline;            //!< the timeline picture; empty: timeline.svg next to the plan
  double bandwidth_gbps = 0.0;  //!< > 0: a simulated link of this many GB/s; 0: in process
  double latency_ms = 0.0;
  std::int64_t tokens = 32;  //!< continuation length
  std::int64_t pairs = 6;    //!< measured (partial, full) pairs after a warm-up pair; even:
                             //!< each order within a pair equally often
  bool ids = false;          //!< context and prompt files hold token ids
  //! Check the plan's prefill with the plan file's calibrated guard before the continuation
  //! (prefill::guard_check); on a failure the continuation uses the receiver's full prefill.
  bool guard = true;
  //! A plan to run instead of the fastest one for the link: "selected" (the one the file
  //! selected) or a plan ("none", "all", "3-4", "0,3-4"). A choice that does not depend on
  //! timing, so that two runs use the same plan. Empty: the fastest for the link.
  std::string use_plan{};
  //! "ADDR:PORT" of a `droidspeak serve` holding the sender's caches; empty: the sender runs
  //! in this process. With it, bandwidth_gbps only tells the cost model the link's rate.
  std::string remote{};
  double remote_timeout = 10.0;  //!< seconds, bounds every wait on the remote sender
  std::string transports{};      //!< UCX_TLS for the remote link ("" = UCX's choice)
  //! With --remote: rounds of chunks fetched from the sender to measure the link before the
  //! plan is chosen (after one warm-up round); the cost model then uses the measured link, not
  //! --bandwidth. 0: no measurement, the cost model takes --bandwidth as it is.
  std::int64_t link_rounds = 4;
  //! Non-empty: print the plan the cost model chooses at each of these bandwidths (GB/s,
  //! this receiver's calibration, --latency per chunk) and stop; nothing is timed.
  std::vector<double> sweep_gbps{};
};

//! Parses --sweep-bandwidth's list: comma-separated GB/s, each in [1e-6, 1e6].
inline Result<std::vector<double>> parse_bandwidths(const std::string& text) {
  std::vector<double> out;
  std::size_t from = 0;
  while (from <= text.size()) {
    const std::size_t comma = std::min(text.find(',', from), text.size());
    const std::optional<double> v = parse_number(std::string_view(text).substr(from, comma - from));
    if (!v || !(*v >= 1e-6 && *v <= 1e6)) {
      return Status::invalid_argument("--sweep-bandwidth must be GB/s in [1e-6, 1e6], comma-separated, got '" +
                                      text + "'");
    }
    out.push_back(*v);
    from = comma + 1;
  }
  return out;
}

//! Where the timeline picture goes.
inline fs::path timeline_path(const RunCommand& cmd) {
  if (!cmd.timeline.empty()) return cmd.timeline;
  return (cmd.plan.has_parent_path() ? cmd.plan.parent_path() : fs::path(".")) / "timeline.svg";
}

namespace detail {

// The picture's phases from one partial prefill's timeline, with the time each lane spent.
inline charts::TimelineData timeline_of(const ds::prefill::PrefillReport& rep, double lane_ms[5]) {
  charts::TimelineData tl;
  for (const ds::prefill::TimelineEvent& ev : rep.timeline) {
    using Kind = ds::prefill::TimelineEvent::Kind;
    lane_ms[static_cast<int>(ev.kind)] += 1e3 * (ev.end - ev.start);
    std::string label = ev.kind == Kind::kSuffix ? "suffix"
                        : ev.first_layer == ev.last_layer
                            ? std::to_string(ev.first_layer)
                            : std::to_string(ev.first_layer) + "-" + std::to_string(ev.last_layer);
    if (ev.kind == Kind::kRecompute) label = "layers " + label;
    if (ev.kind == Kind::kTransferE) label = "E " + label;
    if (ev.kind == Kind::kTransferKv) label = "KV " + label;
    tl.phases.push_back({static_cast<charts::Lane>(static_cast<int>(ev.kind)), 1e3 * ev.start,
                         1e3 * ev.end, label});
  }
  return tl;
}

// The report whose total is the median of `reports` (non-empty).
inline const ds::prefill::PrefillReport& median_report(
    const std::vector<ds::prefill::PrefillReport>& reports) {
  std::vector<std::size_t> order(reports.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return reports[a].total_seconds < reports[b].total_seconds;
  });
  return reports[order[order.size() / 2]];
}

}  // namespace detail

//! "first-token logits: 0x..." : a fingerprint of the logits' bits, so that two runs (local and
//! remote, say) can be compared bit for bit from their output.
inline std::string logits_checksum_line(std::span<const float> logits) {
  return "first-token logits: " +
         ds::transfer::detail::hex64(ds::plan::fingerprint64(std::as_bytes(logits))) + " (fingerprint of " +
         std::to_string(logits.size()) + " floats' bits)";
}

//! The plan --use-plan names ("selected" or a plan of the receiver's layers) with its profiled
//! quality drop; a plan the file did not profile is refused (its quality is unknown).
inline Result<ds::plan::ProfiledPlan> given_plan(const ds::plan::PlanFile& file, const std::string& spec) {
  if (spec == "selected") return ds::plan::ProfiledPlan{file.plan, file.predicted_quality_drop};
  Result<ds::plan::ReusePlan> p = ds::plan::ReusePlan::parse(spec, file.plan.num_layers());
  if (!p) return p.status().with_context("--use-plan");
  Result<std::vector<ds::plan::ProfiledPlan>> profiled = ds::profile::profiled_plans(file);
  if (!profiled) return profiled.status();
  for (const ds::plan::ProfiledPlan& q : *profiled) {
    if (q.plan == *p) return q;
  }
  return Status::invalid_argument("--use-plan " + spec + ": the plan file did not profile that plan");
}

//! The link in words: the remote sender, a simulated link, or a memcpy.
inline std::string link_description(const RunCommand& cmd) {
  char buf[160];
  if (!cmd.remote.empty() && cmd.bandwidth_gbps > 0) {
    std::snprintf(buf, sizeof buf, "remote sender %s over UCX, nominal %.3g GB/s%s", cmd.remote.c_str(),
                  cmd.bandwidth_gbps, cmd.link_rounds > 0 ? " (the cost model uses the measured link)" : "");
  } else if (!cmd.remote.empty()) {
    std::snprintf(buf, sizeof buf, "remote sender %s over UCX", cmd.remote.c_str());
  } else if (cmd.bandwidth_gbps > 0) {
    std::snprintf(buf, sizeof buf, "simulated link %.3g GB/s, %.3g ms latency", cmd.bandwidth_gbps, cmd.latency_ms);
  } else {
    std::snprintf(buf, sizeof buf, "in-process transport");
  }
  return buf;
}

//! The receiver's answer when the remote sender could not serve the caches: its own full
//! prefill, never partial or unchecked data. Prints why, the logits' fingerprint and the
//! continuation.
inline Status run_fallback(const RunCommand& cmd, Pair& pair, std::span<const std::int32_t> context,
                           std::span<const std::int32_t> prompt, const std::string& why) {
  const std::int64_t vocab = pair.receiver.vocab_size();
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  std::printf("context %zu tokens, prompt %zu tokens; %s\n", context.size(), prompt.size(),
              link_description(cmd).c_str());
  std::string line = why;
  for (char& c : line) c = c == '\n' ? ' ' : c;
  std::printf("remote: FELL BACK to the receiver's full prefill: %s\n", line.c_str());
  DROIDSPEAK_TRY(ds::prefill::full_prefill(pair.receiver, context, prompt, logits));
  std::printf("%s\n", logits_checksum_line(logits).c_str());
  Result<std::vector<std::int32_t>> tokens =
      ds::reference::continue_generation(pair.receiver, logits, {.max_new_tokens = cmd.tokens});
  if (!tokens) return tokens.status();
  std::printf("continuation, %lld tokens, greedy:\n  full prefill:      \"%s\"\n", static_cast<long long>(cmd.tokens),
              show_tokens(*tokens, vocab).c_str());
  return Status::ok();
}

//! The bandwidth-aware choice, shown: at each of cmd.sweep_gbps the plan the cost model
//! (`calibration`, cmd.latency_ms per chunk) picks among `file`'s profiled plans within its
//! threshold, its predicted time to first token, and full reuse's and full prefill's beside it.
inline Status print_sweep(const RunCommand& cmd, const ds::plan::PlanFile& file, const ds::layout::ModelGeometry& g,
                          std::int64_t n, const ds::profile::CostCalibration& calibration) {
  const std::string measure_name(ds::plan::to_string(file.measure));
  std::printf(
      "plan choice by link bandwidth: the fastest of the plans profiled in %s within its threshold (%s), "
      "cost model calibrated on this receiver (context %lld tokens), %.3g ms latency per chunk\n",
      cmd.plan.c_str(), drop_text(file.threshold, measure_name).c_str(), static_cast<long long>(n), cmd.latency_ms);
  std::printf("  %10s %10s  %-14s %9s %12s  %14s %14s %14s\n", "GB/s", "Gbit/s", "plan", "recompute",
              measure_label(measure_name).c_str(), "predicted TTFT", "full reuse", "full prefill");
  const ds::plan::ReusePlan reuse_all = ds::plan::ReusePlan::full_reuse(g.num_layers);
  for (double gbps : cmd.sweep_gbps) {
    Result<ds::plan::CostInputs> in =
        ds::profile::cost_inputs(g, n, calibration, {gbps * 1e9, cmd.latency_ms * 1e-3});
    if (!in) return in.status();
    Result<ds::plan::ProfiledPlan> best = ds::profile::fastest_plan(file, *in);
    if (!best) return best.status();
    Result<ds::plan::CostPrediction> t = ds::plan::predict_cost(best->plan, *in);
    if (!t) return t.status();
    Result<ds::plan::CostPrediction> reuse = ds::plan::predict_cost(reuse_all, *in);
    if (!reuse) return reuse.status();
    std::printf("  %10.4g %10.4g  %-14s %9lld %12s  %14s %14s %14s\n", gbps, 8 * gbps,
                best->plan.to_string().c_str(), static_cast<long long>(best->plan.num_recomputed()),
                drop_text(best->quality_drop, measure_name).c_str(), ms(t->total).c_str(), ms(reuse->total).c_str(),
                ms(ds::plan::predict_full_prefill(*in)).c_str());
  }
  return Status::ok();
}

//! Loads the plan file (refusing one made for another pair), chooses the plan for the link,
//! runs and reports on stdout. `chosen`, when given, receives the plan that ran.
inline Status run_run(const RunCommand& cmd, Pair& pair, ds::plan::ReusePlan* chosen = nullptr) {
  const fs::path svg_path = timeline_path(cmd);  // checked writable by the caller, up front
  Result<ds::plan::PlanFile> file = load_plan_for(cmd.plan, pair);
  if (!file) return file.status();
  const std::int64_t vocab = pair.receiver.vocab_size();
  Result<std::vector<std::int32_t>> context = load_tokens(cmd.context, vocab, cmd.ids);
  if (!context) return context.status();
  Result<std::vector<std::int32_t>> prompt = load_tokens(cmd.prompt, vocab, cmd.ids);
  if (!prompt) return prompt.status();
  if (context->empty() || prompt->empty())
    return Status::invalid_argument("the context and the prompt must not be empty");
  const ds::layout::ModelGeometry g = pair.receiver.geometry();
  const auto n = static_cast<std::int64_t>(context->size());
  const auto m = static_cast<std::int64_t>(prompt->size());

  // The sender: one prefill capturing E at every layer and every layer's KV, so that any of
  // the plan file's plans can run from it. With --remote the sender is another process and
  // its caches never exist here; the calibration below, which times copies and adoption (not
  // values), then runs over the receiver's own caches of the same shapes.
  const bool remote = !cmd.remote.empty();
  std::optional<Endpoint> remote_at;
  if (remote) {
    Result<Endpoint> at = parse_endpoint(cmd.remote, "--remote", false);
    if (!at) return at.status();
    remote_at = *at;
  }
  const auto ts = std::chrono::steady_clock::now();
  Result<ds::prefill::SenderCacheBuffers> sent = ds::prefill::SenderCacheBuffers::prefill(
      remote ? pair.receiver : pair.sender, file->plan, *context, {.layers = ds::prefill::SenderLayers::kAll});
  if (!sent) return sent.status();
  const double sender_seconds = seconds_since(ts);
  const ds::prefill::SenderCaches caches = sent->caches();

  // Calibrate the cost model on this receiver.
  const ds::profile::LinkSpec nominal_link{cmd.bandwidth_gbps * 1e9, cmd.latency_ms * 1e-3};
  Result<ds::profile::CostCalibration> calibration =
      ds::profile::measure_cost_calibration(pair.receiver, *context, caches, *prompt);
  if (!calibration) return calibration.status();
  if (!cmd.sweep_gbps.empty()) return print_sweep(cmd, *file, g, n, *calibration);
  // A plan --use-plan names is checked before any link is made.
  std::optional<ds::plan::ProfiledPlan> named;
  if (!cmd.use_plan.empty()) {
    Result<ds::plan::ProfiledPlan> q = given_plan(*file, cmd.use_plan);
    if (!q) return q.status();
    named = *q;
  }

  // The remote sender over UCX: connect, and measure the link through the path the prefill
  // will take (unless --link-rounds 0); the cost model is then told the measured link.
  const std::uint64_t sender_fingerprint = model_fingerprint(pair.sender_record);
  std::optional<RemoteLink> link;
  std::optional<ds::profile::LinkCalibration> measured;
  if (remote) {
    const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(1e3 * cmd.remote_timeout));
    Result<RemoteLink> l = RemoteLink::connect(*remote_at, timeout, cmd.transports);
    // No sender to reach is a reason to fall back; a tool built without UCX is an error.
    if (!l && l.status().code() == ds::StatusCode::kErrorNotSupported) return l.status();
    if (!l) return run_fallback(cmd, pair, *context, *prompt, l.status().message());
    link.emplace(std::move(l).value());
    if (cmd.link_rounds > 0) {
      Result<ds::profile::LinkCalibration> m =
          link->calibrate(g, *context, sender_fingerprint, {.warmup_rounds = 1, .rounds = cmd.link_rounds});
      if (!m) return run_fallback(cmd, pair, *context, *prompt, m.status().message());
      measured = *m;
    }
  }
  const ds::profile::LinkSpec link_spec = measured ? measured->link : nominal_link;

  // The fastest plan for the link (or the one --use-plan names).
  Result<ds::plan::CostInputs> inputs = ds::profile::cost_inputs(g, n, *calibration, link_spec);
  if (!inputs) return inputs.status();
  Result<ds::plan::ProfiledPlan> fastest =
      named ? Result<ds::plan::ProfiledPlan>(*named) : ds::profile::fastest_plan(*file, *inputs);
  if (!fastest) return fastest.status();
  const ds::plan::ReusePlan& plan = fastest->plan;
  if (chosen != nullptr) *chosen = plan;
  // What the nominal link would have chosen, when the measured one is used and both are known.
  std::optional<ds::plan::ProfiledPlan> nominal_choice;
  if (measured && cmd.bandwidth_gbps > 0 && cmd.use_plan.empty()) {
    Result<ds::plan::CostInputs> nominal_inputs = ds::profile::cost_inputs(g, n, *calibration, nominal_link);
    if (!nominal_inputs) return nominal_inputs.status();
    Result<ds::plan::ProfiledPlan> q = ds::profile::fastest_plan(*file, *nominal_inputs);
    if (!q) return q.status();
    nominal_choice = *q;
  }
  if (link) DROIDSPEAK_TRY(link->prepare(g, plan, n));
  std::optional<ds::prefill::SimulatedLink> simulated;
  ds::prefill::InProcessTransport in_process;
  if (cmd.bandwidth_gbps > 0 && !remote) {
    simulated.emplace(link_spec.bytes_per_second, link_spec.latency_seconds);
    DROIDSPEAK_TRY(simulated->validate());
  }
  const ds::prefill::TransportRef transport =
      simulated ? ds::prefill::TransportRef(*simulated) : ds::prefill::TransportRef(in_process);

  // Paired timing: the receiver's full prefill against the pipelined partial prefill.
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  std::vector<ds::prefill::PrefillReport> reports;
  auto full = [&] { return ds::prefill::full_prefill(pair.receiver, *context, *prompt, logits); };
  // Why the remote partial prefill was given up (the first failure); empty while it works.
  std::string fell_back;
  auto partial = [&] {
    ds::prefill::PrefillReport rep;
    const Status s =
        remote ? link->partial_prefill(pair.receiver, plan, *context, sender_fingerprint, *prompt, logits, &rep)
               : ds::prefill::streamed_partial_prefill(pair.receiver, plan, *context, caches, transport,
                                                       ds::prefill::Overlap::kPipelined, *prompt, logits, &rep);
    if (!s && remote && fell_back.empty()) fell_back = s.message();
    reports.push_back(std::move(rep));
    return s;
  };
  const ds::profile::PairedTimingOptions pairing{.warmup_pairs = 1, .pairs = cmd.pairs};
  Result<ds::profile::PairedTiming> timing = ds::profile::time_paired(full, partial, pairing);
  if (!timing && !fell_back.empty()) return run_fallback(cmd, pair, *context, *prompt, fell_back);
  if (!timing) return timing.status();
  reports.erase(reports.begin(), reports.begin() + pairing.warmup_pairs);  // the warm-up's
  // A copy: partial() appends to `reports` again below.
  const ds::prefill::PrefillReport shown = detail::median_report(reports);

  // The prediction, calibrated in this run: per layer-token compute from the paired full
  // prefills, the suffix from the partial prefills' own suffix phase.
  ds::profile::CostCalibration same_run = *calibration;
  same_run.full_prefill_seconds = timing->median_baseline_seconds;
  std::vector<double> suffixes;
  for (const ds::prefill::PrefillReport& r : reports) suffixes.push_back(r.suffix_seconds);
  same_run.suffix_seconds = ds::profile::summarize(suffixes)->median;
  Result<ds::plan::CostInputs> same_inputs = ds::profile::cost_inputs(g, n, same_run, link_spec);
  if (!same_inputs) return same_inputs.status();
  Result<ds::plan::CostPrediction> predicted = ds::plan::predict_cost(plan, *same_inputs);
  if (!predicted) return predicted.status();
  const double predicted_full = ds::plan::predict_full_prefill(*same_inputs);
  // The same prediction told the nominal link instead (when the link was measured).
  std::optional<double> predicted_nominal;
  if (measured && cmd.bandwidth_gbps > 0) {
    Result<ds::plan::CostInputs> nominal_inputs = ds::profile::cost_inputs(g, n, same_run, nominal_link);
    if (!nominal_inputs) return nominal_inputs.status();
    Result<ds::plan::CostPrediction> p = ds::plan::predict_cost(plan, *nominal_inputs);
    if (!p) return p.status();
    predicted_nominal = p->total;
  }

  // The K/V-only tail's share of it: the same pipelined prefill with every layer in full.
  std::optional<TailSaving> tail;
  if (plan.num_intervals() > 0 && !remote) {
    Result<TailSaving> t = measure_tail_saving(
        pair.receiver, plan, *same_inputs, ds::plan::CostSchedule::kPipelined, cmd.pairs,
        [&](auto& engine, ds::prefill::PrefillReport* rep) {
          return ds::prefill::streamed_partial_prefill(engine, plan, *context, caches, transport,
                                                       ds::prefill::Overlap::kPipelined, *prompt, logits, rep);
        });
    if (!t) return t.status();
    tail = *t;
  }

  // The continuations, outside the timing: one more run of each, then greedy decoding.
  const ds::reference::SamplingOptions greedy{.max_new_tokens = cmd.tokens};
  if (const Status s = partial(); !s) {
    if (!remote) return s;
    return run_fallback(cmd, pair, *context, *prompt, fell_back);
  }
  // The guard, over the mixed cache the plan just left (the prompt already run: guard_check
  // leaves its rows and the logits as they are when it passes).
  std::string guard_line = "guard: skipped (--no-guard)";
  if (cmd.guard && !file->guard) {
    guard_line = "guard: no guard in the plan file (profile writes one)";
  } else if (cmd.guard && !(plan == file->plan)) {
    // The bounds hold for the plan they were calibrated with; another plan reuses other layers.
    guard_line = "guard: calibrated for plan " + file->plan.to_string() + ", not checked for plan " +
                 plan.to_string();
  } else if (cmd.guard) {
    const ds::prefill::GuardOptions options = ds::profile::GuardCalibration::from(*file->guard).guard_options();
    ds::prefill::GuardReport guard;
    Result<bool> passed = ds::prefill::guard_check(pair.receiver, plan, *context, options, guard);
    if (!passed) return passed.status();
    char buf[160];
    std::snprintf(buf, sizeof buf, "guard: %s, worst bound ratio %.3f (probe %lld tokens, fall back above 1)",
                  *passed ? "passed" : "FELL BACK to the receiver's full prefill", guard.worst_bound_ratio,
                  static_cast<long long>(options.probe_tokens));
    guard_line = buf;
    if (!*passed) DROIDSPEAK_TRY(full());
  }
  const std::string logits_line = logits_checksum_line(logits);
  Result<std::vector<std::int32_t>> with_plan =
      ds::reference::continue_generation(pair.receiver, logits, greedy);
  if (!with_plan) return with_plan.status();
  DROIDSPEAK_TRY(full());
  Result<std::vector<std::int32_t>> with_full =
      ds::reference::continue_generation(pair.receiver, logits, greedy);
  if (!with_full) return with_full.status();

  // Report.
  const std::string link_name = link_description(cmd);
  std::printf("context %lld tokens, prompt %lld tokens; %s\n", static_cast<long long>(n),
              static_cast<long long>(m), link_name.c_str());
  if (remote) std::printf("remote: the sender's caches arrived intact over UCX for every run\n");
  if (measured) {
    const ds::profile::LinkCalibration& c = *measured;
    char nominal[64] = "none given";
    if (cmd.bandwidth_gbps > 0) std::snprintf(nominal, sizeof nominal, "%.4g GB/s", cmd.bandwidth_gbps);
    std::printf(
        "link: nominal %s (--bandwidth); measured %.4g GB/s + %.3g ms per chunk (fit over %zu chunks of "
        "%lld rounds); per round %.4g GB/s median, %.4g-%.4g, +- %.2g; the cost model uses the measured link\n",
        nominal, c.link.bytes_per_second / 1e9, 1e3 * c.link.latency_seconds, c.samples.size(),
        static_cast<long long>(c.rounds), c.rate.median / 1e9, c.rate.min / 1e9, c.rate.max / 1e9,
        c.rate.half_iqr / 1e9);
    if (nominal_choice && !(nominal_choice->plan == plan)) {
      std::printf("link: told the nominal rate, the cost model would have chosen plan %s\n",
                  nominal_choice->plan.to_string().c_str());
    }
  }
  const std::string measure_name(ds::plan::to_string(file->measure));
  std::printf(
      "plan %s: recompute %lld of %lld layers, reuse %lld (%s %s); of the plans profiled in %s\n"
      "within its threshold, %s (the file selected %s, by layers recomputed)\n\n",
      plan.to_string().c_str(), static_cast<long long>(plan.num_recomputed()),
      static_cast<long long>(g.num_layers), static_cast<long long>(plan.reused().count()),
      measure_label(measure_name).c_str(), drop_text(fastest->quality_drop, measure_name).c_str(),
      cmd.plan.c_str(), cmd.use_plan.empty() ? "the fastest predicted for this link" : "the one --use-plan names",
      file->plan.to_string().c_str());
  double lane_ms[5] = {0, 0, 0, 0, 0};
  charts::TimelineData tl_data = detail::timeline_of(shown, lane_ms);
  auto row = [](const std::string& what, double msec, const char* note = "") {
    std::printf("  %-38s %9.2f ms%s\n", what.c_str(), msec, note);
  };
  auto layers = [](std::int64_t k) { return std::to_string(k) + (k == 1 ? " layer" : " layers"); };
  if (!remote) row("sender prefill (E captured at every layer)", 1e3 * sender_seconds);
  std::printf("  receiver, pipelined partial prefill (the median pair):\n");
  row("  E transfer (" + layers(plan.entry_layers().count()) + ")", lane_ms[0]);
  row("  KV transfer (" + layers(shown.layers_reused) + ")", lane_ms[1]);
  row("  KV adoption", lane_ms[2], "  (transfer thread, overlaps the recompute)");
  row("  recompute (" + layers(plan.num_recomputed()) + ")", lane_ms[3]);
  row("  prompt through all layers", lane_ms[4]);
  std::printf("\n  %-38s %12s  %12s\n", "", "measured", "predicted");
  std::printf("  %-38s %12s  %12s\n", "time to first token, with the plan",
              ms(timing->median_candidate_seconds).c_str(), ms(predicted->total).c_str());
  std::printf("  %-38s %12s  %12s\n", "receiver full prefill", ms(timing->median_baseline_seconds).c_str(),
              (ms(predicted_full) + "*").c_str());
  std::printf("  %-38s %12.2f  %12.2f\n", "partial / full (median of pairs)", timing->ratio.median,
              predicted->total / predicted_full);
  if (predicted_nominal) {
    std::printf("  %-38s %12s  %12s\n", "time to first token, nominal link", "", ms(*predicted_nominal).c_str());
  }
  std::printf("  partial / full: %s\n", ds::profile::describe(*timing).c_str());
  std::printf(
      "  (* the calibration: the cost model's compute per layer-token is this run's full "
      "prefill)\n\n");
  if (tail) {
    print_tail_saving(*tail);
    std::printf("\n");
  } else if (remote) {
    // Its measurement reruns the prefill from local caches, which a remote receiver lacks.
    std::printf("K/V-only tail: not measured with --remote (the sender's caches are not here)\n\n");
  } else {
    std::printf("K/V-only tail: the plan recomputes no layer\n\n");
  }
  std::printf("%s\n%s\n", guard_line.c_str(), logits_line.c_str());
  std::size_t same = 0;
  while (same < with_plan->size() && (*with_plan)[same] == (*with_full)[same]) ++same;
  std::printf(
      "continuation, %lld tokens, greedy:\n  with the plan:     \"%s\"\n  full prefill:      "
      "\"%s\"\n  identical for the first %zu of %zu tokens\n",
      static_cast<long long>(cmd.tokens), show_tokens(*with_plan, vocab).c_str(),
      show_tokens(*with_full, vocab).c_str(), same, with_plan->size());

  tl_data.title = "Pipelined partial prefill, plan " + plan.to_string() + " (" + link_name + ")";
  tl_data.partial_total_ms = 1e3 * shown.total_seconds;
  tl_data.full_prefill_ms = 1e3 * timing->median_baseline_seconds;
  tl_data.full_label = "full prefill: " + std::to_string(g.num_layers) + " layers x " +
                       std::to_string(n + m) + " tokens";
  std::error_code ec;
  if (svg_path.has_parent_path()) fs::create_directories(svg_path.parent_path(), ec);
  const std::string err = charts::timeline(tl_data).save(svg_path.string());
  if (!err.empty()) return Status::io_error(err);
  std::printf("wrote %s\n", svg_path.c_str());
  return Status::ok();
}

}  // namespace droidspeak_cli
