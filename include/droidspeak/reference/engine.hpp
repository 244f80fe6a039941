// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `reference::Engine`: a deterministic CPU engine for the Llama family (Llama, Mistral,
//! Qwen2) with a paged KV cache, implementing prefill::Engine.
#pragma once

#include "droidspeak/core/aligned_vector.hpp"  // AlignedVector: the buffers on cache lines
#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"        // copy_kv (growing the cache), copy_e (capture)
#include "droidspeak/layout/e_cache_layout.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/layout/paged_layout.hpp"
#include "droidspeak/layout/view.hpp"
#include "droidspeak/prefill/engine.hpp"     // prefill::Engine
#include "droidspeak/reference/kernels.hpp"  // rms_norm, rope, swiglu, softmax, gemm
#include "droidspeak/reference/thread_pool.hpp"
#include "droidspeak/reference/weights.hpp"  // ModelWeights

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>  // hardware_concurrency
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! The size of a piece, in rows or columns, when the engine splits a product along a
//! dimension of `m` itself (see EngineOptions::num_threads): about a quarter of m, so that a
//! thread whose core is busy holds up one piece of four, rounded up to 16, and at least 32,
//! so that each BLAS call still works on a block worth packing. No more than four pieces:
//! each BLAS call packs the operand that is not cut again (on the 16-layer, hidden-1024
//! model, pieces capped at 256 columns re-packed a 4 MiB activation 22 times per MLP product
//! and took 1.05-1.13x the time). A function of m alone.
inline std::int64_t product_piece_size(std::int64_t m) {
  const std::int64_t quarter = ((m + 3) / 4 + 15) / 16 * 16;
  return std::max<std::int64_t>(quarter, 32);
}

//! The columns (keys) of a piece of the attention scores S [m][keys] = Q [m][d] . K^T: the
//! most, in multiples of 16, that keep a piece within 100^3 multiply-adds, at least 16.
//! OpenBLAS multiplies products that small directly (its small-matrix kernels): no packing,
//! and no pass that zeroes C before a beta = 0 product, which for scores over only d
//! multiply-adds per element cost as much as the product. A function of m and d alone.
inline std::int64_t score_piece_columns(std::int64_t m, std::int64_t d) {
  constexpr std::int64_t kDirectProduct = 100 * 100 * 100;
  return std::max<std::int64_t>(16, kDirectProduct / std::max<std::int64_t>(1, m * d) / 16 * 16);
}

//! How the engine lays out its cache and splits work.
struct EngineOptions {
  std::int64_t page_size = 16;        //!< tokens per KV page
  //! Threads of the engine's row-parallel loops, the caller included; 0: as many as the
  //! BLAS uses for the matrix products (OpenBLAS's thread count, at most the cores), so the
  //! two never add up to more threads than cores, and the engine's workers sleep (after a
  //! short spin, see ThreadPool) while the BLAS runs. When the BLAS runs one thread per call
  //! (openblas_set_num_threads(1) or OPENBLAS_NUM_THREADS=1), 0 means the cores, and the
  //! engine splits every matrix product itself: into pieces of product_piece_size() rows (or
  //! columns, for a short span) that its threads claim as they come, each one BLAS call; and
  //! its threads claim the attention's units (a KV head's tile of query rows) whole. A core
  //! busy with another process then slows a prefill far less than the BLAS's static split
  //! does (bench/RESULTS.md), and the pieces and units, fixed by the shapes alone, keep every
  //! bit independent of the thread count.
  int num_threads = 0;
  std::int64_t attention_tile = 128;  //!< query rows per attention block (causal skipping)
  //! Elements (floats read or written) a row loop must give each thread before it is split:
  //! a fork-join costs tens of microseconds (hundreds under load), so the prompt, a short
  //! suffix and decoding stay on the calling thread. 1: split every loop (the old runtime).
  std::int64_t min_parallel_work = 32768;
  //! Pieces per thread of a split loop, claimed dynamically (see ThreadPool); 1: one static
  //! piece per thread (the old runtime).
  int pieces_per_thread = ThreadPool::kPiecesPerThread;
  //! Vector width of the row kernels (RMSNorm, SwiGLU, softmax): the widest this CPU runs by
  //! default, lowered to it when wider. Every width gives the same bits (see row_kernels).
  SimdLevel simd = cpu_simd_level();
};

