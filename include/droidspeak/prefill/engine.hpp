// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `prefill::Engine`: what a host inference engine offers so the library can run
//! DroidSpeak's partial prefill through it (layer ranges, E injection and capture, KV adoption).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/geometry.hpp"  // ModelGeometry
#include "droidspeak/layout/view.hpp"      // KvView, EView

#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! One sequence of a decoder-only model that the library can drive layer by layer.
//!
//! Terms: `L` = geometry().num_layers, `H` = geometry().hidden_size, `V` = vocab_size().
//! E[l] is the residual stream entering layer `l` before its input norm (one tensor: engines
//! that carry `hidden` + `residual` enter a layer with `(E, 0)` and capture their sum);
//! E[0] is embed(tokens), E[L] is the stream after the last layer, before the final norm.
//! Hidden rows are f32, row-major `[n][H]`, in host memory.
//!
//! Members and their contracts (`e` an engine, every Status-returning member `[[nodiscard]]`,
//! and on failure the engine's state is unchanged unless stated):
//! - `e.geometry()` -> layout::ModelGeometry: layers, hidden size, heads, KV heads, head_dim.
//! - `e.vocab_size()` -> std::int64_t: rows of the LM head.
//! - `e.reset()` -> Status: empties the sequence (num_tokens() == 0). The engine may keep its
//!   pages; callers reserve() again before running.
//! - `e.reserve(n)` -> Status: the cache can hold positions [0, n) in every layer, pages
//!   allocated. Never shrinks and keeps every cached value (valid or merely written by
//!   adoption) of the old capacity. Invalidates earlier kv_cache() views.
//! - `e.capacity()` -> std::int64_t: the reserved positions.
//! - `e.num_tokens()` -> std::int64_t: positions [0, num_tokens()) hold valid KV in every layer.
//! - `e.set_num_tokens(n)` -> Status: declares positions [0, n) valid in every layer, n <=
//!   capacity(): after the library wrote adopted KV through kv_cache(), or to roll back
//!   (decoding, re-prefill of a shared prefix). The engine trusts the caller for the content.
//! - `e.kv_cache()` -> layout::KvView: a writable view of the WHOLE cache, every layer, in the
//!   engine's own layout (paged for a paged engine) with num_tokens = capacity(). The library
//!   adopts a sender's KV into it with layout::copy_kv / scatter_kv and reads a sender's KV
//!   from it. Valid until the next reserve() (or the engine's destruction). Before any
//!   reserve() it may be empty (pool_elements() == 0).
//! - `e.embed(tokens, hidden)` -> Status: hidden `[tokens.size()][H]` := E[0] of the tokens,
//!   including any model-specific scaling. Every token must be in [0, V).
//! - `e.run_layers(first, last, position, n, hidden, capture)` -> Status: runs layers
//!   [first, last), 0 <= first <= last <= L, for the n tokens at positions
//!   [position, position + n) (position + n <= capacity()). `hidden` `[n][H]` holds E[first] of
//!   those tokens on entry and E[last] on return. Each layer writes its K and V (K after RoPE
//!   at those positions) into the cache and attends causally to cache positions
//!   [0, position + i] of the same layer; so positions below `position` must already hold KV
//!   in every layer of the range (from an earlier run_layers or from adoption). An engine may
//!   check this (the reference engine does) but need not. When `capture` is non-null, for each
//!   l in [first, last) that is an entry of capture->layout.entry_layers, E[l] of token i is
//!   written (converted to capture->dtype) into capture row (l, position + i); then
//!   position + n <= capture->layout.num_tokens and capture->layout.hidden_size == H. Layers of
//!   other ranges are neither read nor written. `first == last` writes nothing and leaves
//!   `hidden` unchanged; n == 0 does nothing. After a run over [0, L), num_tokens() >=
//!   position + n. After other ranges an engine may count the positions once every layer
//!   holds them (the reference engine tracks each layer) or not; callers that assembled a
//!   cache from parts (adoption plus interval recomputes) declare it with set_num_tokens().
//! - `e.logits(hidden, out)` -> Status: out `[m][V]` := LM head(final norm(hidden `[m][H]`)),
//!   the rows being E[L]; m = hidden.size() / H. Reads no cache.
//!
//! This is enough for: full prefill (embed, run_layers(0, L) once or in position chunks);
//! E-cache capture on the sender (the same with `capture`); partial prefill on the receiver
//! (reserve; copy_kv the sender's KV of reused layers into kv_cache(); for each recomputed
//! interval [s, e] run_layers(s, e + 1, 0, n, E_S[s] or embed(x)); set_num_tokens(n); then the
//! suffix through run_layers(0, L, n, m) and logits of its last row); and decoding
//! (run_layers(0, L, p, 1) per token).
//!
//! How engines map onto it (see research/engine-hooks.md, section 9): HF transformers loops
//! over `model.layers[first:last]` with a static cache whose per-layer tensors are the view;
//! vLLM and SGLang need a side driver reusing the layer modules (LMCache's blender pattern),
//! entering with (E, 0), with vLLM's registered KV caches + block ids (SGLang: k_buffer[l],
//! v_buffer[l] with page size 1) as the view and `set_num_tokens` as the scheduler's
//! "matched tokens"; llama.cpp and TensorRT engines need a patched graph for run_layers with
//! first > 0 and can only adopt KV. The engine-hooks note's stream-ordered variant (see
//! cuda::DeviceEngine), per-layer hooks and rope shifting are later refinements of this
//! synchronous concept; the K/V-only tail is the optional KvOnlyEngine below.
//!
//! Determinism: an engine whose type has `static constexpr bool kDeterministicSpans = true`
//! promises that run_layers over the same tokens gives bit-identical results however the
//! layer range is split, and (for the same token count per call) whatever was run before;
//! see is_deterministic(). The library's bit-exact identities are only checked against such
//! engines.
template <class E>
concept Engine =
    requires(E& e, const E& ce, std::int64_t i, std::span<const std::int32_t> tokens,
             std::span<float> hidden, std::span<const float> const_hidden,
             const layout::EView* capture) {
      { ce.geometry() } -> std::convertible_to<layout::ModelGeometry>;
      { ce.vocab_size() } -> std::convertible_to<std::int64_t>;
      { ce.num_tokens() } -> std::convertible_to<std::int64_t>;
      { ce.capacity() } -> std::convertible_to<std::int64_t>;
      { e.reset() } -> std::same_as<Status>;
      { e.reserve(i) } -> std::same_as<Status>;
      { e.set_num_tokens(i) } -> std::same_as<Status>;
      { e.kv_cache() } -> std::same_as<layout::KvView>;
      { e.embed(tokens, hidden) } -> std::same_as<Status>;
      { e.run_layers(i, i, i, i, hidden, capture) } -> std::same_as<Status>;
      { e.logits(const_hidden, hidden) } -> std::same_as<Status>;
    };

