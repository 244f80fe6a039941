// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The profiler: the receiver's quality for every contiguous recompute interval (at a
//! granularity of g layers) plus full reuse and full recompute, over profiling samples,
//! reusing the work of intervals that share a start layer.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/profile/cost.hpp"
#include "droidspeak/profile/quality.hpp"
#include "droidspeak/profile/sample.hpp"

#include <cstdint>
#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::profile {

struct ProfileOptions {
  std::int64_t granularity = 1;  //!< intervals start and end on multiples of g (the last may be shorter)
  //! Called after each (sample, start layer) of the first pass with the context layer-token
  //! passes done so far and the total the run will do; may be empty.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  //! When kLoss or kKl: stop measuring a plan as soon as it provably cannot be on that
  //! measure's Pareto front nor be chosen by plan::select_plan (its partial sum over the
  //! samples seen already reaches a complete plan with as few recomputed layers; loss and KL
  //! sums only grow with more samples). Such plans stay in the grid with complete == false and
  //! drops() gives them NaN; the front and every selection equal those of the full grid.
  //! kAccuracy prunes nothing (accuracy is not monotone in the samples). Memory: per sample,
  //! a copy of the sender's KV and the suffix's hidden state [m][H] for each interval not
  //! ending at the last layer.
  std::optional<QualityMeasure> prune_for;
};

//! A plan and its quality summed over the samples.
struct PlanQuality {
  plan::ReusePlan plan;
  QualityMetrics quality;
  bool complete = true;  //!< false: pruned, `quality` sums only the samples measured
};

//! What profiling measured.
struct ProfileResult {
  std::int64_t num_layers = 0;
  std::int64_t granularity = 1;
  QualityMetrics full_prefill;      //!< the receiver's own full prefill (KL 0 by definition)
  std::vector<PlanQuality> grid;    //!< full reuse, then every interval by (start, end)
  //! Compute actually spent, in layer-token passes (one layer over one token): context
  //! recomputation (the start-0 intervals included, which are the receiver's own prefill),
  //! and suffix evaluation (cost.suffix: the start-0 trunk, the receiver's own suffix pass, is
  //! in cost.reference_prefill).
  std::int64_t context_layer_token_passes = 0;
  std::int64_t suffix_layer_token_passes = 0;
  //! What evaluating every grid interval from scratch would spend on the context.
  std::int64_t exhaustive_context_layer_token_passes = 0;
  std::int64_t context_tokens = 0;  //!< summed over samples: one full prefill = L * this
  //! Everything this profile cost, every pass counted, with wall time.
  ProfileCost cost;
  //! What evaluate_plans() over the same grid and samples would run (passes only, untimed):
  //! the exhaustive sweep this profile replaces.
  ProfileCost exhaustive_cost;

  //! The quality drop of each grid plan against full prefill, for plan::pareto_front; NaN for
  //! plans that were pruned (complete == false).
  std::vector<plan::ProfiledPlan> drops(QualityMeasure measure) const {
    std::vector<plan::ProfiledPlan> out;
    for (const PlanQuality& p : grid) {
      out.push_back({p.plan, p.complete ? quality_drop(p.quality, full_prefill, measure)
                                        : std::numeric_limits<double>::quiet_NaN()});
    }
    return out;
  }
  //! Context compute in full-prefill equivalents.
  double context_prefills() const {
    return context_tokens == 0 ? 0.0
                               : static_cast<double>(context_layer_token_passes) /
                                     static_cast<double>(num_layers * context_tokens);
  }
};

