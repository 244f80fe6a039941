// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The cost model against measurement: streamed partial prefill on the reference engine
//! over a simulated link at several bandwidths, each cell timed paired against the receiver's
//! full prefill in the same run (profile::time_paired), and compared as a ratio to it with
//! what plan::predict_cost / plan::predict_full_prefill predict from per-layer compute,
//! bandwidth, latency and sizes calibrated in the same run. The counters are the result:
//! `ratio` (median of the per-pair ratios streamed / full prefill) with `ratio_min`,
//! `ratio_max`, `ratio_hiqr` (half inter-quartile range) and `load`; `predicted` is the
//! predicted ratio and `pred_error` (predicted - ratio) / ratio. The reported time is the
//! median streamed prefill of the pairs, for orientation only.
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/profile/cost_calibration.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"

#include <benchmark/benchmark.h>
#include <cblas.h>  // openblas_set_num_threads

#include <algorithm>
#include <memory>
#include <vector>

using namespace droidspeak;

namespace {

constexpr std::int64_t kContext = 512;
constexpr std::int64_t kSuffix = 16;

io::HfConfig bench_config() {
  return test::tiny_config(
      {.layers = 8, .hidden = 256, .q_heads = 8, .kv_heads = 4, .head_dim = 32, .intermediate = 704, .vocab = 256});
}

// Everything one run needs: a sender/receiver pair, the sender's caches, calibrated inputs.
struct World {
  reference::Engine sender, receiver;
  std::vector<std::int32_t> context, suffix;
  std::vector<float> e, kv;
  layout::ECacheLayout e_layout;
  layout::TransferLayout kv_layout;
  profile::CostCalibration calibration;

  prefill::SenderCaches caches() const {
    return {layout::ConstKvView(reinterpret_cast<const std::byte*>(kv.data()), DType::kF32, kv_layout),
            layout::ConstEView(reinterpret_cast<const std::byte*>(e.data()), DType::kF32, e_layout)};
  }
};

// Null when the calibration failed (the benchmark then reports it as an error).
World* world() {
  static std::unique_ptr<World> w = []() -> std::unique_ptr<World> {
    auto out = std::make_unique<World>();
    const io::HfConfig c = bench_config();
    auto base = reference::make_random_model(c, 1);
    auto tuned = reference::perturb_layers(*base, layout::LayerSet::all(c.num_layers), 0.1f, 2, true);
    // One compute thread (and one BLAS thread) for the receiver, so the transfer side has a
    // core of its own, as a GPU's copy engine is separate from its SMs. On this 2-core
    // machine an oversubscribed compute pool is slowed by every wake-up of the transfer
    // thread, which no cost model of the schedule captures.
    openblas_set_num_threads(1);
    out->sender = std::move(reference::Engine::create(*base, {.page_size = 16, .num_threads = 1, .attention_tile = 128}).value());
    out->receiver = std::move(reference::Engine::create(*tuned, {.page_size = 16, .num_threads = 1, .attention_tile = 128}).value());
    reference::SplitMix64 g(3);
    for (std::int64_t i = 0; i < kContext; ++i) out->context.push_back(static_cast<std::int32_t>(g.next() % 256));
    for (std::int64_t i = 0; i < kSuffix; ++i) out->suffix.push_back(static_cast<std::int32_t>(g.next() % 256));
    const auto geo = out->sender.geometry();
    out->e_layout = {layout::LayerSet::all(geo.num_layers), kContext, geo.hidden_size};
    out->e.assign(static_cast<std::size_t>(out->e_layout.pool_elements()), 0.0f);
    const layout::EView ev(reinterpret_cast<std::byte*>(out->e.data()), DType::kF32, out->e_layout);
    (void)prefill::sender_prefill(out->sender, out->context, ev);
    out->kv_layout = {geo.num_layers, kContext, geo.num_kv_heads, geo.head_dim, layout::HeadOrder::kNHD};
    out->kv.assign(static_cast<std::size_t>(out->kv_layout.pool_elements()), 0.0f);
    const layout::KvView kvv(reinterpret_cast<std::byte*>(out->kv.data()), DType::kF32, out->kv_layout);
    (void)layout::copy_kv({out->sender.kv_cache(), kvv, layout::LayerSet::all(geo.num_layers), {0, kContext}, 0});

    // Calibration, in this run, through the library's own (what `droidspeak run` uses):
    // the full prefill, the suffix alone, adoption per byte from the executor's timeline
    // (the finite check included) and the K/V-only ratio. The link is set per cell.
    Result<profile::CostCalibration> cal =
        profile::measure_cost_calibration(out->receiver, out->context, out->caches(), out->suffix, 5);
    if (!cal) return std::unique_ptr<World>();
    out->calibration = *cal;
    return out;
  }();
  return w.get();
}

const char* kPlans[] = {"none", "2-3", "0-1", "1,5", "4-7", "0-7"};

// range(0): bandwidth in MB/s; range(1): index into kPlans. One iteration is one paired
// timing: a warm-up pair, then 6 pairs of full prefill and streamed partial prefill.
void BM_streamed_prefill_vs_prediction(benchmark::State& state) {
  World* wp = world();
  if (wp == nullptr) {
    state.SkipWithError("calibration failed");
    return;
  }
  World& w = *wp;
  const double bandwidth = static_cast<double>(state.range(0)) * 1e6;
  const double latency = 50e-6;
  const plan::CostInputs in =
      *profile::cost_inputs(w.receiver.geometry(), kContext, w.calibration, {bandwidth, latency});
  const plan::ReusePlan p = *plan::ReusePlan::parse(kPlans[state.range(1)], in.num_layers);
  // Both sides predicted from the same calibration, so the ratio is what the model claims.
  const double predicted = predict_cost(p, in)->total / plan::predict_full_prefill(in);
  std::vector<float> logits(256);
  auto full = [&] { return prefill::full_prefill(w.receiver, w.context, w.suffix, logits); };
  auto streamed = [&] {
    prefill::SimulatedLink link(bandwidth, latency);
    return prefill::streamed_partial_prefill(w.receiver, p, w.context, w.caches(), link,
                                             prefill::Overlap::kPipelined, w.suffix, logits);
  };
  profile::PairedTiming t;
  for (auto _ : state) {
    Result<profile::PairedTiming> r = profile::time_paired(full, streamed, {.warmup_pairs = 1, .pairs = 6});
    if (!r) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    t = *r;
    state.SetIterationTime(t.median_candidate_seconds);
  }
  if (t.ratio.count == 0) return;  // skipped with the error above
  state.SetLabel(std::string("plan ") + kPlans[state.range(1)]);
  state.counters["MBps"] = static_cast<double>(state.range(0));
  state.counters["recomputed"] = static_cast<double>(p.num_recomputed());
  state.counters["ratio"] = t.ratio.median;
  state.counters["ratio_min"] = t.ratio.min;
  state.counters["ratio_max"] = t.ratio.max;
  state.counters["ratio_hiqr"] = t.ratio.half_iqr;
  state.counters["predicted"] = predicted;
  state.counters["pred_error"] = (predicted - t.ratio.median) / t.ratio.median;
  state.counters["load"] = std::max(t.load_before, t.load_after);
}

}  // namespace

BENCHMARK(BM_streamed_prefill_vs_prediction)
    ->ArgsProduct({{50, 200, 1000, 5000}, {0, 1, 2, 3, 4, 5}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
