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
#include "droidspeak/profile/quality.hpp"
#include "droidspeak/profile/sample.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::profile {

struct ProfileOptions {
  std::int64_t granularity = 1;  //!< intervals start and end on multiples of g (the last may be shorter)
  //! Called after each (sample, start layer) with the layer-token passes done so far and the
  //! total the run will do; may be empty.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

//! A plan and its quality summed over the samples.
struct PlanQuality {
  plan::ReusePlan plan;
  QualityMetrics quality;
};

//! What profiling measured.
struct ProfileResult {
  std::int64_t num_layers = 0;
  std::int64_t granularity = 1;
  QualityMetrics full_prefill;      //!< the receiver's own full prefill (KL 0 by definition)
  std::vector<PlanQuality> grid;    //!< full reuse, then every interval by (start, end)
  //! Compute actually spent, in layer-token passes (one layer over one token): context
  //! recomputation, and suffix evaluation (every layer over the suffix, once per plan).
  std::int64_t context_layer_token_passes = 0;
  std::int64_t suffix_layer_token_passes = 0;
  //! What evaluating every grid interval from scratch would spend on the context.
  std::int64_t exhaustive_context_layer_token_passes = 0;
  std::int64_t context_tokens = 0;  //!< summed over samples: one full prefill = L * this

  //! The quality drop of each grid plan against full prefill, for plan::pareto_front.
  std::vector<plan::ProfiledPlan> drops(QualityMeasure measure) const {
    std::vector<plan::ProfiledPlan> out;
    for (const PlanQuality& p : grid) out.push_back({p.plan, quality_drop(p.quality, full_prefill, measure)});
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

// The grid's interval ends for a start s: the last layer of each group from s on.
inline std::vector<std::int64_t> interval_ends(std::int64_t s, std::int64_t L, std::int64_t g) {
  std::vector<std::int64_t> ends;
  for (std::int64_t e = s + g - 1; e < L - 1; e += g) ends.push_back(e);
  ends.push_back(L - 1);
  return ends;
}

}  // namespace detail

//! Profiles `receiver` reusing `sender`'s caches over `samples`.
//!
//! For each sample: the sender prefills the context capturing E at every layer; the receiver's
//! full prefill gives the reference distributions; full reuse is scored; then for each start
//! layer s (a multiple of g) the receiver adopts the sender's KV for every layer, enters layer
//! s with E_S[s] (its own embeddings when s == 0) and runs the context through s, s+1, ...,
//! scoring the suffix after each group: recomputing [s, e+g] extends [s, e] instead of starting
//! again, so the whole grid costs (L/g)(L+g)/2 layer passes per context token, about L/2 full
//! prefills, instead of the ~L^2/6 of evaluating each interval from scratch. On a
//! deterministic engine the scores equal those of prefill::partial_prefill run per plan.
//! Sender and receiver must have the same geometry and vocabulary.
template <prefill::Engine E>
Result<ProfileResult> profile_intervals(E& sender, E& receiver, std::span<const Sample> samples,
                                        const ProfileOptions& options = {}) {
  const layout::ModelGeometry g = receiver.geometry();
  const std::int64_t L = g.num_layers;
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

  ProfileResult res;
  res.num_layers = L;
  res.granularity = gran;
  res.grid.push_back({plan::ReusePlan::full_reuse(L), {}});
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s < L; s += gran) starts.push_back(s);
  for (std::int64_t s : starts) {
    for (std::int64_t e : detail::interval_ends(s, L, gran)) {
      res.grid.push_back({*plan::ReusePlan::create(L, {{s, e}}), {}});
      res.exhaustive_context_layer_token_passes += e - s + 1;  // per context token, scaled below
    }
  }
  std::int64_t total_tokens = 0;
  for (const Sample& smp : samples) total_tokens += static_cast<std::int64_t>(smp.context.size());
  res.exhaustive_context_layer_token_passes *= total_tokens;
  std::int64_t planned = 0;
  for (std::int64_t s : starts) planned += L - s;
  planned *= total_tokens;

  std::vector<float> e_all, ref_logits, logits, h;
  std::int64_t done = 0;
  for (const Sample& smp : samples) {
    const auto n = static_cast<std::int64_t>(smp.context.size());
    const auto m = static_cast<std::int64_t>(smp.suffix.size());
    res.context_tokens += n;

    const layout::ECacheLayout el{layout::LayerSet::all(L), n, g.hidden_size};
    e_all.assign(static_cast<std::size_t>(el.pool_elements()), 0.0f);
    const layout::EView e_view(reinterpret_cast<std::byte*>(e_all.data()), DType::kF32, el);
    DROIDSPEAK_TRY(prefill::sender_prefill(sender, smp.context, e_view).with_context("profile: sender"));
    const layout::ConstKvView sender_kv = sender.kv_cache();

    // The receiver's own full prefill: the reference distributions.
    DROIDSPEAK_TRY(prefill::full_prefill(receiver, smp.context, {}, {}));
    DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, ref_logits));
    Result<QualityMetrics> q = score_suffix(ref_logits, smp.suffix, vocab, ref_logits);
    if (!q) return q.status();
    res.full_prefill += *q;

