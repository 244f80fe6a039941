// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `cuda::DeviceEngine`: prefill::Engine made stream-ordered, for engines whose hidden
//! rows and KV cache live in device memory. The CUDA prefill driver (cuda/stream_prefill.hpp)
//! enqueues a whole partial prefill through it without synchronising the host. No CUDA header
//! is needed: streams are passed as the runtime's opaque `CUstream_st*` (= cudaStream_t).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/geometry.hpp"  // ModelGeometry
#include "droidspeak/layout/view.hpp"      // KvView

#include <concepts>
#include <cstdint>
#include <span>

struct CUstream_st;  // cudaStream_t is CUstream_st*; see cuda/layout.hpp

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

//! One sequence of a decoder-only model on a CUDA device, driven layer by layer.
//!
//! Terms and host-side members are those of prefill::Engine (geometry, vocab_size, reset,
//! reserve, capacity, num_tokens, set_num_tokens); the differences:
//! - Host-side members may allocate and synchronise (reserve allocates pages and scratch);
//!   callers run them before enqueueing work, never inside a stream capture.
//! - `e.kv_cache()` -> layout::KvView of the whole cache in DEVICE memory (index arrays such as
//!   a block table included), valid until the next reserve(). The library adopts a sender's KV
//!   into it with cuda::copy_kv on any stream it orders against the engine's work.
//! - `e.embed(tokens, hidden, stream)` -> Status: enqueues hidden `[tokens.size()][H]` :=
//!   E[0] of the tokens. `tokens` int32 and `hidden` f32 are device memory. Tokens are not
//!   read on the host, so they are not checked: a token outside [0, V) gives an engine-defined
//!   row (the toy engine writes zeros), never an out-of-bounds read.
//! - `e.run_layers(first, last, position, n, hidden, stream)` -> Status: enqueues layers
//!   [first, last) for the n tokens at [position, position + n), `hidden` `[n][H]` f32 device
//!   memory holding E[first] on entry and E[last] once the stream reaches that point; the
//!   argument checks and the causal-attention contract are prefill::Engine's. No E capture: a
//!   sender captures E by running ranges and copying `hidden` between them.
//! - `e.logits(hidden, out, stream)` -> Status: enqueues out `[m][V]` := LM head(final
//!   norm(hidden `[m][H]`)), both device memory.
//! - embed, run_layers and logits only enqueue: no host synchronisation, no allocation, no
//!   host-to-device copy, so a caller may capture them in a CUDA graph. A failed launch
//!   returns Status::cuda_error; faults inside a kernel surface at the next synchronisation.
//! - Work is ordered only by `stream`: the engine must not use other streams internally
//!   without joining them back into `stream` (events), or the driver's ordering breaks.
//!
//! Determinism: as prefill::Engine, `static constexpr bool kDeterministicSpans = true`
//! promises bit-identical results however the layer range is split (same token count per
//! call); prefill::is_deterministic<E>() reads it.
template <class E>
concept DeviceEngine =
    requires(E& e, const E& ce, std::int64_t i, std::span<const std::int32_t> tokens,
             std::span<float> hidden, std::span<const float> const_hidden, CUstream_st* stream) {
      { ce.geometry() } -> std::convertible_to<layout::ModelGeometry>;
      { ce.vocab_size() } -> std::convertible_to<std::int64_t>;
      { ce.num_tokens() } -> std::convertible_to<std::int64_t>;
      { ce.capacity() } -> std::convertible_to<std::int64_t>;
      { e.reset() } -> std::same_as<Status>;
      { e.reserve(i) } -> std::same_as<Status>;
      { e.set_num_tokens(i) } -> std::same_as<Status>;
      { e.kv_cache() } -> std::same_as<layout::KvView>;
      { e.embed(tokens, hidden, stream) } -> std::same_as<Status>;
      { e.run_layers(i, i, i, i, hidden, stream) } -> std::same_as<Status>;
      { e.logits(const_hidden, hidden, stream) } -> std::same_as<Status>;
    };

//! A DeviceEngine with the optional K/V-only member, prefill::KvOnlyEngine's made
//! stream-ordered: `e.run_layer_kv_only(layer, position, n, hidden, stream)` -> Status
//! enqueues layer `layer`'s K (after RoPE) and V for the n tokens at [position, position + n)
//! into the cache from E[layer] in `hidden` `[n][H]` f32 device memory (read only), the same
//! values run_layers(layer, layer + 1, ...) writes, with no attention, output projection or
//! MLP. Only enqueues, as run_layers. cuda::StreamPrefill runs each recomputed interval's
//! last layer through it; engines without it run that layer in full.
template <class E>
concept KvOnlyDeviceEngine =
    DeviceEngine<E> && requires(E& e, std::int64_t i, std::span<const float> const_hidden, CUstream_st* stream) {
      { e.run_layer_kv_only(i, i, i, const_hidden, stream) } -> std::same_as<Status>;
    };

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
