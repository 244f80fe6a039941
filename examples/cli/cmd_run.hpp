// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak run`: the sender prefills a context, the receiver adopts it with a plan
//! through the E-first pipelined schedule (optionally over a simulated link), both the
//! partial and the receiver's full prefill generate a continuation, and the phases are
//! timed and drawn.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "charts.hpp"
#include "common.hpp"
#include "droidspeak/plan/plan_file.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/prefill/transport.hpp"
#include "droidspeak/reference/generate.hpp"

namespace droidspeak_cli {

struct RunCommand {
  fs::path plan, sender, receiver, context, prompt;
  fs::path timeline;            //!< the timeline picture; empty: timeline.svg next to the plan
  double bandwidth_gbps = 0.0;  //!< > 0: a simulated link of this many GB/s; 0: in process
  double latency_ms = 0.0;
  std::int64_t tokens = 32;  //!< continuation length
  bool ids = false;          //!< context and prompt files hold token ids
};

namespace detail {
// Greedy continuation of `tokens` tokens from `logits`, the engine holding `position` tokens.
inline Result<std::vector<std::int32_t>> continue_greedy(ds::reference::Engine& e,
                                                         std::vector<float> logits,
                                                         std::int64_t position,
                                                         std::int64_t tokens) {
  DROIDSPEAK_TRY(e.reserve(position + tokens));
  std::vector<std::int32_t> out;
  std::vector<float> h(static_cast<std::size_t>(e.geometry().hidden_size));
  for (std::int64_t i = 0; i < tokens; ++i) {
    const std::int32_t t = ds::reference::argmax(logits);
    out.push_back(t);
    if (i + 1 == tokens) break;
    DROIDSPEAK_TRY(e.embed(std::span<const std::int32_t>(&t, 1), h));
    DROIDSPEAK_TRY(e.run_layers(0, e.geometry().num_layers, position + i, 1, h, nullptr));
    DROIDSPEAK_TRY(e.logits(h, logits));
  }
  return out;
}
}  // namespace detail

//! Loads the plan (refusing one made for another pair), runs and reports on stdout.
inline Status run_run(const RunCommand& cmd, Pair& pair) {
  std::error_code ec;
  if (!fs::is_regular_file(cmd.plan, ec))
    return Status::io_error(cmd.plan.string() + ": no such plan file");
  Result<ds::plan::PlanFile> file = ds::plan::read_plan_file(cmd.plan);
  if (!file) return file.status();
  DROIDSPEAK_TRY(ds::plan::check_plan_matches(*file, pair.sender_record, pair.receiver_record)
                     .with_context(cmd.plan.string()));
  const std::int64_t vocab = pair.receiver.vocab_size();
  Result<std::vector<std::int32_t>> context = load_tokens(cmd.context, vocab, cmd.ids);
  if (!context) return context.status();
  Result<std::vector<std::int32_t>> prompt = load_tokens(cmd.prompt, vocab, cmd.ids);
  if (!prompt) return prompt.status();
  if (context->empty() || prompt->empty())
    return Status::invalid_argument("the context and the prompt must not be empty");
  const ds::layout::ModelGeometry g = pair.receiver.geometry();
  const ds::plan::ReusePlan& plan = file->plan;
  const auto n = static_cast<std::int64_t>(context->size());
  const auto m = static_cast<std::int64_t>(prompt->size());

  // The sender: prefill with E captured at the plan's entry layers, KV into the transfer layout.
  const auto ts = std::chrono::steady_clock::now();
  Result<ds::prefill::SenderCacheBuffers> sent =
      ds::prefill::SenderCacheBuffers::prefill(pair.sender, plan, *context);
  if (!sent) return sent.status();
  const double sender_seconds = seconds_since(ts);
  const ds::prefill::SenderCaches caches = sent->caches();

  // The link, picked at run time: a simulated one of the given bandwidth, or a memcpy.
  std::optional<ds::prefill::SimulatedLink> simulated;
  ds::prefill::InProcessTransport in_process;
  if (cmd.bandwidth_gbps > 0) {
    simulated.emplace(cmd.bandwidth_gbps * 1e9, cmd.latency_ms * 1e-3);
    DROIDSPEAK_TRY(simulated->validate());
  }
  const ds::prefill::TransportRef transport =
      simulated ? ds::prefill::TransportRef(*simulated) : ds::prefill::TransportRef(in_process);

  // The receiver: partial prefill (median of 3 runs by total time), then its continuation.
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  ds::prefill::PrefillReport best;
  std::vector<double> totals;
  for (int run = 0; run < 3; ++run) {
    ds::prefill::PrefillReport rep;
    DROIDSPEAK_TRY(ds::prefill::streamed_partial_prefill(pair.receiver, plan, *context, caches, transport,
                                                         ds::prefill::Overlap::kPipelined, *prompt,
                                                         logits, &rep));
    totals.push_back(rep.total_seconds);
    std::sort(totals.begin(), totals.end());
    if (run == 1 || (run == 2 && rep.total_seconds == totals[1])) best = rep;
  }
  Result<std::vector<std::int32_t>> with_plan =
      detail::continue_greedy(pair.receiver, logits, n + m, cmd.tokens);
  if (!with_plan) return with_plan.status();

  // The receiver's own full prefill of the same input (median of 3), then its continuation.
  Result<double> full_seconds = median_seconds(
      3, [&] { return ds::prefill::full_prefill(pair.receiver, *context, *prompt, logits); });
  if (!full_seconds) return full_seconds.status();
  Result<std::vector<std::int32_t>> with_full =
      detail::continue_greedy(pair.receiver, logits, n + m, cmd.tokens);
  if (!with_full) return with_full.status();

  // Report.
  double lane_ms[5] = {0, 0, 0, 0, 0};
  charts::TimelineData tl_data;
  for (const ds::prefill::TimelineEvent& ev : best.timeline) {
    const auto lane = static_cast<charts::Lane>(static_cast<int>(ev.kind));
    lane_ms[static_cast<int>(ev.kind)] += 1e3 * (ev.end - ev.start);
    std::string label = ev.kind == ds::prefill::TimelineEvent::Kind::kSuffix ? "suffix"
                        : ev.first_layer == ev.last_layer
                            ? std::to_string(ev.first_layer)
                            : std::to_string(ev.first_layer) + "-" + std::to_string(ev.last_layer);
    if (ev.kind == ds::prefill::TimelineEvent::Kind::kRecompute) label = "layers " + label;
    if (ev.kind == ds::prefill::TimelineEvent::Kind::kTransferE) label = "E " + label;
    if (ev.kind == ds::prefill::TimelineEvent::Kind::kTransferKv) label = "KV " + label;
    tl_data.phases.push_back({lane, 1e3 * ev.start, 1e3 * ev.end, label});
  }
  char link_buf[96] = "in-process transport";
  if (cmd.bandwidth_gbps > 0) {
    std::snprintf(link_buf, sizeof link_buf, "simulated link %.3g GB/s, %.3g ms latency",
                  cmd.bandwidth_gbps, cmd.latency_ms);
  }
  const std::string link = link_buf;
  std::printf(
      "plan %s from %s: recompute %lld of %lld layers, reuse %lld; context %lld tokens, prompt "
      "%lld tokens; %s\n\n",
      plan.to_string().c_str(), cmd.plan.c_str(), static_cast<long long>(plan.num_recomputed()),
      static_cast<long long>(g.num_layers), static_cast<long long>(best.layers_reused),
      static_cast<long long>(n), static_cast<long long>(m), link.c_str());
  auto row = [](const std::string& what, double ms, const char* note = "") {
    std::printf("  %-36s %9.2f ms%s\n", what.c_str(), ms, note);
  };
  auto layers = [](std::int64_t k) { return std::to_string(k) + (k == 1 ? " layer" : " layers"); };
  row("sender prefill (with E capture)", 1e3 * sender_seconds);
  std::printf("  receiver, pipelined partial prefill (median of 3):\n");
  row("  E transfer (" + layers(plan.entry_layers().count()) + ")", lane_ms[0]);
  row("  KV transfer (" + layers(best.layers_reused) + ")", lane_ms[1]);
  row("  KV adoption", lane_ms[2], "  (transfer thread, overlaps the recompute)");
  row("  recompute (" + layers(plan.num_recomputed()) + ")", lane_ms[3]);
  row("  prompt through all layers", lane_ms[4]);
  row("  total: time to first token", 1e3 * best.total_seconds);
  row("receiver full prefill (median of 3)", 1e3 * *full_seconds);
  std::printf("  %-36s %9.3f\n\n", "partial / full", best.total_seconds / *full_seconds);
  std::size_t same = 0;
  while (same < with_plan->size() && (*with_plan)[same] == (*with_full)[same]) ++same;
  std::printf(
      "continuation, %lld tokens, greedy:\n  with the plan:     \"%s\"\n  full prefill:      "
      "\"%s\"\n  "
      "identical for the first %zu of %zu tokens\n",
      static_cast<long long>(cmd.tokens), show_tokens(*with_plan, vocab).c_str(),
      show_tokens(*with_full, vocab).c_str(), same, with_plan->size());

  tl_data.title = "Pipelined partial prefill, plan " + plan.to_string() + " (" + link + ")";
  tl_data.partial_total_ms = 1e3 * best.total_seconds;
  tl_data.full_prefill_ms = 1e3 * *full_seconds;
  tl_data.full_label = "full prefill: " + std::to_string(g.num_layers) + " layers x " +
                       std::to_string(n + m) + " tokens";
  const fs::path svg_path =
      cmd.timeline.empty()
          ? (cmd.plan.has_parent_path() ? cmd.plan.parent_path() : fs::path(".")) / "timeline.svg"
          : cmd.timeline;
  const std::string err = charts::timeline(tl_data).save(svg_path.string());
  if (!err.empty()) return Status::io_error(err);
  std::printf("wrote %s\n", svg_path.c_str());
  return Status::ok();
}

}  // namespace droidspeak_cli