//! An Engine with the optional K/V-only member: one layer that only writes its K and V.
//!
//! - `e.run_layer_kv_only(layer, position, n, hidden)` -> Status: `hidden` `[n][H]` (read
//!   only) holds E[layer] of the n tokens at positions [position, position + n), 0 <= layer <
//!   L, position + n <= capacity(). Writes that layer's K (after RoPE at those positions) and
//!   V into the cache, exactly the values run_layers(layer, layer + 1, position, n, ...) would
//!   write (bit for bit on a deterministic engine), and nothing else: no attention, no output
//!   projection, no MLP, so E[layer + 1] is never produced. Other layers are neither read nor
//!   written; the valid-position bookkeeping and the argument checks are run_layers' (an
//!   engine may refuse positions below `position` that do not hold KV yet, as the reference
//!   engine does, although nothing attends to them). n == 0 does nothing.
//!
//! Why: an interval [s, e] of a reuse plan discards the hidden state after e (the next layer
//! adopts the sender's KV or enters from the sender's E, the suffix enters from its own
//! embeddings), so layer e only has to produce K and V: its attention output and MLP are dead
//! work. The executors (prefill::partial_prefill and its drivers; full_prefill unless the
//! context's own logits are asked for) call it through run_layers_dead_tail() and fall back
//! to run_layers for engines without it, which keep working unchanged.
template <class E>
concept KvOnlyEngine =
    Engine<E> && requires(E& e, std::int64_t i, std::span<const float> const_hidden) {
      { e.run_layer_kv_only(i, i, i, const_hidden) } -> std::same_as<Status>;
    };

