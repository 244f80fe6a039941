// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Embedding droidspeak in your own engine: a toy two-layer, attention-only model over
//! its own paged KV cache (a FlashInfer-style fused pool of HND pages, reached through a
//! scrambled block table) implements prefill::Engine; the library then adopts a sender's
//! cache into it with a reuse plan. Checks: the full-recompute plan equals the engine's own
//! full prefill bit for bit, and so does reusing layer 0, whose weights the two models share.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "droidspeak/layout/copy.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"

using namespace droidspeak;

namespace {

constexpr std::int64_t kLayers = 2, kHidden = 16, kQHeads = 2, kKvHeads = 1, kHeadDim = 8,
                       kVocab = 32;
constexpr std::int64_t kPageSize = 4, kNumPages = 64;  // a fixed pool: 256 positions

// Deterministic weights in [-0.5, 0.5) from a seed (a 64-bit LCG).
std::vector<float> random_matrix(std::uint64_t seed, std::int64_t size) {
  std::vector<float> w(static_cast<std::size_t>(size));
  for (float& x : w) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(seed >> 40) / 16777216.0f - 0.5f;
  }
  return w;
}

// out[rows] = W[rows][cols] * x[cols]
void matvec(const std::vector<float>& w, const float* x, std::int64_t rows, std::int64_t cols,
            float* out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float acc = 0.0f;
    for (std::int64_t c = 0; c < cols; ++c) acc += w[static_cast<std::size_t>(r * cols + c)] * x[c];
    out[r] = acc;
  }
}

// The engine: per layer h += Wo * attention(Wq n, Wk n, Wv n) with n = RMSNorm(h); logits =
// embedding^T RMSNorm(h). Every row is computed alone in a fixed order, so results do not
// depend on how calls split tokens or layers (kDeterministicSpans).
class ToyEngine {
 public:
  static constexpr bool kDeterministicSpans = true;

  // `layer_seeds[l]` picks layer l's weights: two engines sharing a seed share that layer.
  explicit ToyEngine(std::vector<std::uint64_t> layer_seeds)
      : embedding_(random_matrix(7, kVocab * kHidden)) {
    for (std::uint64_t s : layer_seeds) {
      wq_.push_back(random_matrix(s, kQHeads * kHeadDim * kHidden));
      wk_.push_back(random_matrix(s + 1, kKvHeads * kHeadDim * kHidden));
      wv_.push_back(random_matrix(s + 2, kKvHeads * kHeadDim * kHidden));
      wo_.push_back(random_matrix(s + 3, kHidden * kQHeads * kHeadDim));
    }
    pool_ = {kLayers,
             kNumPages,
             kPageSize,
             kKvHeads,
             kHeadDim,
             layout::HeadOrder::kHND,
             layout::KvPlacement::kFused};
    pages_.assign(static_cast<std::size_t>(pool_.pool_elements()), 0.0f);
    for (std::int64_t b = 0; b < kNumPages; ++b)
      block_table_.push_back(static_cast<std::int32_t>((b * 37) % kNumPages));
  }