//! A CPU Llama-family engine over one sequence.
//!
//! Math (HF LlamaForCausalLM, f32): E[0] = embed_tokens[token]; per layer
//! h += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))) with n1 = RMSNorm(h) and
//! optional q/k/v biases (Qwen2), grouped-query causal attention with scale head_dim^-1/2
//! (query head j uses KV head j / (num_q_heads / num_kv_heads), HF's repeat_kv), then
//! h += down_proj(silu(gate_proj(n2)) * up_proj(n2)) with n2 = RMSNorm(h); logits =
//! lm_head(RMSNorm(h)) (embed_tokens when tied). Rotary embeddings in HF's rotate-half layout
//! with rope_theta and llama3 scaling. Mistral's sliding window is not applied (exact for
//! contexts within the window).
//!
//! Weights: converted once to f32 at construction (the engine owns the copies; the
//! ModelWeights can be dropped), q/k/v and gate/up fused into one matrix each. Matrix
//! products go through cblas_sgemm; norms, rotary embeddings, softmax and cache writes are
//! split by rows over a ThreadPool (as wide as the BLAS's thread pool, and only for loops
//! big enough to pay for a fork-join), each row computed by one thread in a fixed order.
//! Prefill, recompute, suffix and decoding all run this one path. The K/V-only member
//! (prefill::KvOnlyEngine) runs its first part: norm, the K|V product (a matrix product of
//! its own, the same call in both, so the same bits), bias, rotary and the cache write.
//!
//! KV cache: a library layout, `layout::BlockTableLayout` over a split f32 page pool
//! (kNHD pages of `page_size` tokens; vLLM's shape), with a block table that does not map
//! blocks to pages in order (block b -> page num_pages - 1 - b), so code that adopts KV through
//! kv_cache() exercises real paging. Per layer the engine tracks how many leading positions
//! hold valid KV and refuses runs that would attend to positions not yet filled.
//!
//! Determinism: bit-identical results for the same token span however the layer range is
//! split, whatever ran before, whatever the page size and the engine's own thread count
//! (kDeterministicSpans). The BLAS is the one exception: OpenBLAS run with one thread rounds
//! differently from OpenBLAS run with several (measured: OPENBLAS_NUM_THREADS=1 vs 2..4 give
//! different bits, 2..4 agree on a 2-core machine), so compare bits only within one BLAS
//! configuration. Chunked prefill differs from one-chunk prefill only by float rounding of
//! the matrix products (their shapes change).
//! Not thread-safe: one call at a time. Movable, not copyable.
//!
//! Use: `auto e = Engine::create(weights)`; `e->reserve(n)`; `e->embed(tokens, h)`;
//! `e->run_layers(0, L, 0, n, h, nullptr)`; `e->logits(last row of h, out)` (see
//! reference/generate.hpp for prefill and decoding loops, tests/prefill/engine_test.cpp for
//! a partial prefill through the concept).
class Engine {
  // Every buffer of the engine (weights, cache, scratch) starts on a cache line, so its speed
  // does not depend on the allocator's state (core/aligned_vector.hpp).
  using Floats = AlignedVector<float>;

 public:
  static constexpr bool kDeterministicSpans = true;

  //! An empty engine (no model); use create().
  Engine() = default;

  //! Builds an engine from validated weights.
  //! @return the engine, or the status of weights.validate() / bad options.
  static Result<Engine> create(const ModelWeights& weights, const EngineOptions& options = {}) {
    DROIDSPEAK_TRY(weights.validate());
    if (options.page_size <= 0 || options.attention_tile <= 0 || options.min_parallel_work <= 0 ||
        options.pieces_per_thread <= 0) {
      return Status::invalid_argument(
          "reference engine: page_size, attention_tile, min_parallel_work and pieces_per_thread "
          "must be positive, got " + std::to_string(options.page_size) + ", " +
          std::to_string(options.attention_tile) + ", " + std::to_string(options.min_parallel_work) +
          " and " + std::to_string(options.pieces_per_thread));
    }
    Engine e;
    e.cfg_ = weights.config;
    e.geo_ = weights.geometry();
    e.opt_ = options;
    e.opt_.simd = runnable_simd_level(options.simd);  // what runs, as options() reports it
    e.kernels_ = row_kernels(e.opt_.simd);
    const bool blas_serial = blas_threads() == 1;
    e.pool_ = std::make_unique<ThreadPool>(
        options.num_threads > 0 ? options.num_threads : (blas_serial ? cores() : blas_threads()),
        options.pieces_per_thread);
    e.split_products_ = blas_serial && e.pool_->num_threads() > 1;
    e.inv_freq_ = rope_inv_freq(e.cfg_);
    e.embed_ = floats(weights.embed_tokens);
    e.final_norm_ = floats(weights.norm);
    e.tied_ = e.cfg_.tie_word_embeddings;
    if (!e.tied_) e.lm_head_ = floats(weights.lm_head);
    const bool bias = e.cfg_.attention_bias;
    for (const LayerWeights& w : weights.layers) {
      Layer l;
      l.norm1 = floats(w.input_layernorm);
      l.norm2 = floats(w.post_attention_layernorm);
      l.wqkv = concat({&w.q_proj, &w.k_proj, &w.v_proj});
      if (bias) l.bqkv = concat({&w.q_bias, &w.k_bias, &w.v_bias});
      l.wo = floats(w.o_proj);
      l.wgu = concat({&w.gate_proj, &w.up_proj});
      l.wd = floats(w.down_proj);
      e.layers_.push_back(std::move(l));
    }
    e.layer_tokens_.assign(static_cast<std::size_t>(e.geo_.num_layers), 0);
    return e;
  }

