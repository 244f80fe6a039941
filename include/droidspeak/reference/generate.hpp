// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Prefill and decoding helpers over any prefill::Engine: greedy or seeded sampling.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/decode.hpp"  // decode, argmax
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/reference/random_model.hpp"  // SplitMix64

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! How generate() picks tokens.
struct SamplingOptions {
  std::int64_t max_new_tokens = 16;
  float temperature = 0.0f;  //!< 0: greedy (argmax); > 0: softmax(logits / temperature)
  std::int64_t top_k = 0;    //!< > 0: sample among the k largest logits only
  std::uint64_t seed = 0;    //!< the sampler's SplitMix64 seed
  std::int32_t stop_token = -1;  //!< stop after emitting it; -1: never
};

//! Index of the largest logit, the lowest index on ties; -1 for an empty span.
using prefill::argmax;

//! A token drawn from softmax(logits / temperature) over the top_k largest (all when 0),
//! using one draw of `rng`; argmax when temperature <= 0. Deterministic given the rng state.
inline std::int32_t sample_token(std::span<const float> logits, float temperature,
                                 std::int64_t top_k, SplitMix64& rng) {
  if (temperature <= 0.0f || logits.size() <= 1) return argmax(logits);
  std::vector<std::int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::size_t k = ids.size();
  if (top_k > 0 && static_cast<std::size_t>(top_k) < k) {
    k = static_cast<std::size_t>(top_k);
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                      [&](std::int32_t a, std::int32_t b) {
                        return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)] ||
                               (logits[static_cast<std::size_t>(a)] == logits[static_cast<std::size_t>(b)] && a < b);
                      });
    ids.resize(k);
  }
  float m = -INFINITY;
  for (std::int32_t i : ids) m = std::max(m, logits[static_cast<std::size_t>(i)]);
  std::vector<double> p(k);
  double sum = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    p[j] = std::exp(static_cast<double>(logits[static_cast<std::size_t>(ids[j])] - m) / temperature);
    sum += p[j];
  }
  const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53 * sum;
  double acc = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    acc += p[j];
    if (u < acc) return ids[j];
  }
  return ids[k - 1];
}

//! Appends `tokens` to the engine's sequence at position num_tokens(), reserving as needed,
//! in chunks of `chunk` tokens (0: one chunk), through all layers; writes the logits of the
//! last token into `last_logits` [vocab_size] (untouched when `tokens` is empty).
template <prefill::Engine E>
Status prefill_tokens(E& engine, std::span<const std::int32_t> tokens, std::span<float> last_logits,
                      std::int64_t chunk = 0) {
  const std::int64_t h = engine.geometry().hidden_size, layers = engine.geometry().num_layers;
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  if (static_cast<std::int64_t>(last_logits.size()) != engine.vocab_size()) {
    return Status::invalid_argument("prefill_tokens: last_logits has " +
                                    std::to_string(last_logits.size()) + " elements, expected " +
                                    std::to_string(engine.vocab_size()));
  }
  if (n == 0) return Status::ok();
  const std::int64_t start = engine.num_tokens();
  if (engine.capacity() < start + n) DROIDSPEAK_TRY(engine.reserve(start + n));
  if (chunk <= 0) chunk = n;
  std::vector<float> hidden;
  for (std::int64_t b = 0; b < n; b += chunk) {
    const std::int64_t m = std::min(chunk, n - b);
    hidden.assign(static_cast<std::size_t>(m * h), 0.0f);
    DROIDSPEAK_TRY(engine.embed(tokens.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(m)), hidden));
    DROIDSPEAK_TRY(engine.run_layers(0, layers, start + b, m, hidden, nullptr));
  }
  const std::span<const float> last(hidden.data() + (hidden.size() - static_cast<std::size_t>(h)),
                                    static_cast<std::size_t>(h));
  return engine.logits(last, last_logits);
}

//! Continues the engine's sequence (num_tokens() tokens, whose last one produced
//! `last_logits` [vocab_size]) by up to max_new_tokens tokens, one position per step through
//! the cache, reserving as needed. Returns the new tokens (ending with stop_token when it was
//! emitted). What every decoding after a prefill (full, partial or streamed) shares.
template <prefill::Engine E>
Result<std::vector<std::int32_t>> continue_generation(E& engine, std::span<const float> last_logits,
                                                      const SamplingOptions& options = {}) {
  SplitMix64 rng(options.seed);
  return prefill::decode(engine, last_logits, options.max_new_tokens, options.stop_token,
                         [&](std::span<const float> logits) {
                           return sample_token(logits, options.temperature, options.top_k, rng);
                         });
}

//! Empties the engine, prefills `prompt` (non-empty) and decodes up to max_new_tokens tokens
//! (continue_generation). Returns the new tokens (ending with stop_token when it was emitted).
template <prefill::Engine E>
Result<std::vector<std::int32_t>> generate(E& engine, std::span<const std::int32_t> prompt,
                                           const SamplingOptions& options = {}) {
  if (prompt.empty()) return Status::invalid_argument("generate: empty prompt");
  if (options.max_new_tokens < 0) return Status::invalid_argument("generate: negative max_new_tokens");
  DROIDSPEAK_TRY(engine.reset());
  const std::int64_t n = static_cast<std::int64_t>(prompt.size());
  DROIDSPEAK_TRY(engine.reserve(n + options.max_new_tokens));
  std::vector<float> logits(static_cast<std::size_t>(engine.vocab_size()));
  DROIDSPEAK_TRY(prefill_tokens(engine, prompt, logits));
  return continue_generation(engine, logits, options);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