  layout::ModelGeometry geometry() const { return {kLayers, kHidden, kQHeads, kKvHeads, kHeadDim}; }
  std::int64_t vocab_size() const { return kVocab; }
  std::int64_t num_tokens() const { return num_tokens_; }
  std::int64_t capacity() const { return capacity_; }
  Status reset() {
    num_tokens_ = 0;
    return Status::ok();
  }
  Status reserve(std::int64_t n) {
    if (n > kNumPages * kPageSize) return Status::out_of_range("toy engine: at most 256 positions");
    capacity_ = std::max(capacity_, n);
    return Status::ok();
  }
  Status set_num_tokens(std::int64_t n) {
    if (n < 0 || n > capacity_)
      return Status::out_of_range("toy engine: set_num_tokens beyond capacity");
    num_tokens_ = n;
    return Status::ok();
  }
  // The whole cache in the engine's own layout: the library reads and writes it through this.
  layout::KvView kv_cache() {
    const layout::BlockTableLayout l{pool_, block_table_.data(), kNumPages, capacity_};
    return {reinterpret_cast<std::byte*>(pages_.data()),
            reinterpret_cast<std::byte*>(pages_.data()), DType::kF32, l};
  }
  Status embed(std::span<const std::int32_t> tokens, std::span<float> hidden) {
    if (hidden.size() != tokens.size() * kHidden)
      return Status::invalid_argument("toy engine: embed size");
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] < 0 || tokens[i] >= kVocab)
        return Status::out_of_range("toy engine: token outside the vocabulary");
      std::memcpy(&hidden[i * kHidden], &embedding_[static_cast<std::size_t>(tokens[i] * kHidden)],
                  kHidden * sizeof(float));
    }
    return Status::ok();
  }
  Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                    std::span<float> hidden, const layout::EView* capture) {
    if (first < 0 || first > last || last > kLayers || position < 0 || position + n > capacity_ ||
        static_cast<std::int64_t>(hidden.size()) != n * kHidden) {
      return Status::invalid_argument("toy engine: bad run_layers arguments");
    }
    for (std::int64_t l = first; l < last; ++l) {
      if (capture != nullptr &&
          capture->layout.entry_layers.contains(l)) {  // E[l], before the layer
        const layout::ECacheLayout one{layout::LayerSet::range(l, l + 1), n, kHidden};
        const layout::ConstEView src(reinterpret_cast<const std::byte*>(hidden.data()), DType::kF32,
                                     one);
        DROIDSPEAK_TRY(
            layout::copy_e({src, *capture, layout::LayerSet::range(l, l + 1), {0, n}, position}));
      }
      layer(l, position, n, hidden.data());
    }
    if (first == 0 && last == kLayers) num_tokens_ = std::max(num_tokens_, position + n);
    return Status::ok();
  }
  Status logits(std::span<const float> hidden, std::span<float> out) {
    const auto m = static_cast<std::int64_t>(hidden.size()) / kHidden;
    if (static_cast<std::int64_t>(out.size()) != m * kVocab)
      return Status::invalid_argument("toy engine: logits size");
    std::vector<float> x(kHidden);
    for (std::int64_t i = 0; i < m; ++i) {
      rms_norm(&hidden[static_cast<std::size_t>(i * kHidden)], x.data());
      matvec(embedding_, x.data(), kVocab, kHidden, &out[static_cast<std::size_t>(i * kVocab)]);
    }
    return Status::ok();
  }

 private:
  static void rms_norm(const float* h, float* out) {
    float ss = 0.0f;
    for (std::int64_t i = 0; i < kHidden; ++i) ss += h[i] * h[i];
    const float scale = 1.0f / std::sqrt(ss / kHidden + 1e-5f);
    for (std::int64_t i = 0; i < kHidden; ++i) out[i] = h[i] * scale;
  }
  float* row(std::int64_t l, layout::KvPart part, std::int64_t token) {
    return &pages_[static_cast<std::size_t>(kv_cache().layout.row_offset(l, part, token, 0))];
  }
  // One layer over tokens [position, position + n): write their K and V, attend causally.
  void layer(std::int64_t l, std::int64_t position, std::int64_t n, float* hidden) {
    const auto li = static_cast<std::size_t>(l);
    std::vector<float> x(kHidden), q(kQHeads * kHeadDim), o(kQHeads * kHeadDim), delta(kHidden),
        scores;
    for (std::int64_t i = 0; i < n;
         ++i) {  // K and V first: later tokens of this call attend to them
      rms_norm(hidden + i * kHidden, x.data());
      matvec(wk_[li], x.data(), kHeadDim, kHidden, row(l, layout::KvPart::kK, position + i));
      matvec(wv_[li], x.data(), kHeadDim, kHidden, row(l, layout::KvPart::kV, position + i));
    }
    for (std::int64_t i = 0; i < n; ++i) {
      rms_norm(hidden + i * kHidden, x.data());
      matvec(wq_[li], x.data(), kQHeads * kHeadDim, kHidden, q.data());
      const std::int64_t ctx = position + i + 1;
      for (std::int64_t hq = 0; hq < kQHeads; ++hq) {  // one KV head serves both query heads
        scores.assign(static_cast<std::size_t>(ctx), 0.0f);
        float mx = -INFINITY, sum = 0.0f;
        for (std::int64_t t = 0; t < ctx; ++t) {
          const float* k = row(l, layout::KvPart::kK, t);
          for (std::int64_t d = 0; d < kHeadDim; ++d)
            scores[static_cast<std::size_t>(t)] +=
                q[static_cast<std::size_t>(hq * kHeadDim + d)] * k[d];
          scores[static_cast<std::size_t>(t)] /= std::sqrt(static_cast<float>(kHeadDim));
          mx = std::max(mx, scores[static_cast<std::size_t>(t)]);
        }
        for (float& s : scores) sum += (s = std::exp(s - mx));
        for (std::int64_t d = 0; d < kHeadDim; ++d)
          o[static_cast<std::size_t>(hq * kHeadDim + d)] = 0.0f;
        for (std::int64_t t = 0; t < ctx; ++t) {
          const float* v = row(l, layout::KvPart::kV, t);
          for (std::int64_t d = 0; d < kHeadDim; ++d)
            o[static_cast<std::size_t>(hq * kHeadDim + d)] +=
                scores[static_cast<std::size_t>(t)] / sum * v[d];
        }
      }
      matvec(wo_[li], o.data(), kHidden, kQHeads * kHeadDim, delta.data());
      for (std::int64_t d = 0; d < kHidden; ++d)
        hidden[i * kHidden + d] += delta[static_cast<std::size_t>(d)];
    }
  }

  std::vector<float> embedding_;
  std::vector<std::vector<float>> wq_, wk_, wv_, wo_;
  layout::PagePool pool_;
  std::vector<float> pages_;
  std::vector<std::int32_t> block_table_;
  std::int64_t capacity_ = 0, num_tokens_ = 0;
};
static_assert(prefill::Engine<ToyEngine>);
static_assert(prefill::is_deterministic<ToyEngine>());

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  return 1;
}

}  // namespace