  // ---- prefill::Engine --------------------------------------------------------------

  layout::ModelGeometry geometry() const { return geo_; }
  std::int64_t vocab_size() const { return cfg_.vocab_size; }
  //! Positions [0, num_tokens()) hold valid KV in every layer.
  std::int64_t num_tokens() const {
    if (layer_tokens_.empty()) return 0;
    return *std::min_element(layer_tokens_.begin(), layer_tokens_.end());
  }
  std::int64_t capacity() const { return capacity_; }

  //! num_tokens() := 0 in every layer; pages are kept.
  Status reset() {
    std::fill(layer_tokens_.begin(), layer_tokens_.end(), 0);
    return Status::ok();
  }

  //! Capacity for positions [0, n). Growing reallocates the page pool (doubling) and moves
  //! every cached position of the old capacity with layout::copy_kv. out_of_range past the
  //! config's max_position_embeddings (when it is set): the model never saw such positions.
  Status reserve(std::int64_t n) {
    if (!pool_) return Status::invalid_argument("reference engine: no model (use Engine::create)");
    if (n < 0) return Status::invalid_argument("reserve: negative token count " + std::to_string(n));
    if (cfg_.max_position_embeddings > 0 && n > cfg_.max_position_embeddings) {
      return Status::out_of_range("reserve: " + std::to_string(n) +
                                  " positions exceed max_position_embeddings " +
                                  std::to_string(cfg_.max_position_embeddings));
    }
    if (n <= capacity_) return Status::ok();
    const std::int64_t pages_needed = (n + opt_.page_size - 1) / opt_.page_size;
    if (pages_needed > pages_) {
      const std::int64_t new_pages = std::max(pages_needed, 2 * pages_);
      layout::PagePool pool{geo_.num_layers, new_pages,     opt_.page_size,
                            geo_.num_kv_heads, geo_.head_dim, layout::HeadOrder::kNHD,
                            layout::KvPlacement::kSplit};
      DROIDSPEAK_TRY(pool.validate().with_context("reserve"));
      Floats k(static_cast<std::size_t>(pool.pool_elements()), 0.0f);
      Floats v(k.size(), 0.0f);
      std::vector<std::int32_t> table(static_cast<std::size_t>(new_pages));
      for (std::int64_t b = 0; b < new_pages; ++b) {
        table[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(new_pages - 1 - b);
      }
      if (capacity_ > 0) {
        layout::BlockTableLayout nl{pool, table.data(), new_pages, capacity_};
        layout::KvView dst(reinterpret_cast<std::byte*>(k.data()),
                           reinterpret_cast<std::byte*>(v.data()), DType::kF32, nl);
        DROIDSPEAK_TRY(layout::copy_kv({kv_cache(), dst, layout::LayerSet::all(geo_.num_layers),
                                        {0, capacity_}, 0})
                           .with_context("reserve"));
      }
      k_pool_ = std::move(k);
      v_pool_ = std::move(v);
      block_table_ = std::move(table);
      pages_ = new_pages;
    }
    const std::int64_t half = geo_.head_dim / 2;
    cos_.resize(static_cast<std::size_t>(n * half));
    sin_.resize(static_cast<std::size_t>(n * half));
    for (std::int64_t p = capacity_; p < n; ++p) {
      rope_cos_sin(p, inv_freq_, cos_.data() + p * half, sin_.data() + p * half);
    }
    capacity_ = n;
    return Status::ok();
  }

  //! Declares positions [0, n) valid in every layer (after adoption, or to roll back).
  Status set_num_tokens(std::int64_t n) {
    if (n < 0 || n > capacity_) {
      return Status::out_of_range("set_num_tokens: " + std::to_string(n) + " outside [0, " +
                                  std::to_string(capacity_) + "] (the reserved capacity)");
    }
    std::fill(layer_tokens_.begin(), layer_tokens_.end(), n);
    return Status::ok();
  }

  //! The whole cache: block-table layout over split f32 pools, num_tokens = capacity().
  layout::KvView kv_cache() {
    return layout::KvView(reinterpret_cast<std::byte*>(k_pool_.data()),
                          reinterpret_cast<std::byte*>(v_pool_.data()), DType::kF32,
                          cache_layout());
  }

  //! hidden [tokens.size()][H] := embed_tokens rows.
  Status embed(std::span<const std::int32_t> tokens, std::span<float> hidden) {
    if (!pool_) return Status::invalid_argument("reference engine: no model (use Engine::create)");
    const std::int64_t h = geo_.hidden_size;
    const std::int64_t n = static_cast<std::int64_t>(tokens.size());
    if (static_cast<std::int64_t>(hidden.size()) != n * h) {
      return Status::invalid_argument("embed: hidden has " + std::to_string(hidden.size()) +
                                      " elements, expected " + std::to_string(n) + " tokens x " +
                                      std::to_string(h));
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t t = tokens[static_cast<std::size_t>(i)];
      if (t < 0 || t >= cfg_.vocab_size) {
        return Status::out_of_range("embed: token " + std::to_string(i) + " is " +
                                    std::to_string(t) + ", outside the vocabulary [0, " +
                                    std::to_string(cfg_.vocab_size) + ")");
      }
    }
    for (std::int64_t i = 0; i < n; ++i) {
      std::memcpy(hidden.data() + i * h, embed_.data() + tokens[static_cast<std::size_t>(i)] * h,
                  static_cast<std::size_t>(h) * sizeof(float));
    }
    return Status::ok();
  }

  //! Layers [first, last) over positions [position, position + n); see prefill::Engine.
  Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position,
                    std::int64_t n, std::span<float> hidden, const layout::EView* capture) {
    DROIDSPEAK_TRY(check_run(first, last, position, n, hidden, capture));
    if (n == 0) return Status::ok();
    for (std::int64_t l = first; l < last; ++l) {
      if (capture != nullptr && capture->layout.entry_layers.contains(l)) {
        DROIDSPEAK_TRY(write_capture(*capture, l, position, n, hidden.data()));
      }
      layer_forward(l, position, n, hidden.data());
      std::int64_t& valid = layer_tokens_[static_cast<std::size_t>(l)];
      valid = std::max(valid, position + n);
    }
    return Status::ok();
  }

