// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The profiler: the receiver's quality for every contiguous recompute interval (at a
//! granularity of g layers) plus full reuse and full recompute, over profiling samples,
//! reusing the work of intervals that share a start layer. On task samples (with answers) it
//! also generates each plan's answers greedily over the mixed cache and scores F1 and exact.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/transfer_layout.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/decode.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/profile/cost.hpp"
#include "droidspeak/profile/detail/pruning.hpp"
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

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

struct ProfileOptions {
  std::int64_t granularity = 1;  //!< intervals start and end on multiples of g (the last may be shorter)
  //! Called as the work goes on with the (plan, sample) pairs settled so far (measured, or
  //! skipped because the plan was pruned) and their total, grid plans x samples; may be empty.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  //! When kLoss or kKl: stop measuring a plan as soon as it provably cannot be on that
  //! measure's Pareto front nor be chosen by plan::select_plan (its partial sum over the
  //! samples seen already reaches a complete plan with as few recomputed layers; loss and KL
  //! sums only grow with more samples). Such plans stay in the grid with complete == false and
  //! drops() gives them NaN; the front and every selection equal those of the full grid.
  //! kAccuracy, kF1 and kExact prune nothing (they are not monotone in the samples), and
  //! neither does any measure on task samples (with answers): generating a plan's answer
  //! needs its whole mixed cache, which only the sample-by-sample order keeps at hand. Pruning also stops
  //! context chains early: the chain of a start runs only as far as its longest plan still
  //! measured. Memory: every sample's state is kept to the end (the sender's E at every layer
  //! and KV, per start the context's hidden state [n][H], per interval the suffix's [m][H]);
  //! without pruning, one sample's at a time.
  std::optional<QualityMeasure> prune_for;
};

//! A plan and its quality summed over the samples.
struct PlanQuality {
  plan::ReusePlan plan;
  QualityMetrics quality;
  bool complete = true;  //!< false: pruned, `quality` sums only the samples measured
  //! Task samples: the answer generated on each sample, in sample order (stop token
  //! included when it was emitted); empty for a sample without an answer.
  std::vector<std::vector<std::int32_t>> answers{};
};

