// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Calibrating the cost model (plan/cost_model.hpp) on the receiver that will run the
//! plan, in the same run that uses the prediction: the receiver's full prefill, its suffix
//! alone, an in-process copy and the KV adoption are measured through the library's own
//! executors, a K/V-only layer against a full one in interleaved pairs, and all of it turned
//! into plan::CostInputs for a given link.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/schedule.hpp"  // chunk_sizes
#include "droidspeak/prefill/transport.hpp"
#include "droidspeak/profile/paired_timing.hpp"  // summarize

#include <algorithm>  // std::copy, std::max
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! What a calibration measured on the receiver, in seconds (medians over its runs).
struct CostCalibration {
  double full_prefill_seconds = 0.0;    //!< context + suffix through every layer
  double suffix_seconds = 0.0;          //!< the suffix alone, over a filled cache (part of the above)
  double copy_seconds_per_byte = 0.0;   //!< an in-process transfer (a memcpy), per byte
  double adopt_seconds_per_byte = 0.0;  //!< landed KV copied into the receiver's cache, per byte
  //! A K/V-only layer's time over a full layer's (measure_kv_only_ratio); 1 for an engine
  //! without the member. The full prefill above runs its last context layer that way.
  double kv_only_layer_ratio = 1.0;
};

//! The link a prediction is for. A bandwidth of 0 means in process: the measured copy rate.
struct LinkSpec {
  double bytes_per_second = 0.0;
  double latency_seconds = 0.0;
};

//! The cost model's inputs for a context of `context_tokens` on a model of geometry `g`,
//! the sender's E and KV in `e_dtype` / `kv_dtype`, over `link`. The per layer-token compute
//! is what the full prefill spent outside the suffix, spread over its n context tokens and
//! its plan::dead_tail_layers(L) layers (L - 1 full ones and the K/V-only last one, as
//! prefill::full_prefill runs them); chunk sizes are the schedule's own (prefill::chunk_sizes).
inline Result<plan::CostInputs> cost_inputs(const layout::ModelGeometry& g, std::int64_t context_tokens,
                                            const CostCalibration& c, const LinkSpec& link,
                                            DType e_dtype = DType::kF32, DType kv_dtype = DType::kF32) {
  const bool finite = std::isfinite(c.full_prefill_seconds) && std::isfinite(c.suffix_seconds) &&
                      std::isfinite(c.copy_seconds_per_byte) && std::isfinite(c.adopt_seconds_per_byte) &&
                      std::isfinite(link.bytes_per_second) && std::isfinite(link.latency_seconds) &&
                      std::isfinite(c.kv_only_layer_ratio);
  if (!finite || c.full_prefill_seconds < 0.0 || c.suffix_seconds < 0.0 || c.copy_seconds_per_byte < 0.0 ||
      c.adopt_seconds_per_byte < 0.0 || link.bytes_per_second < 0.0 || link.latency_seconds < 0.0 ||
      c.kv_only_layer_ratio < 0.0) {
    return Status::invalid_argument("cost calibration: times, rates, ratios and the link must be finite and >= 0");
  }
  if (g.num_layers < 1 || context_tokens < 1) {
    return Status::invalid_argument("cost calibration: need >= 1 layer and >= 1 context token");
  }
  plan::CostInputs in;
  in.num_layers = g.num_layers;
  in.context_tokens = context_tokens;
  const double context_seconds = std::max(0.0, c.full_prefill_seconds - c.suffix_seconds);
  const double layers = plan::dead_tail_layers(g.num_layers, c.kv_only_layer_ratio);
  in.layer_seconds_per_token = layers > 0.0 ? context_seconds / (layers * static_cast<double>(context_tokens)) : 0.0;
  in.kv_only_layer_ratio = c.kv_only_layer_ratio;
  in.suffix_seconds = c.suffix_seconds;
  // In process the "link" is a memcpy; one too fast to measure is taken as free (1 PB/s).
  in.bytes_per_second = link.bytes_per_second > 0.0      ? link.bytes_per_second
                        : c.copy_seconds_per_byte > 0.0 ? 1.0 / c.copy_seconds_per_byte
                                                         : 1e15;
  in.latency_seconds = link.latency_seconds;
  const prefill::ChunkSizes chunks = prefill::chunk_sizes(g, context_tokens, e_dtype, kv_dtype);
  in.e_bytes_per_layer = chunks.e_bytes;
  in.kv_bytes_per_layer = chunks.kv_bytes;
  in.adopt_seconds_per_byte = c.adopt_seconds_per_byte;
  DROIDSPEAK_TRY(in.validate());
  return in;
}

