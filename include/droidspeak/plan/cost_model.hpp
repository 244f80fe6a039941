// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A cost model of partial prefill: predicted time of a plan from per-layer compute
//! time, link bandwidth and latency, E and KV sizes and the E-first pipelined schedule; and
//! the selection of the fastest plan within a quality threshold.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/reuse_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! What the prediction is made from. Times in seconds, sizes in bytes.
struct CostInputs {
  std::int64_t num_layers = 0;
  std::int64_t context_tokens = 0;
  double layer_seconds_per_token = 0.0;  //!< receiver compute: one layer over one context token
  double suffix_seconds = 0.0;           //!< the suffix through every layer (same for every plan)
  double bytes_per_second = 0.0;         //!< link bandwidth
  double latency_seconds = 0.0;          //!< per transfer (one chunk: E of a layer, KV of a layer)
  std::int64_t e_bytes_per_layer = 0;    //!< context_tokens * hidden * E dtype size
  std::int64_t kv_bytes_per_layer = 0;   //!< 2 * context_tokens * kv heads * head_dim * KV dtype size
  double adopt_seconds_per_byte = 0.0;   //!< receiver-side copy into its cache, per KV byte
  //! An interval's last layer run K/V-only (prefill::KvOnlyEngine) over its time as a full
  //! layer: the tail's cost in layers. 1 for an engine without the K/V-only member.
  double kv_only_layer_ratio = 1.0;

  Status validate() const {
    const bool ok = num_layers > 0 && context_tokens > 0 && layer_seconds_per_token >= 0.0 &&
                    suffix_seconds >= 0.0 && bytes_per_second > 0.0 && latency_seconds >= 0.0 &&
                    e_bytes_per_layer >= 0 && kv_bytes_per_layer >= 0 && adopt_seconds_per_byte >= 0.0 &&
                    kv_only_layer_ratio >= 0.0 && std::isfinite(kv_only_layer_ratio) &&
                    std::isfinite(layer_seconds_per_token) && std::isfinite(bytes_per_second);
    if (!ok) {
      return Status::invalid_argument(
          "cost model: need positive layers, tokens and bandwidth, and non-negative times, sizes and "
          "K/V-only ratio");
    }
    return Status::ok();
  }
};

//! The compute of `layers` consecutive recomputed layers whose output hidden state is dead
//! (an interval, or the context of a full prefill followed by a suffix), in full layers: the
//! last one runs K/V-only at `kv_only_layer_ratio` of a layer. 0 for no layers.
inline double dead_tail_layers(std::int64_t layers, double kv_only_layer_ratio) {
  return layers > 0 ? static_cast<double>(layers - 1) + kv_only_layer_ratio : 0.0;
}

//! When each part of a plan's prefill ends, from its start.
struct CostPrediction {
  double e_transfer_end = 0.0;   //!< last E chunk landed
  double kv_adopted_end = 0.0;   //!< last reused layer adopted
  double recompute_end = 0.0;    //!< last interval recomputed
  double total = 0.0;            //!< suffix done: the time to first token
};

//! How the executor orders work (mirrors prefill::Overlap without depending on it).
enum class CostSchedule : std::uint8_t { kSequential, kPipelined };

//! Predicts `plan` under `in`, following prefill::streamed_partial_prefill exactly: one
//! transfer at a time, E of every entry layer first (ascending), then each reused layer's KV
//! followed by its adoption; intervals run one after another, each starting when the
//! previous one ended and its E has landed (layer 0 needs none); the suffix starts when both
//! sides are done. kSequential does all transfers and adoptions before any compute. Each
//! interval [s, e] computes dead_tail_layers(e - s + 1) layers: its last one K/V-only.
inline Result<CostPrediction> predict_cost(const ReusePlan& plan, const CostInputs& in,
                                           CostSchedule schedule = CostSchedule::kPipelined) {
  DROIDSPEAK_TRY(in.validate());
  if (plan.num_layers() != in.num_layers) {
    return Status::invalid_argument("cost model: plan for " + std::to_string(plan.num_layers()) +
                                    " layers, inputs for " + std::to_string(in.num_layers));
  }
  CostPrediction p;
  const double e_chunk = in.latency_seconds + static_cast<double>(in.e_bytes_per_layer) / in.bytes_per_second;
  const double kv_chunk = in.latency_seconds + static_cast<double>(in.kv_bytes_per_layer) / in.bytes_per_second +
                          static_cast<double>(in.kv_bytes_per_layer) * in.adopt_seconds_per_byte;
  const layout::LayerSet entries = plan.entry_layers();
  p.e_transfer_end = static_cast<double>(entries.count()) * e_chunk;
  p.kv_adopted_end = p.e_transfer_end + static_cast<double>(plan.reused().count()) * kv_chunk;

  double t = schedule == CostSchedule::kSequential ? p.kv_adopted_end : 0.0;
  for (const LayerInterval& v : plan.intervals()) {
    if (v.first > 0 && schedule == CostSchedule::kPipelined) {
      const double landed = static_cast<double>(entries.rank(v.first) + 1) * e_chunk;
      t = std::max(t, landed);
    }
    t += dead_tail_layers(v.size(), in.kv_only_layer_ratio) * static_cast<double>(in.context_tokens) *
         in.layer_seconds_per_token;
  }
  p.recompute_end = t;
  p.total = std::max(p.recompute_end, p.kv_adopted_end) + in.suffix_seconds;
  return p;
}

//! The receiver's own full prefill under the same inputs (nothing transferred), as
//! prefill::full_prefill runs it before a suffix: the context's last layer K/V-only, so it
//! equals the full-recompute plan's prediction.
inline double predict_full_prefill(const CostInputs& in) {
  return dead_tail_layers(in.num_layers, in.kv_only_layer_ratio) * static_cast<double>(in.context_tokens) *
             in.layer_seconds_per_token +
         in.suffix_seconds;
}

//! Among `points` with quality_drop <= threshold and at most `max_intervals` intervals (full
//! recompute always qualifies), the plan with the smallest predicted time; ties go to the
//! lower drop. Unlike select_plan it adapts to the link: on a slow link reusing a layer can
//! cost more than recomputing it.
inline Result<ProfiledPlan> select_fastest_plan(std::span<const ProfiledPlan> points, const CostInputs& in,
                                                double threshold, std::int64_t max_intervals,
                                                CostSchedule schedule = CostSchedule::kPipelined) {
  DROIDSPEAK_TRY(in.validate());
  if (!(threshold >= 0.0) || max_intervals < 1) {
    return Status::invalid_argument("select_fastest_plan: need threshold >= 0 and max_intervals >= 1");
  }
  ProfiledPlan best{ReusePlan::full_recompute(in.num_layers), 0.0};
  Result<CostPrediction> best_cost = predict_cost(best.plan, in, schedule);
  if (!best_cost) return best_cost.status();
  double best_time = best_cost->total;
  for (const ProfiledPlan& p : points) {
    if (std::isnan(p.quality_drop) || p.quality_drop > threshold || p.plan.num_intervals() > max_intervals) continue;
    Result<CostPrediction> c = predict_cost(p.plan, in, schedule);
    if (!c) return c.status();
    if (c->total < best_time || (c->total == best_time && p.quality_drop < best.quality_drop)) {
      best = p;
      best_time = c->total;
    }
  }
  return best;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
