// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Prefill throughput of the reference engine (tokens/s, GFLOP/s) next to the CBLAS
//! sgemm rate measured in the same run at a comparable shape, and their ratio.
//!
//! Counters of BM_Prefill:
//! Times are wall-clock (steady_clock) of the prefill alone; the engine and OpenBLAS use all
//! cores. Run from the repository root to pick up examples/models/base (when the HF loader
//! exists); otherwise the bundled shape runs with random weights.
//!   tokens/s      context tokens prefilled per second (embed + all layers + last-row logits)
//!   GFLOP/s       model FLOPs per second: 2 * (layer weights) per token, causal attention
//!                 (4 * head_dim * num_q_heads * n(n+1)/2 per layer) and the last row's LM head
//!   sgemm_GFLOP/s cblas_sgemm on [n x H] . [H x 2I] (the engine's fused gate/up product),
//!                 timed between the prefills of the same run (num_layers calls per iteration,
//!                 outside the benchmark's timed region), so both see the same machine load
//!   ratio         GFLOP/s / sgemm_GFLOP/s (the target: >= 0.5 at n = 1024)
//! BM_Decode: one decoding step (tokens/s) after a 1024-token context.
//! BM_Paired: the engine before and after this session's changes, paired. A runs the row
//!   kernels at the generic build's 4 lanes (EngineOptions::simd = kGeneric) with the BLAS's
//!   own threads doing the products; B the defaults (the widest vector width this CPU runs,
//!   the same bits) over a one-thread BLAS, so that the engine splits the products itself
//!   (EngineOptions::num_threads); each repetition times A,
//!   B and an N = 2048 sgemm back to back (alternating A/B order), so all three see the same
//!   load, each started from an idle process (wait_until_idle: no BLAS worker still spinning
//!   from the call before). Counters: medians over repetitions of the per-pair ratios, with their spread
//!   (max - min), and the 1-minute load average at the start and the end:
//!     B_over_A        prefill time of B / A (< 1: B is faster)
//!     A_vs_sgemm2048, B_vs_sgemm2048  GFLOP/s of the prefill / GFLOP/s of the sgemm
//!     prompt32_cost   B's per-layer-token cost of a 32-token prompt after the context,
//!                     divided by the context's own per-layer-token cost
//!     prompt32_flops  the same ratio in FLOPs (its floor: a prompt token attends to all the
//!                     context, a context token to half of it on average)
//! BM_UnderLoad: the engine's prefill with one core kept busy by another process (a forked
//!   child spinning at the same priority) against the same prefill without it, in
//!   alternating pairs, each started from an idle process; split:0 with the BLAS's own threads doing the products, split:1 with
//!   a one-thread BLAS and the engine splitting them. Counters: loaded_over_quiet (median of per-pair time ratios), its
//!   spread, and the load average at the start and the end (the spinner adds about 1).
#include "droidspeak/profile/paired_timing.hpp"  // summarize, load_average
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"
#if __has_include("droidspeak/reference/hf_loader.hpp")
#include "droidspeak/reference/hf_loader.hpp"  // load_hf_model: the bundled models, when present
#define DROIDSPEAK_BENCH_HAS_LOADER 1
#endif

#include <benchmark/benchmark.h>

#include <signal.h>    // kill
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // fork

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <time.h>  // clock_gettime(CLOCK_PROCESS_CPUTIME_ID)

using namespace droidspeak;

namespace {

io::HfConfig realistic_config() {  // a 0.3B Llama: 16 layers, hidden 1024, GQA 16/8
  return test::tiny_config({.layers = 16, .hidden = 1024, .q_heads = 16, .kv_heads = 8, .head_dim = 64,
                           .intermediate = 2816, .vocab = 32000});
}

io::HfConfig bundled_config() {  // examples/models/*: 12 layers, hidden 192, GQA 4/2, bytes
  return test::tiny_config({.layers = 12, .hidden = 192, .q_heads = 4, .kv_heads = 2, .head_dim = 48,
                           .intermediate = 512, .vocab = 256, .max_positions = 2048});
}

double model_flops(const io::HfConfig& c, std::int64_t n) {
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.num_q_heads * c.head_dim),
               kv = static_cast<double>(c.num_kv_heads * c.head_dim),
               i = static_cast<double>(c.intermediate_size);
  const double per_token = 2.0 * (h * (q + 2 * kv) + q * h + 3 * h * i);
  const double attn = 4.0 * static_cast<double>(c.head_dim * c.num_q_heads) *
                      static_cast<double>(n) * static_cast<double>(n + 1) / 2.0;
  return static_cast<double>(c.num_layers) * (per_token * static_cast<double>(n) + attn) +
         2.0 * h * static_cast<double>(c.vocab_size);
}

