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
//! first > 0 and can only adopt KV. The engine-hooks note's stream-ordered variant, per-layer
//! hooks, K/V-only tails and rope shifting are later refinements of this synchronous concept.
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

//! True when `E` declares `static constexpr bool kDeterministicSpans = true`.
template <class E>
constexpr bool is_deterministic() {
  if constexpr (requires { E::kDeterministicSpans; }) {
    return static_cast<bool>(E::kDeterministicSpans);
  } else {
    return false;
  }
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