    // Full reuse.
    DROIDSPEAK_TRY(receiver.reset());
    DROIDSPEAK_TRY(receiver.reserve(n + m));
    DROIDSPEAK_TRY(layout::copy_kv({sender_kv, receiver.kv_cache(), layout::LayerSet::all(L), {0, n}, 0}));
    DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, logits));
    q = score_suffix(logits, smp.suffix, vocab, ref_logits);
    if (!q) return q.status();
    res.grid[0].quality += *q;
    res.suffix_layer_token_passes += L * m;

    std::size_t next = 1;
    for (std::int64_t s : starts) {
      DROIDSPEAK_TRY(receiver.reset());
      DROIDSPEAK_TRY(receiver.reserve(n + m));
      DROIDSPEAK_TRY(layout::copy_kv({sender_kv, receiver.kv_cache(), layout::LayerSet::all(L), {0, n}, 0}));
      h.assign(static_cast<std::size_t>(n * g.hidden_size), 0.0f);
      if (s == 0) {
        DROIDSPEAK_TRY(receiver.embed(smp.context, h));
      } else {
        DROIDSPEAK_TRY(prefill::detail::load_entry(e_view, s, n, h));
      }
      std::int64_t ran_to = s;  // layers [s, ran_to) are recomputed
      for (std::int64_t e : detail::interval_ends(s, L, gran)) {
        DROIDSPEAK_TRY(receiver.run_layers(ran_to, e + 1, 0, n, h, nullptr));
        res.context_layer_token_passes += (e + 1 - ran_to) * n;
        done += (e + 1 - ran_to) * n;
        ran_to = e + 1;
        DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, logits));
        q = score_suffix(logits, smp.suffix, vocab, ref_logits);
        if (!q) return q.status();
        res.grid[next++].quality += *q;
        res.suffix_layer_token_passes += L * m;
      }
      if (options.progress) options.progress(done, planned);
    }
  }
  return res;
}

//! Scores arbitrary plans (several intervals, say) from scratch with prefill::partial_prefill,
//! against the receiver's full prefill; `full_prefill` receives the baseline.
template <prefill::Engine E>
Result<std::vector<PlanQuality>> evaluate_plans(E& sender, E& receiver, std::span<const Sample> samples,
                                                std::span<const plan::ReusePlan> plans,
                                                QualityMetrics* full_prefill = nullptr) {
  const layout::ModelGeometry g = receiver.geometry();
  const std::int64_t L = g.num_layers;
  if (!(sender.geometry() == g) || sender.vocab_size() != receiver.vocab_size()) {
    return Status::invalid_argument("evaluate_plans: sender and receiver differ in geometry or vocabulary");
  }
  std::vector<PlanQuality> out;
  for (const plan::ReusePlan& p : plans) out.push_back({p, {}});
  QualityMetrics base;
  const std::int64_t vocab = receiver.vocab_size();
  std::vector<float> e_all, ref_logits, logits;
  for (const Sample& smp : samples) {
    const auto n = static_cast<std::int64_t>(smp.context.size());
    if (n == 0 || smp.suffix.size() < 2) {
      return Status::invalid_argument("evaluate_plans: every sample needs a context and a suffix of >= 2 tokens");
    }
    const layout::ECacheLayout el{layout::LayerSet::all(L), n, g.hidden_size};
    e_all.assign(static_cast<std::size_t>(el.pool_elements()), 0.0f);
    const layout::EView e_view(reinterpret_cast<std::byte*>(e_all.data()), DType::kF32, el);
    DROIDSPEAK_TRY(prefill::sender_prefill(sender, smp.context, e_view));
    DROIDSPEAK_TRY(prefill::full_prefill(receiver, smp.context, {}, {}));
    DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, ref_logits));
    Result<QualityMetrics> q = score_suffix(ref_logits, smp.suffix, vocab, ref_logits);
    if (!q) return q.status();
    base += *q;
    for (PlanQuality& pq : out) {
      if (pq.plan.num_layers() != L) {
        return Status::invalid_argument("evaluate_plans: plan " + pq.plan.to_string() + " is for " +
                                        std::to_string(pq.plan.num_layers()) + " layers, not " + std::to_string(L));
      }
      DROIDSPEAK_TRY(prefill::partial_prefill(receiver, pq.plan, smp.context, {sender.kv_cache(), e_view}, {}, {}));
      DROIDSPEAK_TRY(detail::suffix_logits(receiver, smp.suffix, n, logits));
      q = score_suffix(logits, smp.suffix, vocab, ref_logits);
      if (!q) return q.status();
      pq.quality += *q;
    }
  }
  if (full_prefill != nullptr) *full_prefill = base;
  return out;
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::profile