//! What profiling measured.
struct ProfileResult {
  std::int64_t num_layers = 0;
  std::int64_t granularity = 1;
  QualityMetrics full_prefill;      //!< the receiver's own full prefill (KL 0 by definition)
  //! Task samples: the receiver's own answers after its full prefill, in sample order.
  std::vector<std::vector<std::int32_t>> full_prefill_answers;
  std::vector<PlanQuality> grid;    //!< full reuse, then every interval by (start, end)
  //! Compute actually spent, in layer-token passes (one layer over one token): context
  //! recomputation (the start-0 intervals included, which are the receiver's own prefill),
  //! and suffix evaluation (cost.suffix: the start-0 trunk, the receiver's own suffix pass, is
  //! in cost.reference_prefill). Decoding task answers counts as suffix work (the full
  //! prefill's answer as reference prefill).
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

// Greedily generates the answer of task sample `smp` on `r`, whose cache holds the (mixed)
// context and the suffix at positions [0, n + m) of every layer, from the suffix's logits
// `logits` [m][vocab] (the last row predicts the answer's first token). Adds the decoding's
// layer-token passes and time to `c`. The one decoding loop: prefill::decode.
template <prefill::Engine E>
Result<std::vector<std::int32_t>> answer_greedily(E& r, const Sample& smp, std::span<const float> logits,
                                                  PassCount& c) {
  const auto n = static_cast<std::int64_t>(smp.context.size());
  const auto m = static_cast<std::int64_t>(smp.suffix.size());
  const std::int64_t vocab = r.vocab_size();
  Result<std::vector<std::int32_t>> out = std::vector<std::int32_t>{};
  DROIDSPEAK_TRY(timed(c, 0, [&]() -> Status {
    DROIDSPEAK_TRY(r.set_num_tokens(n + m));
    out = prefill::decode_greedy(r, logits.subspan(static_cast<std::size_t>((m - 1) * vocab), static_cast<std::size_t>(vocab)),
                                 smp.max_answer_tokens, smp.stop_token);
    return out.status();
  }));
  if (!out->empty()) c.layer_token_passes += r.geometry().num_layers * static_cast<std::int64_t>(out->size() - 1);
  return out;
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

// What measuring plans on one sample needs, kept between plans: the sender's caches (E at
// every layer, its KV in the transfer layout), the reference logits, and for each start s
// the context chain's state (hidden state of the context and of the suffix entering layer
// ran_to, layers [s, ran_to) recomputed), extended only as far as a plan asks.
struct KeptSample {
  prefill::SenderCacheBuffers sent;
  std::vector<float> reference_logits;      // [m][V]
  std::vector<std::int64_t> ran_to;         // by start index
  std::vector<std::vector<float>> context;  // by start index: [n][H] entering ran_to
  std::vector<std::vector<float>> suffix;   // by start index: [m][H] entering ran_to
  std::vector<std::vector<float>> trunk;    // by grid index: the suffix entering e + 1, or empty
  double full_reuse_value = 0.0;            // full reuse's loss or KL sum on this sample
  // Task samples: the suffix's KV at every layer under full reuse ([L][K,V][m][kv_heads]
  // [head_dim], f32), which is every plan's below its first recomputed layer.
  std::vector<float> reused_suffix_kv;
  layout::TransferLayout reused_suffix_layout{};
};

}  // namespace detail

//! Profiles `receiver` reusing `sender`'s caches over `samples`: the quality of full reuse and
//! of every interval [s, e] on the granularity, with the receiver's full prefill as baseline.
//!
//! Work is shared wherever the passes are identical (each from-scratch evaluation with
//! prefill::partial_prefill would repeat it):
//! - context: for a start s the receiver enters layer s with E_S[s] (its own embeddings when
//!   s == 0) and runs on through s, s+1, ... over the context: recomputing [s, e+g] extends
//!   [s, e] (one chain per start and sample, its state kept). The start-0 chain run to the
//!   last layer is the receiver's own prefill, so the reference costs nothing extra;
//! - suffix: below a plan's first recomputed layer s the suffix sees only the sender's KV, so
//!   its hidden state there is that of full reuse (one pass through all layers, kept at every
//!   start); within [s, e] it is the same for every plan [s, e' >= e] (one trunk per start,
//!   extended with the context chain); only the tail e+1..L-1 over the sender's KV is per plan.
//! Without pruning this is, per sample, L n (sender) + sum_s (L - s) n (context, reference
//! included) + L m (full reuse) + sum_s (L - s) m (trunks) + sum over plans of (L - 1 - e) m
//! (tails) layer-token passes. With options.prune_for, plans are measured group by group of
//! as many recomputed layers (fewest first), within a group the most promising plan first
//! and each plan on the samples where a neighbouring interval did worst first, each stopped
//! when it provably cannot enter the front (detail/pruning.hpp); each start's chain is
//! extended on a sample only when a plan still measured needs it. Pruning cannot save the
//! chains and trunks of the front's plans, nor a plan's tails before its partial sum reaches
//! the bound, which on close plans takes most samples. ProfileResult::cost has the count
//! and the time, exhaustive_cost the sweep's.
//! Task samples (Sample::has_answer()) add, per plan and sample, a greedy answer decoded on
//! the plan's own mixed cache after the suffix (prefill::decode_greedy: max_answer_tokens,
//! stop_token), scored by score_answer into f1_sum / exact_sum / answers; PlanQuality::answers
//! and ProfileResult::full_prefill_answers keep the tokens. The sharing above is unchanged;
//! what is added is the decoding (L layer-token passes per generated token but the last,
//! counted as suffix work) and copies, no compute: before answering, the layers below the
//! plan's start get the sender's context KV and the suffix KV kept from full reuse. Task
//! samples are never pruned (see ProfileOptions::prune_for).
//! On a deterministic engine (prefill::is_deterministic) every complete score equals that of
//! prefill::partial_prefill run per plan, bit for bit, and so does every answer (that of
//! evaluate_plans). Sender and receiver must have the same geometry and vocabulary.
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
  bool has_answers = false;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].context.empty() || samples[i].suffix.size() < 2) {
      return Status::invalid_argument("profile: sample " + std::to_string(i) +
                                      " needs a non-empty context and a suffix of at least 2 tokens");
    }
    if (samples[i].has_answer() && samples[i].max_answer_tokens < 1) {
      return Status::invalid_argument("profile: sample " + std::to_string(i) + " has an answer but no tokens to generate it");
    }
    has_answers = has_answers || samples[i].has_answer();
  }
  const std::int64_t vocab = receiver.vocab_size();
  const bool prune = options.prune_for.has_value() && !has_answers &&
                     (*options.prune_for == QualityMeasure::kLoss || *options.prune_for == QualityMeasure::kKl);

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
  if (has_answers) {
    res.full_prefill_answers.resize(samples.size());
    for (PlanQuality& pq : res.grid) pq.answers.resize(samples.size());
  }
  std::vector<std::size_t> start_of(res.grid.size(), 0);  // grid index -> start index
  for (std::size_t si = 0; si < starts.size(); ++si) {
    for (std::size_t i : index_of[si]) start_of[i] = si;
  }

  ProfileCost& cost = res.cost;
  cost.timed = true;
  const auto count = static_cast<std::int64_t>(samples.size());
  const std::int64_t planned = static_cast<std::int64_t>(res.grid.size()) * count;
  std::int64_t settled = 0;  // (plan, sample) pairs measured or pruned
  auto report = [&] {
    if (options.progress) options.progress(settled, planned);
  };
  std::vector<detail::KeptSample> kept(samples.size());
  std::vector<float> logits, tail;

  // Per sample: the sender's prefill, full reuse (whose suffix pass gives the suffix entering
  // every start) and the receiver's own prefill, which is the start-0 chain run to the end.
  auto first_pass = [&](std::size_t j) -> Status {
    const Sample& smp = samples[j];
    detail::KeptSample& k = kept[j];
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    const std::int64_t a = smp.has_answer() ? smp.max_answer_tokens : 0;
    const std::span<const std::int32_t> suffix(smp.suffix);
    cost.full_prefill_passes += L * (n + m);
    res.context_tokens += n;
    DROIDSPEAK_TRY(detail::timed(cost.sender_prefill, L * n, [&]() -> Status {
                     Result<prefill::SenderCacheBuffers> sent = prefill::SenderCacheBuffers::prefill(
                         sender, plan::ReusePlan::full_reuse(L), smp.context,
                         {.layers = prefill::SenderLayers::kAll, .kv = prefill::SenderKv::kTransferCopy,
                          .dtype = DType::kF32});
                     if (!sent) return sent.status();
                     k.sent = std::move(sent).value();
                     return Status::ok();
                   }).with_context("profile: sender"));
    const layout::ConstKvView sender_kv = k.sent.caches().kv;
    k.ran_to.assign(starts.size(), 0);
    k.context.assign(starts.size(), {});
    k.suffix.assign(starts.size(), {});
    k.trunk.assign(res.grid.size(), {});

    // Full reuse: the sender's KV everywhere.
    DROIDSPEAK_TRY(detail::timed(cost.context_recompute, 0, [&]() -> Status {
      DROIDSPEAK_TRY(receiver.reset());
      DROIDSPEAK_TRY(receiver.reserve(n + m + a));
      DROIDSPEAK_TRY(layout::copy_kv({sender_kv, receiver.kv_cache(), layout::LayerSet::all(L), {0, n}, 0}));
      return receiver.set_num_tokens(n);
    }));
    std::vector<float> full_reuse_logits(static_cast<std::size_t>(m * vocab));
    DROIDSPEAK_TRY(detail::timed(cost.suffix, L * m, [&]() -> Status {
      std::vector<float> hs(static_cast<std::size_t>(m * H));
      DROIDSPEAK_TRY(receiver.embed(suffix, hs));
      std::int64_t at = 0;
      for (std::size_t si = 0; si < starts.size(); ++si) {
        DROIDSPEAK_TRY(receiver.run_layers(at, starts[si], n, m, hs, nullptr));
        at = starts[si];
        k.ran_to[si] = at;
        k.suffix[si] = hs;
      }
      DROIDSPEAK_TRY(receiver.run_layers(at, L, n, m, hs, nullptr));
      return receiver.logits(hs, full_reuse_logits);
    }));
    if (smp.has_answer()) {
      // The cache holds full reuse whole: keep the suffix's KV (every plan's below its first
      // recomputed layer), then answer.
      k.reused_suffix_layout = {L, m, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
      k.reused_suffix_kv.assign(static_cast<std::size_t>(k.reused_suffix_layout.pool_elements()), 0.0f);
      const layout::KvView kept_kv(reinterpret_cast<std::byte*>(k.reused_suffix_kv.data()), DType::kF32,
                                   k.reused_suffix_layout);
      DROIDSPEAK_TRY(layout::copy_kv({receiver.kv_cache(), kept_kv, layout::LayerSet::all(L), {n, n + m}, 0}));
      Result<std::vector<std::int32_t>> answer = detail::answer_greedily(receiver, smp, full_reuse_logits, cost.suffix);
      if (!answer) return answer.status();
      res.grid[0].quality += score_answer(smp, *answer);
      res.grid[0].answers[j] = std::move(answer).value();
    }

    // The receiver's own prefill: the start-0 chain, its suffix kept at every grid end.
    std::vector<float>& hctx = k.context[0];
    std::vector<float>& trunk = k.suffix[0];
    hctx.assign(static_cast<std::size_t>(n * H), 0.0f);
    DROIDSPEAK_TRY(detail::timed(cost.reference_prefill, 0, [&] { return receiver.embed(smp.context, hctx); }));
    const std::vector<std::int64_t> ends = detail::interval_ends(0, L, gran);
    for (std::size_t ei = 0; ei < ends.size(); ++ei) {
      const std::int64_t from = k.ran_to[0];
      const std::int64_t e = ends[ei];
      DROIDSPEAK_TRY(detail::timed(cost.reference_prefill, (e + 1 - from) * (n + m), [&]() -> Status {
        DROIDSPEAK_TRY(receiver.run_layers(from, e + 1, 0, n, hctx, nullptr));
        return receiver.run_layers(from, e + 1, n, m, trunk, nullptr);
      }));
      res.context_layer_token_passes += (e + 1 - from) * n;
      k.ran_to[0] = e + 1;
      k.trunk[index_of[0][ei]] = trunk;
    }
    k.reference_logits.assign(static_cast<std::size_t>(m * vocab), 0.0f);
    DROIDSPEAK_TRY(detail::timed(cost.reference_prefill, 0, [&] { return receiver.logits(trunk, k.reference_logits); }));
    QualityMetrics own_answer;
    if (smp.has_answer()) {  // the cache is the receiver's own prefill, every layer
      Result<std::vector<std::int32_t>> answer =
          detail::answer_greedily(receiver, smp, k.reference_logits, cost.reference_prefill);
      if (!answer) return answer.status();
      own_answer = score_answer(smp, *answer);
      res.full_prefill_answers[j] = std::move(answer).value();
    }
    k.context[0].clear();  // the chain is complete
    k.suffix[0].clear();
    Result<QualityMetrics> q = score_suffix(k.reference_logits, suffix, vocab, k.reference_logits);
    if (!q) return q.status();
    res.full_prefill += *q;
    res.full_prefill += own_answer;
    q = score_suffix(full_reuse_logits, suffix, vocab, k.reference_logits);
    if (!q) return q.status();
    res.grid[0].quality += *q;
    if (prune) k.full_reuse_value = *options.prune_for == QualityMeasure::kKl ? q->kl_sum : q->loss_sum;
    settled += 1;
    return Status::ok();
  };

  // Measures interval plan `i` on sample `j`: extends the chain of its start through its
  // last layer if it has not got there yet (keeping the suffix at every grid end it passes,
  // for the plans that end there), then runs the suffix's tail over the sender's KV.
  // On a task sample it then answers over the plan's mixed cache, which is whole at that
  // moment provided plans are measured in the unpruned order (see the loop below): layers
  // above e hold the sender's context KV and the tail's suffix KV just written, layers [s, e]
  // the chain's context and suffix KV (a plan's tail writes only above its own end, and the
  // chain of start s rewrites those layers when it extends), and layers below s are restored
  // (copied, no compute) from the sender's KV and the suffix's KV kept from full reuse.
  std::vector<std::vector<std::optional<QualityMetrics>>> per_sample(res.grid.size());
  auto measure_on = [&](std::size_t i, std::size_t j) -> Status {
    const Sample& smp = samples[j];
    detail::KeptSample& k = kept[j];
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    const std::size_t si = start_of[i];
    const std::int64_t s = starts[si];
    const std::int64_t e = res.grid[i].plan.intervals()[0].last;
    const prefill::SenderCaches sent = k.sent.caches();
    DROIDSPEAK_TRY(receiver.reserve(n + m + (smp.has_answer() ? smp.max_answer_tokens : 0)));
    DROIDSPEAK_TRY(receiver.set_num_tokens(n));
    if (k.ran_to[si] <= e) {
      std::vector<float>& hctx = k.context[si];
      std::vector<float>& trunk = k.suffix[si];
      if (k.ran_to[si] == s) {
        hctx.assign(static_cast<std::size_t>(n * H), 0.0f);
        DROIDSPEAK_TRY(detail::timed(cost.context_recompute, 0,
                                     [&] { return prefill::detail::load_entry(sent.e, s, n, hctx); }));
      }
      const std::vector<std::int64_t> ends = detail::interval_ends(s, L, gran);
      for (std::size_t ei = 0; ei < ends.size() && k.ran_to[si] <= e; ++ei) {
        const std::int64_t from = k.ran_to[si];
        const std::int64_t to = ends[ei] + 1;
        if (to <= from) continue;
        DROIDSPEAK_TRY(detail::timed(cost.context_recompute, (to - from) * n,
                                     [&] { return receiver.run_layers(from, to, 0, n, hctx, nullptr); }));
        DROIDSPEAK_TRY(detail::timed(cost.suffix, (to - from) * m,
                                     [&] { return receiver.run_layers(from, to, n, m, trunk, nullptr); }));
        res.context_layer_token_passes += (to - from) * n;
        k.ran_to[si] = to;
        k.trunk[index_of[si][ei]] = trunk;
      }
      if (k.ran_to[si] == L) {
        hctx.clear();
        trunk.clear();
      }
    }
    logits.assign(static_cast<std::size_t>(m * vocab), 0.0f);
    DROIDSPEAK_TRY(detail::timed(cost.suffix, (L - 1 - e) * m, [&]() -> Status {
      if (e == L - 1) return receiver.logits(k.trunk[i], logits);
      // The tail: layers e+1.. over the sender's KV (another chain may have overwritten them).
      DROIDSPEAK_TRY(layout::copy_kv({sent.kv, receiver.kv_cache(), layout::LayerSet::range(e + 1, L), {0, n}, 0}));
      tail = k.trunk[i];
      DROIDSPEAK_TRY(receiver.run_layers(e + 1, L, n, m, tail, nullptr));
      return receiver.logits(tail, logits);
    }));
    k.trunk[i] = {};  // each plan measures each sample once
    Result<QualityMetrics> q = score_suffix(logits, smp.suffix, vocab, k.reference_logits);
    if (!q) return q.status();
    if (smp.has_answer()) {
      if (s > 0) {
        const layout::ConstKvView kept_kv(reinterpret_cast<const std::byte*>(k.reused_suffix_kv.data()), DType::kF32,
                                          k.reused_suffix_layout);
        DROIDSPEAK_TRY(layout::copy_kv({sent.kv, receiver.kv_cache(), layout::LayerSet::range(0, s), {0, n}, 0}));
        DROIDSPEAK_TRY(layout::copy_kv({kept_kv, receiver.kv_cache(), layout::LayerSet::range(0, s), {0, m}, n}));
      }
      Result<std::vector<std::int32_t>> answer = detail::answer_greedily(receiver, smp, logits, cost.suffix);
      if (!answer) return answer.status();
      *q += score_answer(smp, *answer);
      res.grid[i].answers[j] = std::move(answer).value();
    }
    per_sample[i].resize(samples.size());
    per_sample[i][j] = *q;
    // Summed in sample order whatever order the samples were measured in: the complete sum
    // is bit for bit the exhaustive sweep's, and a partial one never exceeds it (rounding is
    // monotone and every term is >= 0).
    QualityMetrics sum;
    for (const std::optional<QualityMetrics>& x : per_sample[i]) {
      if (x) sum += *x;
    }
    res.grid[i].quality = sum;
    ++settled;
    return Status::ok();
  };

  if (!prune) {
    // Sample by sample, every plan: only one sample's state is held at a time. The start-0
    // plans go longest first, so that the receiver's own KV, which the reference prefill left
    // in every layer, is still in [0, e] when [0, e] answers; the other starts go shortest
    // first, each extending its chain (the order measure_on's answers rely on). The scores do
    // not depend on the order.
    std::vector<std::size_t> order(index_of[0].rbegin(), index_of[0].rend());
    for (std::size_t si = 1; si < starts.size(); ++si) order.insert(order.end(), index_of[si].begin(), index_of[si].end());
    for (std::size_t j = 0; j < samples.size(); ++j) {
      DROIDSPEAK_TRY(first_pass(j));
      for (std::size_t i : order) DROIDSPEAK_TRY(measure_on(i, j));
      kept[j] = {};
      report();
    }
    res.suffix_layer_token_passes = cost.suffix.layer_token_passes;
    // The sweep decodes the same answers: each plan's (suffix work) and the reference's.
    for (std::size_t j = 0; j < res.full_prefill_answers.size(); ++j) {
      auto decoded = [&](const std::vector<std::int32_t>& answer) {
        return answer.empty() ? std::int64_t{0} : L * static_cast<std::int64_t>(answer.size() - 1);
      };
      res.exhaustive_cost.reference_prefill.layer_token_passes += decoded(res.full_prefill_answers[j]);
      for (const PlanQuality& pq : res.grid) res.exhaustive_cost.suffix.layer_token_passes += decoded(pq.answers[j]);
    }
    return res;
  }
  for (std::size_t j = 0; j < samples.size(); ++j) {
    DROIDSPEAK_TRY(first_pass(j));
    report();
  }

  // Then group by group of plans with as many recomputed layers, fewest first: when a group
  // starts, every plan with fewer layers is complete or pruned, so the bound they set is
  // final. A chain runs only as far as the longest plan of its start still measured.
  const QualityMeasure measure = *options.prune_for;
  std::vector<detail::CompletePlan> complete{{0, 0, quality_drop(res.grid[0].quality, res.full_prefill, measure)}};
  auto hopeless = [&](std::size_t i) {
    return detail::dominated(res.grid[i].plan.num_recomputed(), i,
                             detail::drop_lower_bound(res.grid[i].quality, res.full_prefill, measure), complete);
  };
  // Full reuse's value on each sample (it is measured on all), the control of the estimates.
  std::vector<double> reuse_value(samples.size());
  double reuse_total = 0.0;
  for (std::size_t j = 0; j < samples.size(); ++j) {
    reuse_value[j] = kept[j].full_reuse_value;
    reuse_total += reuse_value[j];
  }
  // The samples hardest for full reuse first: the order of a plan without a neighbour.
  std::vector<std::size_t> by_reuse(samples.size());
  for (std::size_t j = 0; j < samples.size(); ++j) by_reuse[j] = j;
  std::stable_sort(by_reuse.begin(), by_reuse.end(),
                   [&](std::size_t a, std::size_t b) { return reuse_value[a] > reuse_value[b]; });
  // Plan i's neighbours with fewer layers, [s, previous end] and [next start, e]; the one
  // measured on more samples orders i's samples (detail::sample_order_like).
  auto sample_order = [&](std::size_t i) {
    const std::size_t si = start_of[i];
    const std::int64_t e = res.grid[i].plan.intervals()[0].last;
    std::vector<std::size_t> neighbours;
    const auto at = std::find(index_of[si].begin(), index_of[si].end(), i);
    if (at != index_of[si].begin()) neighbours.push_back(*(at - 1));
    if (si + 1 < starts.size()) {
      for (std::size_t q : index_of[si + 1]) {
        if (res.grid[q].plan.intervals()[0].last == e) neighbours.push_back(q);
      }
    }
    std::optional<std::size_t> best;
    std::size_t best_count = 0;
    for (std::size_t q : neighbours) {
      const auto c = static_cast<std::size_t>(std::count_if(per_sample[q].begin(), per_sample[q].end(),
                                                            [](const auto& x) { return x.has_value(); }));
      if (c > best_count) {
        best = q;
        best_count = c;
      }
    }
    std::vector<std::optional<double>> values;
    if (best) {
      for (const std::optional<QualityMetrics>& x : per_sample[*best]) {
        values.push_back(x ? std::optional(detail::pruned_value(*x, measure)) : std::nullopt);
      }
    }
    return detail::sample_order_like(values, by_reuse);
  };
  std::vector<std::vector<std::size_t>> order(res.grid.size());  // per plan, its sample order
  std::vector<std::size_t> measured(res.grid.size(), 0);          // samples measured per plan
  std::vector<double> partial(res.grid.size(), 0.0);              // their value, summed
  std::vector<double> reuse_partial(res.grid.size(), 0.0);        // full reuse's on them
  auto measure_next = [&](std::size_t i) -> Status {
    const std::size_t j = order[i][measured[i]++];
    DROIDSPEAK_TRY(measure_on(i, j));
    partial[i] += detail::pruned_value(*per_sample[i][j], measure);
    reuse_partial[i] += reuse_value[j];
    return Status::ok();
  };
  auto settle = [&](std::size_t i) {
    settled += count - static_cast<std::int64_t>(measured[i]);
    for (detail::KeptSample& k : kept) k.trunk[i] = {};
  };
  std::vector<std::size_t> pending;
  for (std::size_t i = 1; i < res.grid.size(); ++i) {
    pending.push_back(i);
    res.grid[i].complete = false;
  }
  std::stable_sort(pending.begin(), pending.end(), [&](std::size_t a, std::size_t b) {
    return res.grid[a].plan.num_recomputed() < res.grid[b].plan.num_recomputed();
  });
  for (std::size_t lo = 0; lo < pending.size();) {
    std::size_t hi = lo;
    const std::int64_t k = res.grid[pending[lo]].plan.num_recomputed();
    while (hi < pending.size() && res.grid[pending[hi]].plan.num_recomputed() == k) ++hi;
    // Every plan of k layers on its first sample (the estimate needs one), then best first:
    // the plan whose estimated total is lowest goes on to its next sample. So the group's
    // best plan tends to complete first, and the others, a plan of as many layers with a
    // lower drop being there to bound them, are pruned sooner. The order changes only the
    // cost: every prune is hopeless() on exact partial sums.
    const std::vector<std::size_t> group(pending.begin() + static_cast<std::ptrdiff_t>(lo),
                                         pending.begin() + static_cast<std::ptrdiff_t>(hi));
    std::vector<std::size_t> open = group;  // neither complete nor pruned yet
    // Measures plan i on its next sample; after its last, i is complete and bounds the rest.
    auto advance = [&](std::size_t i) -> Status {
      DROIDSPEAK_TRY(measure_next(i));
      if (measured[i] == samples.size()) {
        res.grid[i].complete = true;
        complete.push_back({k, i, quality_drop(res.grid[i].quality, res.full_prefill, measure)});
        std::erase(open, i);
        report();
      }
      return Status::ok();
    };
    auto estimate = [&](std::size_t i) {
      return detail::estimated_total(partial[i], reuse_partial[i], reuse_total, measured[i], samples.size());
    };
    for (std::size_t i : group) {
      order[i] = sample_order(i);
      if (!hopeless(i)) DROIDSPEAK_TRY(advance(i));
    }
    for (;;) {
      const std::size_t pruned = std::erase_if(open, [&](std::size_t i) {
        if (!hopeless(i)) return false;
        settle(i);
        return true;
      });
      if (pruned > 0) report();
      if (open.empty()) break;
      const std::size_t i = *std::min_element(open.begin(), open.end(), [&](std::size_t a, std::size_t b) {
        return estimate(a) < estimate(b) || (estimate(a) == estimate(b) && a < b);
      });
      DROIDSPEAK_TRY(advance(i));
    }
    lo = hi;
  }
  res.suffix_layer_token_passes = cost.suffix.layer_token_passes;
  return res;
}

