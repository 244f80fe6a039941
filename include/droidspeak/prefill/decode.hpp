// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Decoding after a prefill over any Engine: the one token-by-token loop that greedy
//! answers (profile/) and sampled continuations (reference/generate.hpp) share.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/engine.hpp"

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! Index of the largest logit, the lowest index on ties; -1 for an empty span.
inline std::int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) return -1;
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

//! Continues the engine's sequence (num_tokens() tokens, whose last one produced
//! `last_logits` [vocab_size]) by up to `max_new_tokens` tokens, each chosen by
//! `pick(logits [vocab_size]) -> token id`, one position per step through the cache
//! (run_layers(0, L, position, 1)), reserving as needed. Stops after emitting `stop_token`
//! (-1: never). Returns the new tokens, ending with stop_token when it was emitted. Runs
//! L * (tokens returned - 1) layer-token passes: the last token is never run. Positions
//! [num_tokens(), num_tokens() + tokens returned - 1) of every layer are overwritten.
template <Engine E, class Pick>
  requires std::invocable<Pick&, std::span<const float>>
Result<std::vector<std::int32_t>> decode(E& engine, std::span<const float> last_logits, std::int64_t max_new_tokens,
                                         std::int32_t stop_token, Pick&& pick) {
  if (max_new_tokens < 0) return Status::invalid_argument("generate: negative max_new_tokens");
  if (static_cast<std::int64_t>(last_logits.size()) != engine.vocab_size()) {
    return Status::invalid_argument("generate: last_logits has " + std::to_string(last_logits.size()) +
                                    " elements, expected " + std::to_string(engine.vocab_size()));
  }
  const std::int64_t n = engine.num_tokens();
  if (engine.capacity() < n + max_new_tokens) DROIDSPEAK_TRY(engine.reserve(n + max_new_tokens));
  std::vector<float> logits(last_logits.begin(), last_logits.end());
  std::vector<std::int32_t> out;
  const std::int64_t h = engine.geometry().hidden_size, layers = engine.geometry().num_layers;
  std::vector<float> hidden(static_cast<std::size_t>(h));
  for (std::int64_t step = 0; step < max_new_tokens; ++step) {
    const std::int32_t t = pick(std::span<const float>(logits));
    out.push_back(t);
    if (t == stop_token || step + 1 == max_new_tokens) break;
    DROIDSPEAK_TRY(engine.embed(std::span<const std::int32_t>(&t, 1), hidden));
    DROIDSPEAK_TRY(engine.run_layers(0, layers, n + step, 1, hidden, nullptr));
    DROIDSPEAK_TRY(engine.logits(hidden, logits));
  }
  return out;
}

//! decode() choosing the argmax every step: the greedy answer.
template <Engine E>
Result<std::vector<std::int32_t>> decode_greedy(E& engine, std::span<const float> last_logits,
                                                std::int64_t max_new_tokens, std::int32_t stop_token = -1) {
  return decode(engine, last_logits, max_new_tokens, stop_token, [](std::span<const float> l) { return argmax(l); });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