namespace detail {

// Logits of every suffix row, the context's positions [0, n) being valid: [m][vocab].
template <prefill::Engine E>
Status suffix_logits(E& r, std::span<const std::int32_t> suffix, std::int64_t n, std::vector<float>& out) {
  const layout::ModelGeometry g = r.geometry();
  const auto m = static_cast<std::int64_t>(suffix.size());
  DROIDSPEAK_TRY(r.reserve(n + m));  // keeps the cache; a no-op when already reserved
  DROIDSPEAK_TRY(r.set_num_tokens(n));
  std::vector<float> h(static_cast<std::size_t>(m * g.hidden_size));
  DROIDSPEAK_TRY(r.embed(suffix, h));
  DROIDSPEAK_TRY(r.run_layers(0, g.num_layers, n, m, h, nullptr));
  out.assign(static_cast<std::size_t>(m * r.vocab_size()), 0.0f);
  return r.logits(h, out);
}

// The sender's prefill of `context` with E captured entering every layer (any plan's entry)
// and its KV left in the sender's own cache (valid until the sender's next context).
template <prefill::Engine E>
Result<prefill::SenderCacheBuffers> capture_all(E& sender, std::span<const std::int32_t> context) {
  const std::int64_t L = sender.geometry().num_layers;
  return prefill::SenderCacheBuffers::prefill(
      sender, plan::ReusePlan::full_reuse(L), context,
      {.layers = prefill::SenderLayers::kAll, .kv = prefill::SenderKv::kEngineCache, .dtype = DType::kF32});
}

// The grid's interval ends for a start s: the last layer of each group from s on.
inline std::vector<std::int64_t> interval_ends(std::int64_t s, std::int64_t L, std::int64_t g) {
  std::vector<std::int64_t> ends;
  for (std::int64_t e = s + g - 1; e < L - 1; e += g) ends.push_back(e);
  ends.push_back(L - 1);
  return ends;
}

// The passes of evaluate_plans() over `plans` and these samples (its sender prefill, reference
// prefill, each plan's intervals over the context and all layers over the suffix).
inline ProfileCost exhaustive_passes(std::span<const plan::ReusePlan> plans, std::span<const Sample> samples,
                                     std::int64_t L) {
  ProfileCost c;
  std::int64_t recomputed = 0;
  for (const plan::ReusePlan& p : plans) recomputed += p.num_recomputed();
  const auto count = static_cast<std::int64_t>(plans.size());
  for (const Sample& smp : samples) {
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    c.sender_prefill.layer_token_passes += L * n;
    c.reference_prefill.layer_token_passes += L * (n + m);
    c.context_recompute.layer_token_passes += recomputed * n;
    c.suffix.layer_token_passes += count * L * m;
    c.full_prefill_passes += L * (n + m);
  }
  return c;
}

// What the second (pruning) pass needs of one sample.
struct KeptSample {
  std::vector<std::byte> sender_kv;       // the sender's KV, transfer layout, its dtype
  layout::TransferLayout kv_layout;
  DType kv_dtype = DType::kF32;
  std::vector<float> reference_logits;    // [m][V]
  std::vector<std::vector<float>> trunk;  // by grid index: the suffix's E[e + 1] [m][H], or empty
  double full_reuse_value = 0.0;          // full reuse's loss or KL sum on this sample
};

// The drop `partial` would have if no further sample added anything: a lower bound of its
// final drop (loss and KL sums only grow), with the final row counts of `full`.
inline double drop_lower_bound(QualityMetrics partial, const QualityMetrics& full, QualityMeasure measure) {
  partial.predictions = full.predictions;
  partial.kl_rows = full.kl_rows;
  return quality_drop(partial, full, measure);
}

}  // namespace detail