//! Scores arbitrary plans (several intervals, say) from scratch with prefill::partial_prefill,
//! against the receiver's full prefill; `full_prefill` receives the baseline. This is the
//! exhaustive sweep: per sample the sender's prefill, the receiver's full prefill, then each
//! plan's partial prefill of the context and the suffix through every layer, and on task
//! samples (with answers) each plan's and the full prefill's greedy answer over that cache
//! (PlanQuality::answers, F1 and exact in the metrics). `cost`, if given, receives what that
//! took, every pass counted and timed.
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
    if (smp.has_answer()) {
      Result<std::vector<std::int32_t>> answer = detail::answer_greedily(receiver, smp, ref_logits, spent.reference_prefill);
      if (!answer) return answer.status();
      base += score_answer(smp, *answer);
    }
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
      pq.answers.emplace_back();
      if (smp.has_answer()) {
        Result<std::vector<std::int32_t>> answer = detail::answer_greedily(receiver, smp, logits, spent.suffix);
        if (!answer) return answer.status();
        pq.quality += score_answer(smp, *answer);
        pq.answers.back() = std::move(answer).value();
      }
    }
  }
  if (full_prefill != nullptr) *full_prefill = base;
  if (cost != nullptr) *cost = spent;
  return out;
}

//! What `model` achieves on its own over `samples`: its full prefill of context + suffix with
//! its own weights, scored like a plan against `receiver`'s full prefill (loss and accuracy on
//! the suffix, KL from the receiver's distributions, and on task samples its own greedy
//! answers' F1 and exact). The baseline of reuse: the sender alone, or a smaller model of the
//! same vocabulary (its geometry may differ). If it is as good as the receiver, reusing its
//! cache in the receiver buys nothing. `answers`, if given, receives its answers in sample
//! order (empty for samples without one). Both engines must have the same vocabulary size.
template <prefill::Engine M, prefill::Engine R>
Result<QualityMetrics> evaluate_alone(M& model, R& receiver, std::span<const Sample> samples,
                                      std::vector<std::vector<std::int32_t>>* answers = nullptr) {
  if (model.vocab_size() != receiver.vocab_size()) {
    return Status::invalid_argument("evaluate_alone: the model has " + std::to_string(model.vocab_size()) +
                                    " tokens, the receiver " + std::to_string(receiver.vocab_size()) +
                                    ": scores against the receiver need one vocabulary");
  }
  const std::int64_t vocab = receiver.vocab_size();
  QualityMetrics total;
  std::vector<float> ref_logits, logits;
  PassCount unused;
  if (answers != nullptr) answers->clear();
  for (const Sample& smp : samples) {
    const auto n = static_cast<std::int64_t>(smp.context.size());
    if (n == 0 || smp.suffix.size() < 2) {
      return Status::invalid_argument("evaluate_alone: every sample needs a context and a suffix of >= 2 tokens");
    }
    DROIDSPEAK_TRY(prefill::full_prefill(receiver, smp.context, {}, {}));
    DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, ref_logits));
    DROIDSPEAK_TRY(prefill::full_prefill(model, smp.context, {}, {}));
    DROIDSPEAK_TRY(detail::suffix_logits(model, smp.suffix, n, logits));
    Result<QualityMetrics> q = score_suffix(logits, smp.suffix, vocab, ref_logits);
    if (!q) return q.status();
    total += *q;
    if (answers != nullptr) answers->emplace_back();
    if (smp.has_answer()) {
      Result<std::vector<std::int32_t>> answer = detail::answer_greedily(model, smp, logits, unused);
      if (!answer) return answer.status();
      total += score_answer(smp, *answer);
      if (answers != nullptr) answers->back() = std::move(answer).value();
    }
  }
  return total;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