int main() {
  ToyEngine sender({100, 200}), receiver({100, 300});  // layer 0 shared, layer 1 fine-tuned
  std::vector<std::int32_t> context, suffix = {3, 1, 4, 1, 5};
  for (std::int32_t i = 0; i < 40; ++i) context.push_back((i * 7 + 3) % kVocab);
  const auto n = static_cast<std::int64_t>(context.size());
  std::vector<float> own(kVocab);
  if (Status s = prefill::full_prefill(receiver, context, suffix, own); !s) {
    return fail("receiver full prefill", s);
  }

  int failures = 0;
  for (const char* text : {"1", "0-1", "none"}) {
    // example-begin embed
    // The plan: which layers the receiver recomputes (here from a string; normally a plan file).
    const plan::ReusePlan plan = *plan::ReusePlan::parse(text, kLayers);

    // Sender: prefill the context, keeping E (the hidden state entering a layer) at the
    // layers where the plan's intervals start. Its KV stays in its own paged cache.
    const layout::ECacheLayout e_layout{plan.entry_layers(), n, kHidden};
    std::vector<float> e(static_cast<std::size_t>(e_layout.pool_elements()));
    const layout::EView e_view(reinterpret_cast<std::byte*>(e.data()), DType::kF32, e_layout);
    Status s = prefill::sender_prefill(sender, context,
                                       plan.entry_layers().empty() ? layout::EView{} : e_view);
    if (!s) return fail("sender prefill", s);

    // Receiver: adopt the sender's KV for reused layers (converted between the two caches'
    // layouts by layout::copy_kv), recompute the plan's layers from E, then run the suffix.
    std::vector<float> logits(kVocab);
    prefill::PrefillReport report;
    s = prefill::partial_prefill(receiver, plan, context, {sender.kv_cache(), e_view}, suffix,
                                 logits, &report);
    if (!s) return fail("partial prefill", s);
    // example-end embed

    const bool exact = std::memcmp(logits.data(), own.data(), own.size() * sizeof(float)) == 0;
    std::printf(
        "plan %-4s recomputes %lld layer(s), adopts %lld bytes of KV: %s the receiver's own "
        "prefill\n",
        plan.to_string().c_str(), static_cast<long long>(report.layers_recomputed),
        static_cast<long long>(report.kv_bytes_adopted),
        exact ? "bit-identical to" : "differs from");
    // Layer 0 is shared, so reusing it is exact; reusing layer 1 (full reuse) is not.
    if (exact != (plan.num_recomputed() > 0)) ++failures;
  }
  if (failures != 0)
    std::fprintf(stderr, "%d plan(s) did not give the expected result\n", failures);
  return failures == 0 ? 0 : 1;
}
