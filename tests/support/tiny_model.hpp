// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The one factory of small Llama configs for tests and benchmarks: every test model
//! (and the benchmarks' shapes) is a `tiny_config` with its own sizes, filled with random
//! weights by reference::make_random_model.
#pragma once

#include "droidspeak/io/hf_config.hpp"

#include <cstdint>

namespace droidspeak::test {

//! The sizes of a Llama-family test model. The defaults are a 4-layer, hidden-64 model with
//! grouped-query attention (4 query heads over 2 KV heads of head_dim 16).
struct TinyShape {
  std::int64_t layers = 4;
  std::int64_t hidden = 64;
  std::int64_t q_heads = 4;
  std::int64_t kv_heads = 2;
  std::int64_t head_dim = 16;
  std::int64_t intermediate = 96;
  std::int64_t vocab = 50;
  //! 0 leaves max_position_embeddings unset (the engine then accepts any length).
  std::int64_t max_positions = 4096;
};

//! A LlamaForCausalLM config of `s`'s sizes, RMSNorm eps 1e-5, plain RoPE with theta 10000,
//! no biases, untied embeddings.
inline io::HfConfig tiny_config(const TinyShape& s = {}) {
  io::HfConfig c{};
  c.architecture = "LlamaForCausalLM";
  c.num_layers = s.layers;
  c.hidden_size = s.hidden;
  c.num_q_heads = s.q_heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.intermediate_size = s.intermediate;
  c.vocab_size = s.vocab;
  c.max_position_embeddings = s.max_positions;
  c.rms_norm_eps = 1e-5f;
  c.rope.theta = 10000.0;
  return c;
}

}  // namespace droidspeak::test