// FLOPs of a `prompt`-token span after an n-token context through every layer: the weights
// per token as in model_flops, attention over n + i keys for the prompt's i-th token.
double prompt_flops(const io::HfConfig& c, std::int64_t n, std::int64_t prompt) {
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.num_q_heads * c.head_dim),
               kv = static_cast<double>(c.num_kv_heads * c.head_dim),
               i = static_cast<double>(c.intermediate_size);
  const double per_token = 2.0 * (h * (q + 2 * kv) + q * h + 3 * h * i);
  const double p = static_cast<double>(prompt), keys = p * static_cast<double>(n) + p * (p + 1) / 2.0;
  return static_cast<double>(c.num_layers) * (per_token * p + 4.0 * static_cast<double>(c.head_dim * c.num_q_heads) * keys);
}

// Seconds of one cblas_sgemm C[m][n] = A[m][k] . B[n][k]^T (the engine's weight-product form).
struct Sgemm {
  std::int64_t m, n, k;
  std::vector<float> a, b, c;
  Sgemm(std::int64_t m_, std::int64_t n_, std::int64_t k_)
      : m(m_), n(n_), k(k_), a(static_cast<std::size_t>(m * k), 0.5f),
        b(static_cast<std::size_t>(n * k), 0.25f), c(static_cast<std::size_t>(m * n)) {}
  double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
  double run() {
    const auto t0 = std::chrono::steady_clock::now();
    reference::gemm_nt(m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

struct Model {
  std::string name;
  io::HfConfig config;
  std::unique_ptr<reference::Engine> engine;
};

// Median and spread (max - min) of per-pair ratios, as the library summarises them; zeros
// for no ratios (a failed run, reported as skipped).
profile::RatioSummary summary(const std::vector<double>& ratios) {
  const Result<profile::RatioSummary> s = profile::summarize(ratios);
  return s ? *s : profile::RatioSummary{};
}
double spread(const profile::RatioSummary& s) { return s.max - s.min; }

// Waits until no thread of this process is running: sleeps 10 ms at a time until a sleep
// passes with under 1 ms of the process's CPU time spent, at most 2 s. After a call with
// several threads OpenBLAS's workers spin for about 2^28 TSC cycles (OPENBLAS_THREAD_TIMEOUT)
// before they sleep, about 0.1 s here: a one-thread-BLAS engine timed right after them shares
// its cores with them. Measured: such a prefill took a median 1.16x (up to 1.54x) its time
// after an idle wait, so every timed run below starts from an idle process.
void wait_until_idle() {
  auto cpu_seconds = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  for (int i = 0; i < 200; ++i) {
    const double before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (cpu_seconds() - before < 1e-3) return;
  }
}

template <class Fn>
double seconds(Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Model& model(bool realistic) {
  static Model models[2];
  Model& m = models[realistic ? 1 : 0];
  if (m.engine) return m;
  reference::ModelWeights w;
  m.name = realistic ? "random 16x1024" : "random bundled shape";
#ifdef DROIDSPEAK_BENCH_HAS_LOADER
  if (!realistic && std::filesystem::exists("examples/models/base/config.json")) {
    auto loaded = reference::load_hf_model("examples/models/base");
    if (loaded.is_ok()) {
      w = std::move(loaded).value();
      m.name = "examples/models/base";
    }
  }
#endif
  if (w.layers.empty()) {
    auto r = reference::make_random_model(realistic ? realistic_config() : bundled_config(), 1,
                                          DType::kF16);
    if (!r) return m;
    w = std::move(r).value();
  }
  m.config = w.config;
  auto e = reference::Engine::create(w);
  if (e.is_ok()) m.engine = std::make_unique<reference::Engine>(std::move(e).value());
  return m;
}

// The model a benchmark's state.range(0) names (non-zero: the realistic one), or nullptr after
// marking the benchmark skipped when it could not be built.
Model* model_or_skip(benchmark::State& state) {
  Model& m = model(state.range(0) != 0);
  if (!m.engine) {
    state.SkipWithError("could not build the model");
    return nullptr;
  }
  return &m;
}

// What a prefill of n tokens reads and writes: token ids (spread over the vocabulary by a
// prime stride), hidden states [n, hidden_size] and the last position's logits [vocab_size].
struct PrefillBuffers {
  std::vector<std::int32_t> tokens;
  std::vector<float> hidden;
  std::vector<float> logits;
};

PrefillBuffers prefill_buffers(const io::HfConfig& c, std::int64_t n) {
  PrefillBuffers b{std::vector<std::int32_t>(static_cast<std::size_t>(n)),
                   std::vector<float>(static_cast<std::size_t>(n * c.hidden_size)),
                   std::vector<float>(static_cast<std::size_t>(c.vocab_size))};
  for (std::int64_t i = 0; i < n; ++i) b.tokens[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7919) % c.vocab_size);
  return b;
}

// Prefill of `tokens` (all layers, last-row logits) on `e`; false when a call failed.
bool prefill(reference::Engine& e, const io::HfConfig& c, const std::vector<std::int32_t>& tokens,
             std::vector<float>& hidden, std::vector<float>& logits) {
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  return e.reset().is_ok() && e.reserve(n).is_ok() && e.embed(tokens, hidden).is_ok() &&
         e.run_layers(0, c.num_layers, 0, n, hidden, nullptr).is_ok() &&
         e.logits(std::span<const float>(hidden).last(static_cast<std::size_t>(c.hidden_size)), logits).is_ok();
}

void BM_Prefill(benchmark::State& state) {
  Model* const m = model_or_skip(state);
  if (m == nullptr) return;
  const std::int64_t n = state.range(1);
  const io::HfConfig& c = m->config;
  auto [tokens, hidden, logits] = prefill_buffers(c, n);
  // The sgemm runs interleaved with the prefills (outside the timed region), as many per
  // iteration as the model has layers, so both rates see the same machine load.
  Sgemm gemm(n, 2 * c.intermediate_size, c.hidden_size);
  gemm.run();  // warm-up: pages, OpenBLAS threads
  double engine_s = 0, gemm_s = 0, gemm_flops = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!prefill(*m->engine, c, tokens, hidden, logits)) {
      state.SkipWithError("engine call failed");
      return;
    }
    benchmark::DoNotOptimize(logits.data());
    engine_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.PauseTiming();
    for (std::int64_t l = 0; l < c.num_layers; ++l) {
      gemm_s += gemm.run();
      gemm_flops += gemm.flops();
    }
    state.ResumeTiming();
  }
  const double iters = static_cast<double>(state.iterations());
  const double engine_gflops = model_flops(c, n) * iters / engine_s * 1e-9;
  const double sgemm_gflops = gemm_flops / gemm_s * 1e-9;
  state.counters["tokens/s"] = static_cast<double>(n) * iters / engine_s;
  state.counters["GFLOP/s"] = engine_gflops;
  state.counters["sgemm_GFLOP/s"] = sgemm_gflops;
  state.counters["ratio"] = engine_gflops / sgemm_gflops;
  state.SetLabel(m->name + ", " + std::to_string(m->engine->num_threads()) + " threads");
}

// One decoding step (embed, all layers at one position, logits) after a prefilled context of
// state.range(1) tokens; the cache is rolled back with set_num_tokens so every step sees the
// same context length.
void BM_Decode(benchmark::State& state) {
  Model* const m = model_or_skip(state);
  if (m == nullptr) return;
  reference::Engine& e = *m->engine;
  const std::int64_t n = state.range(1);
  const io::HfConfig& c = m->config;
  auto [tokens, hidden, logits] = prefill_buffers(c, n);
  if (!e.reset().is_ok() || !e.reserve(n + 1).is_ok() || !e.embed(tokens, hidden).is_ok() ||
      !e.run_layers(0, c.num_layers, 0, n, hidden, nullptr).is_ok()) {
    state.SkipWithError("prefill failed");
    return;
  }
  std::vector<float> h(static_cast<std::size_t>(c.hidden_size));
  const std::int32_t next = 1;
  for (auto _ : state) {
    if (!e.set_num_tokens(n).is_ok() || !e.embed(std::span<const std::int32_t>(&next, 1), h).is_ok() ||
        !e.run_layers(0, c.num_layers, n, 1, h, nullptr).is_ok() || !e.logits(h, logits).is_ok()) {
      state.SkipWithError("decode step failed");
      return;
    }
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
  state.SetLabel(m->name);
}

// Sets OpenBLAS's thread count for its lifetime (a no-op with another BLAS). An engine made
// while the BLAS runs one thread splits its products itself (EngineOptions::num_threads), so
// the A/B below make and run each engine under its own setting.
class BlasThreads {
 public:
  explicit BlasThreads(int n) {
#ifdef OPENBLAS_VERSION
    previous_ = openblas_get_num_threads();
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
  }
  ~BlasThreads() {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(previous_);
#endif
  }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  [[maybe_unused]] int previous_ = 1;
};

int cores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// Random f16 weights of the shape state.range(0) names (non-zero: the realistic one; bits do
// not matter for time), built per benchmark so that the shared Model of the others is not
// (two engines of ~1 GB each for the realistic shape); nullopt after marking it skipped.
std::optional<reference::ModelWeights> random_weights_or_skip(benchmark::State& state, const io::HfConfig& c) {
  auto r = reference::make_random_model(c, 1, DType::kF16);
  if (!r) {
    state.SkipWithError("could not build the model");
    return std::nullopt;
  }
  return std::move(r).value();
}

void BM_Paired(benchmark::State& state) {
  const bool realistic = state.range(0) != 0;
  const std::int64_t n = state.range(1);
  const int reps = static_cast<int>(state.range(2));
  const io::HfConfig c = realistic ? realistic_config() : bundled_config();
  auto r = random_weights_or_skip(state, c);
  if (!r) return;
  // A: the engine before the row kernels went wide and it split its products: generic width,
  // the BLAS's own threads. B: the defaults over a one-thread BLAS (the engine splits).
  auto a = [&] {
    BlasThreads all(cores());
    return reference::Engine::create(*r, {.simd = SimdLevel::kGeneric});
  }();
  auto b = [&] {
    BlasThreads one(1);
    return reference::Engine::create(*r);
  }();
  if (!a || !b) {
    state.SkipWithError("could not build the engines");
    return;
  }
  const std::int64_t prompt = 32;
  auto [tokens, hidden, logits] = prefill_buffers(c, n);
  std::vector<float> ph(static_cast<std::size_t>(prompt * c.hidden_size));
  std::vector<std::int32_t> ptok(tokens.begin(), tokens.begin() + prompt);
  Sgemm gemm(2048, 2048, 2048);
  const double flops = model_flops(c, n);
  const double load_start = profile::load_average();
  // The BLAS setting changes outside the timed calls only.
  bool ok = true;
  auto run_a = [&] {
    BlasThreads all(cores());
    wait_until_idle();
    return seconds([&] { ok = ok && prefill(*a, c, tokens, hidden, logits); });
  };
  // B's prefill, then at once its 32-token prompt after that context (into tp; the cache is
  // rolled back each time), as a prompt follows its context in a partial prefill.
  double tp = 0;
  ok = b->reserve(n + prompt).is_ok();
  auto run_b = [&] {
    BlasThreads one(1);
    wait_until_idle();
    const double t = seconds([&] { ok = ok && prefill(*b, c, tokens, hidden, logits); });
    ok = ok && b->set_num_tokens(n).is_ok() && b->embed(ptok, ph).is_ok();
    tp = seconds([&] { ok = ok && b->run_layers(0, c.num_layers, n, prompt, ph, nullptr).is_ok(); });
    return t;
  };
  run_a();  // warm-up
  run_b();
  gemm.run();  // the baseline: the BLAS's own threads on a large square product
  std::vector<double> b_over_a, a_vs, b_vs, prompt_cost;
  for (auto _ : state) {
    for (int i = 0; i < reps && ok; ++i) {
      double ta = 0, tb = 0;
      if (i % 2 == 0) {
        ta = run_a();
        tb = run_b();
      } else {
        tb = run_b();
        ta = run_a();
      }
      wait_until_idle();
      const double gemm_rate = gemm.flops() / gemm.run();
      b_over_a.push_back(tb / ta);
      a_vs.push_back(flops / ta / gemm_rate);
      b_vs.push_back(flops / tb / gemm_rate);
      prompt_cost.push_back((tp / static_cast<double>(prompt)) / (tb / static_cast<double>(n)));
    }
  }
  if (!ok) {
    state.SkipWithError("engine call failed");
    return;
  }
  const profile::RatioSummary b_a = summary(b_over_a), b_sgemm = summary(b_vs);
  state.counters["B_over_A"] = b_a.median;
  state.counters["B_over_A_spread"] = spread(b_a);
  state.counters["A_vs_sgemm2048"] = summary(a_vs).median;
  state.counters["B_vs_sgemm2048"] = b_sgemm.median;
  state.counters["B_vs_sgemm_spread"] = spread(b_sgemm);
  state.counters["prompt32_cost"] = summary(prompt_cost).median;
  state.counters["prompt32_flops"] = (prompt_flops(c, n, prompt) / static_cast<double>(prompt)) /
                                     ((flops - 2.0 * static_cast<double>(c.hidden_size * c.vocab_size)) / static_cast<double>(n));
  state.counters["load_start"] = load_start;
  state.counters["load_end"] = profile::load_average();
  state.SetLabel(std::string(realistic ? "random 16x1024" : "random bundled shape") + ", " +
                 std::to_string(reps) + " pairs, " + std::to_string(b->num_threads()) + " threads, B at " +
                 to_string(b->options().simd));
}

// A child process that spins on one core until the guard goes out of scope.
class Spinner {
 public:
  Spinner() : pid_(fork()) {
    if (pid_ == 0) {
      volatile std::uint64_t x = 0;
      for (;;) x = x + 1;  // killed by the parent
    }
    usleep(20000);  // let the scheduler place it
  }
  ~Spinner() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_;
};

void BM_UnderLoad(benchmark::State& state) {
  const bool realistic = state.range(0) != 0;
  const std::int64_t n = state.range(1);
  const int reps = static_cast<int>(state.range(2));
  const io::HfConfig c = realistic ? realistic_config() : bundled_config();
  auto r = random_weights_or_skip(state, c);
  if (!r) return;
  // range(3): 0, the BLAS's own threads do the products; 1, a one-thread BLAS and the
  // engine splits them (EngineOptions::num_threads).
  const bool split = state.range(3) != 0;
  BlasThreads blas(split ? 1 : cores());
  auto e = reference::Engine::create(*r);
  if (!e) {
    state.SkipWithError("could not build the engine");
    return;
  }
  auto [tokens, hidden, logits] = prefill_buffers(c, n);
  const double load_start = profile::load_average();
  bool ok = prefill(*e, c, tokens, hidden, logits);  // warm-up
  std::vector<double> ratio;
  for (auto _ : state) {
    for (int i = 0; i < reps && ok; ++i) {
      double quiet = 0, loaded = 0;
      auto run_quiet = [&] {
        wait_until_idle();
        quiet = seconds([&] { ok = ok && prefill(*e, c, tokens, hidden, logits); });
      };
      auto run_loaded = [&] {
        wait_until_idle();  // before the spinner: its CPU time is not this process's
        Spinner spin;
        ok = ok && spin.started();
        loaded = seconds([&] { ok = ok && prefill(*e, c, tokens, hidden, logits); });
      };
      if (i % 2 == 0) {
        run_quiet();
        run_loaded();
      } else {
        run_loaded();
        run_quiet();
      }
      ratio.push_back(loaded / quiet);
    }
  }
  if (!ok) {
    state.SkipWithError("engine call or fork failed");
    return;
  }
  const profile::RatioSummary loaded = summary(ratio);
  state.counters["loaded_over_quiet"] = loaded.median;
  state.counters["spread"] = spread(loaded);
  state.counters["load_start"] = load_start;
  state.counters["load_end"] = profile::load_average();
  state.SetLabel(std::string(realistic ? "random 16x1024" : "random bundled shape") + ", " + std::to_string(reps) +
                 " pairs, " + std::to_string(e->num_threads()) + " threads, " + to_string(e->options().simd) +
                 (split ? ", the engine splits the products" : ", the BLAS threads the products"));
}

}  // namespace

BENCHMARK(BM_UnderLoad)
    ->ArgNames({"realistic", "tokens", "pairs", "split"})
    ->Args({0, 1024, 9, 0})
    ->Args({0, 1024, 9, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_Paired)
    ->ArgNames({"realistic", "tokens", "pairs"})
    ->Args({0, 1024, 25})  // the sgemm target: many pairs, the machine swings by 1.5x between runs
    ->Args({0, 192, 15})  // the tool's samples: 192 context tokens
    ->Args({1, 1024, 3})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_Decode)
    ->ArgNames({"realistic", "context"})
    ->Args({0, 1024})
    ->Args({1, 1024})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_Prefill)
    ->ArgNames({"realistic", "tokens"})
    ->Args({0, 1024})
    ->Args({0, 256})
    ->Args({1, 1024})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK_MAIN();