//! Runs layers [first, last) over the n tokens at `position` when the hidden state after
//! `last - 1` is dead (nothing reads it): every layer writes its K and V as run_layers does,
//! and the last one runs K/V-only when `E` models KvOnlyEngine (a full run_layers otherwise).
//! `hidden` `[n][H]` holds E[first] on entry and unspecified rows on return (E[last - 1]
//! with the K/V-only tail, E[last] without). `kv_only_used`, when given, is set to whether
//! the tail ran K/V-only. Contract and errors otherwise those of run_layers (no capture).
template <Engine E>
Status run_layers_dead_tail(E& e, std::int64_t first, std::int64_t last, std::int64_t position,
                            std::int64_t n, std::span<float> hidden, bool* kv_only_used = nullptr) {
  if (kv_only_used != nullptr) *kv_only_used = false;
  if constexpr (KvOnlyEngine<E>) {
    if (first < last) {
      DROIDSPEAK_TRY(e.run_layers(first, last - 1, position, n, hidden, nullptr));
      DROIDSPEAK_TRY(e.run_layer_kv_only(last - 1, position, n, std::span<const float>(hidden)));
      if (kv_only_used != nullptr) *kv_only_used = true;
      return Status::ok();
    }
  }
  return e.run_layers(first, last, position, n, hidden, nullptr);
}

//! True when `E` declares `static constexpr bool kDeterministicSpans = true`.
template <class E>
constexpr bool is_deterministic() {
  if constexpr (requires { E::kDeterministicSpans; }) {
    return static_cast<bool>(E::kDeterministicSpans);
  } else {
    return false;
  }
}

//! `E` seen without its K/V-only member: every layer of every call runs in full, as on an
//! engine that never had one. The baseline the K/V-only tail is measured against (paired,
//! profile::measure_cost_calibration and the command-line tool) and tested against (the
//! same bytes). Holds a pointer: the engine must outlive the view, and is used through it
//! only (one call at a time, as the engine's own contract says).
template <Engine E>
class FullLayers {
 public:
  static constexpr bool kDeterministicSpans = is_deterministic<E>();

  explicit FullLayers(E& engine) : e_(&engine) {}

  layout::ModelGeometry geometry() const { return e_->geometry(); }
  std::int64_t vocab_size() const { return e_->vocab_size(); }
  std::int64_t num_tokens() const { return e_->num_tokens(); }
  std::int64_t capacity() const { return e_->capacity(); }
  [[nodiscard]] Status reset() { return e_->reset(); }
  [[nodiscard]] Status reserve(std::int64_t n) { return e_->reserve(n); }
  [[nodiscard]] Status set_num_tokens(std::int64_t n) { return e_->set_num_tokens(n); }
  layout::KvView kv_cache() { return e_->kv_cache(); }
  [[nodiscard]] Status embed(std::span<const std::int32_t> tokens, std::span<float> hidden) {
    return e_->embed(tokens, hidden);
  }
  [[nodiscard]] Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                                  std::span<float> hidden, const layout::EView* capture) {
    return e_->run_layers(first, last, position, n, hidden, capture);
  }
  [[nodiscard]] Status logits(std::span<const float> hidden, std::span<float> out) {
    return e_->logits(hidden, out);
  }

 private:
  E* e_;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