//! Profiles `receiver` reusing `sender`'s caches over `samples`: the quality of full reuse and
//! of every interval [s, e] on the granularity, with the receiver's full prefill as baseline.
//!
//! Work is shared wherever the passes are identical (each from-scratch evaluation with
//! prefill::partial_prefill would repeat it):
//! - context: for a start s the receiver adopts the sender's KV, enters layer s with E_S[s]
//!   (its own embeddings when s == 0) and runs on through s, s+1, ...: recomputing [s, e+g]
//!   extends [s, e]. The start-0 chain run to the last layer is the receiver's own full
//!   prefill, so the reference costs nothing extra;
//! - suffix: below a plan's first recomputed layer s the suffix sees only the sender's KV, so
//!   its hidden state there is that of full reuse (one pass through all layers, kept at every
//!   start); within [s, e] it is the same for every plan [s, e' >= e] (one trunk per start,
//!   extended with the context chain); only the tail e+1..L-1 over the sender's KV is per plan.
//! Per sample this is L n (sender) + sum_s (L - s) n (context, reference included) + L m (full
//! reuse) + sum_s (L - s) m (trunks) + sum over plans of (L - 1 - e) m (tails) layer-token
//! passes; ProfileResult::cost has the count and the time, exhaustive_cost the sweep's.
//! With options.prune_for the tails run in a second pass, plan by plan, and stop when a plan
//! provably cannot enter the front (see ProfileOptions::prune_for).
//! On a deterministic engine (prefill::is_deterministic) every complete score equals that of
//! prefill::partial_prefill run per plan, bit for bit. Sender and receiver must have the same
//! geometry and vocabulary.
template <prefill::Engine E>
Result<ProfileResult> profile_intervals(E& sender, E& receiver, std::span<const Sample> samples,
                                        const ProfileOptions& options = {}) {
  const layout::ModelGeometry g = receiver.geometry();
  const std::int64_t L = g.num_layers;
  const std::int64_t H = g.hidden_size;
  const std::int64_t gran = options.granularity;
  if (!(sender.geometry() == g) || sender.vocab_size() != receiver.vocab_size()) {
    return Status::invalid_argument("profile: sender and receiver differ in geometry or vocabulary");
  }
  if (gran < 1 || gran > L) {
    return Status::invalid_argument("profile: granularity " + std::to_string(gran) + " outside [1, " +
                                    std::to_string(L) + "]");
  }
  if (samples.empty()) return Status::invalid_argument("profile: no samples");
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].context.empty() || samples[i].suffix.size() < 2) {
      return Status::invalid_argument("profile: sample " + std::to_string(i) +
                                      " needs a non-empty context and a suffix of at least 2 tokens");
    }
  }
  const std::int64_t vocab = receiver.vocab_size();
  const bool prune = options.prune_for.has_value() && *options.prune_for != QualityMeasure::kAccuracy;

  ProfileResult res;
  res.num_layers = L;
  res.granularity = gran;
  res.grid.push_back({plan::ReusePlan::full_reuse(L), {}, true});
  std::vector<std::int64_t> starts;
  std::vector<std::vector<std::size_t>> index_of;  // [start index][end index] -> grid index
  for (std::int64_t s = 0; s < L; s += gran) {
    starts.push_back(s);
    index_of.emplace_back();
    for (std::int64_t e : detail::interval_ends(s, L, gran)) {
      index_of.back().push_back(res.grid.size());
      res.grid.push_back({*plan::ReusePlan::create(L, {{s, e}}), {}, true});
      res.exhaustive_context_layer_token_passes += e - s + 1;  // per context token, scaled below
    }
  }
  std::int64_t total_tokens = 0;
  for (const Sample& smp : samples) total_tokens += static_cast<std::int64_t>(smp.context.size());
  res.exhaustive_context_layer_token_passes *= total_tokens;
  {
    std::vector<plan::ReusePlan> plans;
    for (const PlanQuality& pq : res.grid) plans.push_back(pq.plan);
    res.exhaustive_cost = detail::exhaustive_passes(plans, samples, L);
  }
  std::int64_t planned = 0;
  for (std::int64_t s : starts) planned += L - s;
  planned *= total_tokens;

  ProfileCost& cost = res.cost;
  cost.timed = true;
  std::vector<detail::KeptSample> kept(prune ? samples.size() : 0);
  std::vector<float> ref_logits, logits, hctx, tail;
  std::vector<std::vector<float>> entries(starts.size());     // the suffix's E[s] under full reuse
  std::vector<std::vector<float>> start0_logits;              // scored once the reference is known
  std::int64_t done = 0;
  for (std::size_t si = 0; si < samples.size(); ++si) {
    const Sample& smp = samples[si];
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    res.context_tokens += n;
    cost.full_prefill_passes += L * (n + m);
    const std::span<const std::int32_t> suffix(smp.suffix);

    // The sender's prefill, capturing E at every layer.
    Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers{};
    DROIDSPEAK_TRY(detail::timed(cost.sender_prefill, L * n, [&] {
                     sent = detail::capture_all(sender, smp.context);
                     return sent.status();
                   }).with_context("profile: sender"));
    const layout::ConstEView e_view = sent->caches().e;
    const layout::ConstKvView sender_kv = sent->caches().kv;
    if (prune) {
      detail::KeptSample& k = kept[si];
      k.kv_layout = {L, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
      k.kv_dtype = sender_kv.dtype;
      k.sender_kv.resize(static_cast<std::size_t>(k.kv_layout.pool_elements() * dtype_size(k.kv_dtype)));
      const layout::KvView to(k.sender_kv.data(), k.kv_dtype, k.kv_layout);
      DROIDSPEAK_TRY(detail::timed(cost.suffix, 0, [&] {
        return layout::copy_kv({sender_kv, to, layout::LayerSet::all(L), {0, n}, 0});
      }));
      k.trunk.resize(res.grid.size());
    }

    // Adopt the sender's KV everywhere: full reuse. Its suffix pass gives the suffix's
    // hidden state entering every start.
    DROIDSPEAK_TRY(detail::timed(cost.context_recompute, 0, [&]() -> Status {
      DROIDSPEAK_TRY(receiver.reset());
      DROIDSPEAK_TRY(receiver.reserve(n + m));
      DROIDSPEAK_TRY(layout::copy_kv({sender_kv, receiver.kv_cache(), layout::LayerSet::all(L), {0, n}, 0}));
      return receiver.set_num_tokens(n);
    }));
    std::vector<float> full_reuse_logits(static_cast<std::size_t>(m * vocab));
    DROIDSPEAK_TRY(detail::timed(cost.suffix, L * m, [&]() -> Status {
      std::vector<float> hs(static_cast<std::size_t>(m * H));
      DROIDSPEAK_TRY(receiver.embed(suffix, hs));
      std::int64_t at = 0;
      for (std::size_t i = 0; i < starts.size(); ++i) {
        DROIDSPEAK_TRY(receiver.run_layers(at, starts[i], n, m, hs, nullptr));
        at = starts[i];
        entries[i] = hs;
      }
      DROIDSPEAK_TRY(receiver.run_layers(at, L, n, m, hs, nullptr));
      return receiver.logits(hs, full_reuse_logits);
    }));

    auto score_into = [&](std::size_t index, std::span<const float> lg) -> Status {
      Result<QualityMetrics> q = score_suffix(lg, suffix, vocab, ref_logits);
      if (!q) return q.status();
      res.grid[index].quality += *q;
      return Status::ok();
    };

    start0_logits.clear();
    for (std::size_t si_start = 0; si_start < starts.size(); ++si_start) {
      const std::int64_t s = starts[si_start];
      // Start 0 is the receiver's own prefill: its passes are the reference's.
      PassCount& ctx_cost = s == 0 ? cost.reference_prefill : cost.context_recompute;
      PassCount& trunk_cost = s == 0 ? cost.reference_prefill : cost.suffix;
      hctx.assign(static_cast<std::size_t>(n * H), 0.0f);
      DROIDSPEAK_TRY(detail::timed(ctx_cost, 0, [&]() -> Status {
        if (s == 0) return receiver.embed(smp.context, hctx);
        // Layers below s are read by nothing from here on; [s, L) must hold the sender's KV.
        DROIDSPEAK_TRY(layout::copy_kv({sender_kv, receiver.kv_cache(), layout::LayerSet::range(s, L), {0, n}, 0}));
        DROIDSPEAK_TRY(receiver.set_num_tokens(n));
        return prefill::detail::load_entry(e_view, s, n, hctx);
      }));
      std::vector<float> trunk = entries[si_start];
      std::int64_t ran_to = s;  // layers [s, ran_to) are recomputed
      const std::vector<std::int64_t> ends = detail::interval_ends(s, L, gran);
      for (std::size_t ei = 0; ei < ends.size(); ++ei) {
        const std::int64_t e = ends[ei];
        const std::size_t index = index_of[si_start][ei];
        DROIDSPEAK_TRY(detail::timed(ctx_cost, (e + 1 - ran_to) * n, [&] {
          return receiver.run_layers(ran_to, e + 1, 0, n, hctx, nullptr);
        }));
        res.context_layer_token_passes += (e + 1 - ran_to) * n;
        done += (e + 1 - ran_to) * n;
        DROIDSPEAK_TRY(detail::timed(trunk_cost, (e + 1 - ran_to) * m, [&] {
          return receiver.run_layers(ran_to, e + 1, n, m, trunk, nullptr);
        }));
        ran_to = e + 1;
        logits.assign(static_cast<std::size_t>(m * vocab), 0.0f);
        if (e == L - 1) {
          DROIDSPEAK_TRY(detail::timed(trunk_cost, 0, [&] { return receiver.logits(trunk, logits); }));
        } else if (prune) {
          kept[si].trunk[index] = trunk;  // its tail runs in the second pass
          continue;
        } else {
          // The tail: layers e+1.. over the sender's KV, which they still hold.
          tail = trunk;
          DROIDSPEAK_TRY(detail::timed(cost.suffix, (L - 1 - e) * m, [&]() -> Status {
            DROIDSPEAK_TRY(receiver.run_layers(e + 1, L, n, m, tail, nullptr));
            return receiver.logits(tail, logits);
          }));
        }
        if (s == 0) {
          start0_logits.push_back(logits);  // scored once the reference logits are known
          if (e == L - 1) {
            ref_logits = logits;  // [0, L-1] is the receiver's own full prefill
            Result<QualityMetrics> q = score_suffix(ref_logits, suffix, vocab, ref_logits);
            if (!q) return q.status();
            res.full_prefill += *q;
            const QualityMetrics before = res.grid[0].quality;
            DROIDSPEAK_TRY(score_into(0, full_reuse_logits));
            if (prune) {
              kept[si].full_reuse_value = *options.prune_for == QualityMeasure::kKl
                                              ? res.grid[0].quality.kl_sum - before.kl_sum
                                              : res.grid[0].quality.loss_sum - before.loss_sum;
            }
            std::size_t at = 0;
            for (std::size_t j = 0; j < ends.size(); ++j) {
              if (prune && ends[j] != L - 1) continue;
              DROIDSPEAK_TRY(score_into(index_of[0][j], start0_logits[at++]));
            }
          }
        } else {
          DROIDSPEAK_TRY(score_into(index, logits));
        }
      }
      if (options.progress) options.progress(done, planned);
    }
    if (prune) kept[si].reference_logits = ref_logits;
  }
  if (!prune) {
    res.suffix_layer_token_passes = cost.suffix.layer_token_passes;
    return res;
  }

  // Second pass: the tails, plan by plan, fewest recomputed layers first, each stopped as
  // soon as it cannot enter the front. Plans [s, L-1] and full reuse are complete already.
  const QualityMeasure measure = *options.prune_for;
  struct Done {
    std::int64_t layers;
    std::size_t index;
    double drop;
  };
  std::vector<Done> complete;
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < res.grid.size(); ++i) {
    const plan::ReusePlan& p = res.grid[i].plan;
    if (p.num_intervals() == 1 && p.intervals()[0].last != L - 1) {
      pending.push_back(i);
      res.grid[i].complete = false;
    } else {
      complete.push_back({p.num_recomputed(), i, quality_drop(res.grid[i].quality, res.full_prefill, measure)});
    }
  }
  // Whether plan `i`, with `partial` over the samples so far, can no longer be on the front or
  // be selected: a complete plan with fewer layers is at least as good, or one with as many is
  // better (or as good and earlier in the grid, which wins ties).
  auto hopeless = [&](std::size_t i) {
    const std::int64_t k = res.grid[i].plan.num_recomputed();
    const double d = detail::drop_lower_bound(res.grid[i].quality, res.full_prefill, measure);
    for (const Done& c : complete) {
      if ((c.layers < k && d >= c.drop) || (c.layers == k && (d > c.drop || (d == c.drop && c.index < i)))) {
        return true;
      }
    }
    return false;
  };
  // Each plan measures the samples hardest for full reuse first (its bad plans tend to be bad
  // there too, so they are stopped sooner), but sums them in sample order: a sum over some of
  // the samples in that order never exceeds the sum over all (rounding is monotone and every
  // term is >= 0), and the complete sum is bit for bit the exhaustive sweep's.
  std::vector<std::size_t> sample_order(samples.size());
  for (std::size_t j = 0; j < samples.size(); ++j) sample_order[j] = j;
  std::stable_sort(sample_order.begin(), sample_order.end(), [&](std::size_t a, std::size_t b) {
    return kept[a].full_reuse_value > kept[b].full_reuse_value;
  });
  std::vector<std::size_t> measured(res.grid.size(), 0);  // samples measured per plan
  std::vector<std::vector<std::optional<QualityMetrics>>> per_sample(res.grid.size());
  auto measure_next = [&](std::size_t i) -> Status {
    const std::size_t j = sample_order[measured[i]];
    const Sample& smp = samples[j];
    const detail::KeptSample& k = kept[j];
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    const std::int64_t e = res.grid[i].plan.intervals()[0].last;
    logits.assign(static_cast<std::size_t>(m * vocab), 0.0f);
    DROIDSPEAK_TRY(detail::timed(cost.suffix, (L - 1 - e) * m, [&]() -> Status {
      DROIDSPEAK_TRY(receiver.reserve(n + m));
      const layout::ConstKvView from(k.sender_kv.data(), k.kv_dtype, k.kv_layout);
      DROIDSPEAK_TRY(layout::copy_kv({from, receiver.kv_cache(), layout::LayerSet::range(e + 1, L), {0, n}, 0}));
      DROIDSPEAK_TRY(receiver.set_num_tokens(n));
      tail = k.trunk[i];
      DROIDSPEAK_TRY(receiver.run_layers(e + 1, L, n, m, tail, nullptr));
      return receiver.logits(tail, logits);
    }));
    Result<QualityMetrics> q = score_suffix(logits, smp.suffix, vocab, k.reference_logits);
    if (!q) return q.status();
    per_sample[i].resize(samples.size());
    per_sample[i][j] = *q;
    ++measured[i];
    QualityMetrics sum;
    for (const std::optional<QualityMetrics>& x : per_sample[i]) {
      if (x) sum += *x;
    }
    res.grid[i].quality = sum;
    return Status::ok();
  };
  std::stable_sort(pending.begin(), pending.end(), [&](std::size_t a, std::size_t b) {
    return res.grid[a].plan.num_recomputed() < res.grid[b].plan.num_recomputed();
  });
  for (std::size_t lo = 0; lo < pending.size();) {
    std::size_t hi = lo;
    const std::int64_t k = res.grid[pending[lo]].plan.num_recomputed();
    while (hi < pending.size() && res.grid[pending[hi]].plan.num_recomputed() == k) ++hi;
    // Every plan of k layers on the first sample, then the most promising first to the end,
    // so that a good complete plan prunes the others early. The order changes only the cost.
    std::vector<std::size_t> group(pending.begin() + static_cast<std::ptrdiff_t>(lo),
                                   pending.begin() + static_cast<std::ptrdiff_t>(hi));
    for (std::size_t i : group) {
      if (!hopeless(i)) DROIDSPEAK_TRY(measure_next(i));
    }
    std::stable_sort(group.begin(), group.end(), [&](std::size_t a, std::size_t b) {
      return detail::drop_lower_bound(res.grid[a].quality, res.full_prefill, measure) <
             detail::drop_lower_bound(res.grid[b].quality, res.full_prefill, measure);
    });
    for (std::size_t i : group) {
      while (measured[i] < samples.size() && !hopeless(i)) DROIDSPEAK_TRY(measure_next(i));
      if (measured[i] == samples.size()) {
        res.grid[i].complete = true;
        complete.push_back({k, i, quality_drop(res.grid[i].quality, res.full_prefill, measure)});
      }
    }
    lo = hi;
  }
  res.suffix_layer_token_passes = cost.suffix.layer_token_passes;
  return res;
}