//! A K/V-only layer's time over the same layer's in full, on `receiver` over `context`:
//! layer 0 from the context's embeddings, run_layer_kv_only against run_layers(0, 1), timed
//! in interleaved pairs (time_paired with `options`), the median of the per-pair ratios.
//! Layer 0 stands for every layer (they have one shape). 1 without timing anything when `E`
//! has no K/V-only member. Resets the receiver and leaves layer 0's KV of the context.
//! @param context [n] tokens, n >= 1.
template <prefill::Engine E>
Result<double> measure_kv_only_ratio(E& receiver, std::span<const std::int32_t> context,
                                     const PairedTimingOptions& options = {.warmup_pairs = 1, .pairs = 5}) {
  if constexpr (!prefill::KvOnlyEngine<E>) {
    return 1.0;
  } else {
    if (context.empty()) return Status::invalid_argument("kv-only calibration: empty context");
    const auto n = static_cast<std::int64_t>(context.size());
    DROIDSPEAK_TRY(receiver.reset());
    DROIDSPEAK_TRY(receiver.reserve(n));
    std::vector<float> e0(static_cast<std::size_t>(n * receiver.geometry().hidden_size));
    DROIDSPEAK_TRY(receiver.embed(context, e0));
    std::vector<float> h(e0.size());
    // Both sides copy E[0] in first (run_layers overwrites it), so the copy cancels out.
    Result<PairedTiming> t = time_paired(
        [&] {
          std::copy(e0.begin(), e0.end(), h.begin());
          return receiver.run_layers(0, 1, 0, n, h, nullptr);
        },
        [&] {
          std::copy(e0.begin(), e0.end(), h.begin());
          return receiver.run_layer_kv_only(0, 0, n, std::span<const float>(h));
        },
        options);
    if (!t) return t.status().with_context("kv-only calibration");
    return t->ratio.median;
  }
}

//! Measures a CostCalibration on `receiver`, `runs` times each (medians): the full-recompute
//! partial prefill of context + suffix (the receiver's full prefill, suffix timed apart), and
//! the full-reuse partial prefill streamed through an in-process transport on one thread
//! (copy and adoption per byte, from its timeline); first the K/V-only ratio
//! (measure_kv_only_ratio, max(runs, 5) pairs).
//! @param sender  KV of every layer in the transfer layout with exactly n tokens (E unused),
//!                e.g. prefill::SenderCacheBuffers with SenderLayers::kAll.
//! @param suffix  [m] tokens, m >= 1.
//! Leaves the receiver holding the last run's cache; errors of the executors are returned.
template <prefill::Engine E>
Result<CostCalibration> measure_cost_calibration(E& receiver, std::span<const std::int32_t> context,
                                                 const prefill::SenderCaches& sender,
                                                 std::span<const std::int32_t> suffix, std::int64_t runs = 3) {
  if (runs < 1) return Status::invalid_argument("cost calibration: runs must be >= 1");
  if (suffix.empty()) return Status::invalid_argument("cost calibration: the suffix must not be empty");
  const std::int64_t L = receiver.geometry().num_layers;
  Result<double> kv_only = measure_kv_only_ratio(receiver, context, {.warmup_pairs = 1, .pairs = std::max<std::int64_t>(runs, 5)});
  if (!kv_only) return kv_only.status().with_context("cost calibration");
  std::vector<float> logits(static_cast<std::size_t>(receiver.vocab_size()));
  std::vector<double> full, suf, copy, adopt;
  for (std::int64_t i = 0; i < runs; ++i) {
    prefill::PrefillReport rep;
    DROIDSPEAK_TRY(prefill::partial_prefill(receiver, plan::ReusePlan::full_recompute(L), context, sender,
                                            suffix, logits, &rep)
                       .with_context("cost calibration"));
    full.push_back(rep.total_seconds);
    suf.push_back(rep.suffix_seconds);
    prefill::InProcessTransport memcpy_link;
    DROIDSPEAK_TRY(prefill::streamed_partial_prefill(receiver, plan::ReusePlan::full_reuse(L), context, sender,
                                                     memcpy_link, prefill::Overlap::kSequential, suffix, logits,
                                                     &rep)
                       .with_context("cost calibration"));
    double sent = 0.0, adopted = 0.0;
    for (const prefill::TimelineEvent& ev : rep.timeline) {
      if (ev.kind == prefill::TimelineEvent::Kind::kTransferKv) sent += ev.end - ev.start;
      if (ev.kind == prefill::TimelineEvent::Kind::kAdopt) adopted += ev.end - ev.start;
    }
    const auto bytes = static_cast<double>(rep.kv_bytes_adopted);
    copy.push_back(bytes > 0.0 ? sent / bytes : 0.0);
    adopt.push_back(bytes > 0.0 ? adopted / bytes : 0.0);
  }
  CostCalibration c;
  c.full_prefill_seconds = summarize(full)->median;
  c.suffix_seconds = summarize(suf)->median;
  c.copy_seconds_per_byte = summarize(copy)->median;
  c.adopt_seconds_per_byte = summarize(adopt)->median;
  c.kv_only_layer_ratio = *kv_only;
  return c;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