  //! Layer `layer`'s K and V for positions [position, position + n) from E[layer] in
  //! `hidden` [n][H] (read only), bit for bit those run_layers writes; no Q, attention,
  //! output projection or MLP. See prefill::KvOnlyEngine; checks as run_layers.
  Status run_layer_kv_only(std::int64_t layer, std::int64_t position, std::int64_t n,
                           std::span<const float> hidden) {
    DROIDSPEAK_TRY(check_run(layer, layer + 1, position, n, hidden, nullptr).with_context("run_layer_kv_only"));
    if (n == 0) return Status::ok();
    project_qkv(layer, position, n, hidden.data(), false);
    std::int64_t& valid = layer_tokens_[static_cast<std::size_t>(layer)];
    valid = std::max(valid, position + n);
    return Status::ok();
  }

  //! out [m][V] := lm_head(RMSNorm(hidden [m][H])).
  Status logits(std::span<const float> hidden, std::span<float> out) {
    if (!pool_) return Status::invalid_argument("reference engine: no model (use Engine::create)");
    const std::int64_t h = geo_.hidden_size, v = cfg_.vocab_size;
    if (hidden.size() % static_cast<std::size_t>(h) != 0) {
      return Status::invalid_argument("logits: hidden has " + std::to_string(hidden.size()) +
                                      " elements, not a multiple of hidden_size " +
                                      std::to_string(h));
    }
    const std::int64_t m = static_cast<std::int64_t>(hidden.size()) / h;
    if (static_cast<std::int64_t>(out.size()) != m * v) {
      return Status::invalid_argument("logits: out has " + std::to_string(out.size()) +
                                      " elements, expected " + std::to_string(m) + " rows x " +
                                      std::to_string(v) + " (vocab_size)");
    }
    Floats& x = scratch(xn_, m * h);
    pool_->parallel_for(m, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        kernels_.rms_norm(hidden.data() + i * h, final_norm_.data(), cfg_.rms_norm_eps, h, x.data() + i * h);
      }
    }, rows_per_thread(2 * h));
    const float* w = tied_ ? embed_.data() : lm_head_.data();
    product_nt(m, v, h, 1.0f, x.data(), h, w, h, 0.0f, out.data(), v);
    return Status::ok();
  }

  // ---- beyond the concept -------------------------------------------------------------

  const io::HfConfig& config() const { return cfg_; }
  const EngineOptions& options() const { return opt_; }
  //! Leading positions of layer `l` holding valid KV. Precondition: 0 <= l < num_layers.
  std::int64_t layer_tokens(std::int64_t l) const { return layer_tokens_[static_cast<std::size_t>(l)]; }
  //! The rotary inverse frequencies in use [head_dim / 2].
  const std::vector<float>& inv_freq() const { return inv_freq_; }
  //! Row-parallel threads (the caller included).
  int num_threads() const { return pool_ ? pool_->num_threads() : 0; }

  //! Checks the arguments of run_layers without running anything (CUTLASS's can_implement).
  Status check_run(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                   std::span<const float> hidden, const layout::EView* capture) const {
    if (!pool_) return Status::invalid_argument("reference engine: no model (use Engine::create)");
    const std::int64_t L = geo_.num_layers, h = geo_.hidden_size;
    if (first < 0 || first > last || last > L) {
      return Status::out_of_range("run_layers: layer range [" + std::to_string(first) + ", " +
                                  std::to_string(last) + ") is not within [0, " +
                                  std::to_string(L) + ")");
    }
    if (n < 0 || position < 0) {
      return Status::invalid_argument("run_layers: negative position " + std::to_string(position) +
                                      " or token count " + std::to_string(n));
    }
    if (position + n > capacity_) {
      return Status::out_of_range("run_layers: positions [" + std::to_string(position) + ", " +
                                  std::to_string(position + n) + ") exceed the reserved capacity " +
                                  std::to_string(capacity_) + "; call reserve() first");
    }
    if (static_cast<std::int64_t>(hidden.size()) != n * h) {
      return Status::invalid_argument("run_layers: hidden has " + std::to_string(hidden.size()) +
                                      " elements, expected " + std::to_string(n) + " tokens x " +
                                      std::to_string(h));
    }
    for (std::int64_t l = first; l < last; ++l) {
      if (position > layer_tokens_[static_cast<std::size_t>(l)]) {
        return Status::invalid_argument(
            "run_layers: layer " + std::to_string(l) + " holds valid KV for positions [0, " +
            std::to_string(layer_tokens_[static_cast<std::size_t>(l)]) + ") only, so tokens at " +
            std::to_string(position) + " would attend to unfilled positions; run or adopt the "
            "earlier positions first (set_num_tokens after adoption)");
      }
    }
    if (capture != nullptr) {
      const layout::EView& c = *capture;
      DROIDSPEAK_TRY(c.layout.validate().with_context("run_layers: capture"));
      if (c.dtype != DType::kF32 && c.dtype != DType::kF16 && c.dtype != DType::kBF16) {
        return Status::not_supported("run_layers: capture dtype " + std::string(to_string(c.dtype)) +
                                     " is not f32, f16 or bf16");
      }
      if (c.layout.hidden_size != h) {
        return Status::invalid_argument("run_layers: capture hidden_size " +
                                        std::to_string(c.layout.hidden_size) + " != model's " +
                                        std::to_string(h));
      }
      const bool any = !(c.layout.entry_layers & layout::LayerSet::range(first, last)).empty();
      if (any && position + n > c.layout.num_tokens) {
        return Status::out_of_range("run_layers: capture holds " +
                                    std::to_string(c.layout.num_tokens) + " tokens, positions up to " +
                                    std::to_string(position + n) + " needed");
      }
      if (any && c.data == nullptr) return Status::invalid_argument("run_layers: capture data is null");
    }
    return Status::ok();
  }

 private:
  struct Layer {
    Floats norm1, norm2;
    Floats wqkv;  // [Q + 2K][H]
    Floats bqkv;  // [Q + 2K] or empty
    Floats wo;    // [H][Q]
    Floats wgu;   // [2I][H]: gate rows then up rows
    Floats wd;    // [H][I]
  };

  static Floats floats(const Tensor& t) {
    const std::vector<float> f = t.to_f32();
    return Floats(f.begin(), f.end());
  }

  static Floats concat(std::initializer_list<const Tensor*> parts) {
    Floats out;
    for (const Tensor* t : parts) {
      const std::vector<float> f = t->to_f32();
      out.insert(out.end(), f.begin(), f.end());
    }
    return out;
  }

  // Rows a thread must get before a loop over rows of `row_elements` is split.
  std::int64_t rows_per_thread(std::int64_t row_elements) const {
    return std::max<std::int64_t>(1, opt_.min_parallel_work / std::max<std::int64_t>(1, row_elements));
  }

  static int cores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }
  // The BLAS's thread count (OpenBLAS), at most the cores; the cores without OpenBLAS.
  static int blas_threads() {
#ifdef OPENBLAS_VERSION
    return std::clamp(openblas_get_num_threads(), 1, cores());
#else
    return cores();
#endif
  }

  // The buffers of one attention unit (a KV head's tile of query rows): one set per pool
  // thread, so units run side by side.
  struct AttentionScratch {
    Floats scores, q, out;
  };

  // Grouped-query causal attention of layer li for positions [p, p + n), from the cache and
  // Q in the first q_dim columns of qkv [n][qkv_dim], into attn [n][q_dim]. Each KV head's
  // keys are gathered transposed (Kt [kvh][d][p + n]) and its values as rows ([kvh][p + n][d]),
  // then every unit (KV head g, tile of query rows) runs attention_unit. When the pool splits
  // the products (a one-thread BLAS), the pool's threads claim whole units, the largest (last
  // tile) first: one fork-join for the layer's attention instead of three per tile. Otherwise
  // the units run in turn on the caller, their score pieces and softmax rows split over the
  // pool and the BLAS threading the S . V product. The same calls either way: the same bits.
  void attention(std::int64_t li, std::int64_t p, std::int64_t n, const Floats& qkv,
                 Floats& attn) {
    const std::int64_t d = geo_.head_dim, kvh = geo_.num_kv_heads, t_all = p + n;
    const std::int64_t tile = opt_.attention_tile, tiles = (n + tile - 1) / tile, units = kvh * tiles;
    const layout::BlockTableLayout cache = cache_layout();
    Floats& kt = scratch(kt_, kvh * d * t_all);
    Floats& vg = scratch(vg_, kvh * t_all * d);
    pool_->parallel_for(t_all, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t g = 0; g < kvh; ++g) {
        float* kt_g = kt.data() + g * d * t_all;
        for (std::int64_t t = b; t < e; ++t) {
          const float* key = k_pool_.data() + cache.row_offset(li, layout::KvPart::kK, t, g);
          for (std::int64_t x = 0; x < d; ++x) kt_g[x * t_all + t] = key[x];
          std::memcpy(vg.data() + (g * t_all + t) * d,
                      v_pool_.data() + cache.row_offset(li, layout::KvPart::kV, t, g),
                      static_cast<std::size_t>(d) * 4);
        }
      }
    }, std::max<std::int64_t>(64, rows_per_thread(4 * d * kvh)));
    attention_scratch_.resize(static_cast<std::size_t>(pool_->num_threads()));
    auto unit = [&](std::int64_t u, AttentionScratch& s, bool split_inside) {
      const std::int64_t g = u % kvh, i0 = (tiles - 1 - u / kvh) * tile;
      attention_unit(g, i0, std::min(tile, n - i0), p, kt.data() + g * d * t_all, t_all,
                     vg.data() + g * t_all * d, qkv, attn, s, split_inside);
    };
    if (!split_products_) {
      for (std::int64_t u = 0; u < units; ++u) unit(u, attention_scratch_[0], true);
      return;
    }
    std::atomic<std::int64_t> next{0};
    pool_->parallel_for(pool_->num_threads(), [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t slot = first; slot < last; ++slot) {  // one slot a piece: its own buffers
        AttentionScratch& s = attention_scratch_[static_cast<std::size_t>(slot)];
        for (std::int64_t u = next.fetch_add(1); u < units; u = next.fetch_add(1)) unit(u, s, false);
      }
    });
  }

  // One unit: KV head g's query heads over query rows [i0, i0 + rows) (positions p + i0 ...).
  // Stack the rows of the g's rep query heads into one matrix Qg [rep * rows][d], S = Qg Kt
  // over the keys up to the tile's last position only (in pieces of score_piece_columns
  // keys), masked softmax by rows, Og = S Vg, scattered back to the heads' columns of attn.
  // `split_inside`: the score pieces and softmax rows go over the pool.
  // kt [d][ld_kt] (the g's keys, transposed), vg [keys][d].
  void attention_unit(std::int64_t g, std::int64_t i0, std::int64_t rows, std::int64_t p, const float* kt,
                      std::int64_t ld_kt, const float* vg, const Floats& qkv, Floats& attn,
                      AttentionScratch& s, bool split_inside) {
    const std::int64_t d = geo_.head_dim, kvh = geo_.num_kv_heads, rep = geo_.num_q_heads / kvh;
    const std::int64_t q_dim = geo_.num_q_heads * d, qkv_dim = q_dim + 2 * kvh * d;
    const std::int64_t keys = p + i0 + rows, m = rep * rows;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    Floats& sc = scratch(s.scores, m * keys);
    Floats& qg = scratch(s.q, m * d);
    Floats& og = scratch(s.out, m * d);
    for (std::int64_t j = 0; j < rep; ++j) {
      for (std::int64_t r = 0; r < rows; ++r) {
        std::memcpy(qg.data() + (j * rows + r) * d, qkv.data() + (i0 + r) * qkv_dim + (g * rep + j) * d,
                    static_cast<std::size_t>(d) * 4);
      }
    }
    const std::int64_t piece = score_piece_columns(m, d), pieces = (keys + piece - 1) / piece;
    auto scores = [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t q = first; q < last; ++q) {
        const std::int64_t at = q * piece;
        gemm_nn(m, std::min(piece, keys - at), d, scale, qg.data(), d, kt + at, ld_kt, 0.0f, sc.data() + at, keys);
      }
    };
    auto softmax = [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t x = b; x < e; ++x) kernels_.masked_softmax(sc.data() + x * keys, p + i0 + x % rows + 1, keys);
    };
    if (split_inside) {
      pool_->parallel_for(pieces, scores);
      pool_->parallel_for(m, softmax, std::max<std::int64_t>(4, rows_per_thread(2 * keys)));
    } else {
      scores(0, pieces);
      softmax(0, m);
    }
    gemm_nn(m, d, keys, 1.0f, sc.data(), keys, vg, d, 0.0f, og.data(), d);
    for (std::int64_t j = 0; j < rep; ++j) {
      for (std::int64_t r = 0; r < rows; ++r) {
        std::memcpy(attn.data() + (i0 + r) * q_dim + (g * rep + j) * d, og.data() + (j * rows + r) * d,
                    static_cast<std::size_t>(d) * 4);
      }
    }
  }

  // C[m][n] = alpha * A[m][k] . B (+ beta * C) as gemm_nt (B an nn.Linear weight [n][k]) or
  // gemm_nn (B [k][n]), kernels.hpp: one BLAS call, or with split_products_ one per piece,
  // the pieces claimed by the pool's threads as they come. Each BLAS call packs both operands,
  // so the split re-packs the smaller one in every piece: with fewer rows than columns it cuts
  // the columns (A re-packed: a short span or a suffix), else the rows (B re-packed: a long
  // context). Pieces of product_piece_size() of the dimension cut, fixed by m and n alone.
  void product(bool nt, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
               std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    const auto gemm = nt ? gemm_nt : gemm_nn;
    const bool cut_columns = m < n;
    const std::int64_t extent = cut_columns ? n : m, piece = product_piece_size(extent);
    if (!split_products_ || extent <= piece) {
      gemm(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    pool_->parallel_for((extent + piece - 1) / piece, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t p = first; p < last; ++p) {
        const std::int64_t at = p * piece, size = std::min(piece, extent - at);
        if (cut_columns) {
          gemm(m, size, k, alpha, a, lda, b + (nt ? at * ldb : at), ldb, beta, c + at, ldc);
        } else {
          gemm(size, n, k, alpha, a + at * lda, lda, b, ldb, beta, c + at * ldc, ldc);
        }
      }
    });
  }
  void product_nt(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                  const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    product(true, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void product_nn(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                  const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    product(false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  static Floats& scratch(Floats& v, std::int64_t n) {
    if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
    return v;
  }

  // The residual stream entering `layer` for positions [position, position + n) into the
  // capture, through the library's E copy (its dtype conversion is core/dtype's rounding).
  // `hidden` [n][H] is seen as a one-entry E cache. check_run has validated the capture.
  Status write_capture(const layout::EView& c, std::int64_t layer, std::int64_t position,
                       std::int64_t n, const float* hidden) const {
    const layout::LayerSet entry = layout::LayerSet::range(layer, layer + 1);
    const layout::ConstEView src(reinterpret_cast<const std::byte*>(hidden), DType::kF32,
                                 layout::ECacheLayout{entry, n, geo_.hidden_size});
    return layout::copy_e({src, c, entry, {0, n}, position});
  }

  // The cache's library layout: block table over split f32 pools, num_tokens = capacity().
  // Every K/V row offset the engine uses comes from its row_offset.
  layout::BlockTableLayout cache_layout() const {
    const layout::PagePool pool{geo_.num_layers, pages_,        opt_.page_size,
                                geo_.num_kv_heads, geo_.head_dim, layout::HeadOrder::kNHD,
                                layout::KvPlacement::kSplit};
    return {pool, block_table_.data(), pages_, capacity_};
  }

  // The attention block's inputs for positions [p, p + n) of layer li: n1 = RMSNorm(hidden
  // [n][H]) into xn_, K|V = n1 . Wkv^T (+ bias), K rotated, both written to the cache; with
  // `with_q` also Q (+ bias, rotated) into the first q_dim columns of qkv_ [n][Q + 2K]. Q and
  // K|V are two products: the K|V one is the same call with or without Q (same shapes, same
  // buffers), so the K/V-only tail writes exactly the bits of a full layer whatever the BLAS.
  void project_qkv(std::int64_t li, std::int64_t p, std::int64_t n, const float* hidden, bool with_q) {
    const Layer& w = layers_[static_cast<std::size_t>(li)];
    const std::int64_t h = geo_.hidden_size, d = geo_.head_dim, qh = geo_.num_q_heads,
                       kvh = geo_.num_kv_heads, q_dim = qh * d, kv_dim = kvh * d,
                       qkv_dim = q_dim + 2 * kv_dim, half = d / 2;
    const float eps = cfg_.rms_norm_eps;
    Floats& xn = scratch(xn_, n * h);
    Floats& qkv = scratch(qkv_, n * qkv_dim);
    const layout::BlockTableLayout cache = cache_layout();

    pool_->parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        kernels_.rms_norm(hidden + i * h, w.norm1.data(), eps, h, xn.data() + i * h);
      }
    }, rows_per_thread(2 * h));
    if (with_q) product_nt(n, q_dim, h, 1.0f, xn.data(), h, w.wqkv.data(), h, 0.0f, qkv.data(), qkv_dim);
    product_nt(n, 2 * kv_dim, h, 1.0f, xn.data(), h, w.wqkv.data() + q_dim * h, h, 0.0f, qkv.data() + q_dim,
            qkv_dim);
    const std::int64_t from = with_q ? 0 : q_dim;  // the first column this layer needs
    pool_->parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        float* row = qkv.data() + i * qkv_dim;
        if (!w.bqkv.empty()) {
          for (std::int64_t j = from; j < qkv_dim; ++j) row[j] += w.bqkv[static_cast<std::size_t>(j)];
        }
        const float* c = cos_.data() + (p + i) * half;
        const float* s = sin_.data() + (p + i) * half;
        if (with_q) apply_rope(row, qh, d, c, s);
        apply_rope(row + q_dim, kvh, d, c, s);
        for (std::int64_t g = 0; g < kvh; ++g) {
          std::memcpy(k_pool_.data() + cache.row_offset(li, layout::KvPart::kK, p + i, g),
                      row + q_dim + g * d, static_cast<std::size_t>(d) * 4);
          std::memcpy(v_pool_.data() + cache.row_offset(li, layout::KvPart::kV, p + i, g),
                      row + q_dim + kv_dim + g * d, static_cast<std::size_t>(d) * 4);
        }
      }
    }, rows_per_thread(qkv_dim + 2 * kv_dim));
  }

  void layer_forward(std::int64_t li, std::int64_t p, std::int64_t n, float* hidden) {
    const Layer& w = layers_[static_cast<std::size_t>(li)];
    const std::int64_t h = geo_.hidden_size, d = geo_.head_dim, qh = geo_.num_q_heads,
                       kvh = geo_.num_kv_heads, q_dim = qh * d, kv_dim = kvh * d,
                       qkv_dim = q_dim + 2 * kv_dim, inter = cfg_.intermediate_size;
    const float eps = cfg_.rms_norm_eps;

    // Attention block: norm, q and k|v projections, bias, rotary, cache write.
    project_qkv(li, p, n, hidden, true);
    Floats& xn = scratch(xn_, n * h);
    Floats& qkv = scratch(qkv_, n * qkv_dim);
    Floats& attn = scratch(attn_, n * q_dim);

    attention(li, p, n, qkv, attn);

    // Output projection into the residual stream: hidden += attn . Wo^T (beta = 1).
    product_nt(n, h, q_dim, 1.0f, attn.data(), q_dim, w.wo.data(), q_dim, 1.0f, hidden, h);

    // MLP block.
    Floats& gu = scratch(gu_, n * 2 * inter);
    pool_->parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        kernels_.rms_norm(hidden + i * h, w.norm2.data(), eps, h, xn.data() + i * h);
      }
    }, rows_per_thread(2 * h));
    product_nt(n, 2 * inter, h, 1.0f, xn.data(), h, w.wgu.data(), h, 0.0f, gu.data(), 2 * inter);
    pool_->parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        float* row = gu.data() + i * 2 * inter;
        kernels_.swiglu(row, row + inter, inter, row);  // the activation overwrites the gate half
      }
    }, rows_per_thread(3 * inter));
    product_nt(n, h, inter, 1.0f, gu.data(), 2 * inter, w.wd.data(), inter, 1.0f, hidden, h);
  }

  io::HfConfig cfg_{};
  layout::ModelGeometry geo_{};
  EngineOptions opt_{};
  std::unique_ptr<ThreadPool> pool_;
  detail::RowKernels kernels_ = row_kernels(SimdLevel::kGeneric);  // at opt_.simd, set by create
  bool split_products_ = false;  // the pool splits the products (the BLAS runs one thread)
  std::vector<float> inv_freq_;  // rope_inv_freq's, returned by inv_freq()
  Floats embed_, final_norm_, lm_head_;
  bool tied_ = false;
  std::vector<Layer> layers_;

  // Cache: split K/V pools [num_layers][pages_][page_size][num_kv_heads][head_dim].
  std::int64_t capacity_ = 0, pages_ = 0;
  Floats k_pool_, v_pool_;
  std::vector<std::int32_t> block_table_;
  std::vector<std::int64_t> layer_tokens_;
  Floats cos_, sin_;  // [capacity][head_dim / 2]

  // Scratch, reused across calls.
  Floats xn_, qkv_, attn_, gu_, kt_, vg_;
  std::vector<AttentionScratch> attention_scratch_;  // one per pool thread
};

static_assert(prefill::Engine<Engine>);
static_assert(prefill::KvOnlyEngine<Engine>);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