//! Scores arbitrary plans (several intervals, say) from scratch with prefill::partial_prefill,
//! against the receiver's full prefill; `full_prefill` receives the baseline. This is the
//! exhaustive sweep: per sample the sender's prefill, the receiver's full prefill, then each
//! plan's partial prefill of the context and the suffix through every layer. `cost`, if given,
//! receives what that took, every pass counted and timed.
template <prefill::Engine E>
Result<std::vector<PlanQuality>> evaluate_plans(E& sender, E& receiver, std::span<const Sample> samples,
                                                std::span<const plan::ReusePlan> plans,
                                                QualityMetrics* full_prefill = nullptr, ProfileCost* cost = nullptr) {
  const layout::ModelGeometry g = receiver.geometry();
  const std::int64_t L = g.num_layers;
  if (!(sender.geometry() == g) || sender.vocab_size() != receiver.vocab_size()) {
    return Status::invalid_argument("evaluate_plans: sender and receiver differ in geometry or vocabulary");
  }
  std::vector<PlanQuality> out;
  for (const plan::ReusePlan& p : plans) out.push_back({p, {}, true});
  QualityMetrics base;
  ProfileCost spent;
  spent.timed = true;
  const std::int64_t vocab = receiver.vocab_size();
  std::vector<float> ref_logits, logits;
  for (const Sample& smp : samples) {
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    if (n == 0 || m < 2) {
      return Status::invalid_argument("evaluate_plans: every sample needs a context and a suffix of >= 2 tokens");
    }
    spent.full_prefill_passes += L * (n + m);
    Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers{};
    DROIDSPEAK_TRY(detail::timed(spent.sender_prefill, L * n, [&] {
      sent = detail::capture_all(sender, smp.context);
      return sent.status();
    }));
    DROIDSPEAK_TRY(detail::timed(spent.reference_prefill, L * (n + m), [&]() -> Status {
      DROIDSPEAK_TRY(prefill::full_prefill(receiver, smp.context, {}, {}));
      return detail::suffix_logits(receiver, smp.suffix, n, ref_logits);
    }));
    Result<QualityMetrics> q = score_suffix(ref_logits, smp.suffix, vocab, ref_logits);
    if (!q) return q.status();
    base += *q;
    for (PlanQuality& pq : out) {
      if (pq.plan.num_layers() != L) {
        return Status::invalid_argument("evaluate_plans: plan " + pq.plan.to_string() + " is for " +
                                        std::to_string(pq.plan.num_layers()) + " layers, not " + std::to_string(L));
      }
      DROIDSPEAK_TRY(detail::timed(spent.context_recompute, pq.plan.num_recomputed() * n, [&] {
        return prefill::partial_prefill(receiver, pq.plan, smp.context, sent->caches(), {}, {});
      }));
      DROIDSPEAK_TRY(detail::timed(spent.suffix, L * m,
                                   [&] { return detail::suffix_logits(receiver, smp.suffix, n, logits); }));
      q = score_suffix(logits, smp.suffix, vocab, ref_logits);
      if (!q) return q.status();
      pq.quality += *q;
    }
  }
  if (full_prefill != nullptr) *full_prefill = base;
  if (cost != nullptr) *cost = spent;
  return out;
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::profile
