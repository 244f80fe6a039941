// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Seconds-fast, in-process random-weight models and perturbed copies of them, so
//! tests of model pairs need no files.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/reference/weights.hpp"

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! splitmix64: a tiny, portable generator (the same numbers on every platform and compiler).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  //! Uniform in [0, 1), 24 random bits (exact in f32).
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  //! Uniform in [-1, 1).
  float symmetric() { return 2.0f * uniform() - 1.0f; }

 private:
  std::uint64_t state_;
};

namespace detail {
// A different stream per (seed, tensor index), so perturbing one tensor never shifts another.
inline std::uint64_t tensor_seed(std::uint64_t seed, std::uint64_t index) {
  SplitMix64 g(seed ^ (0xD1B54A32D192ED03ull * (index + 1)));
  return g.next();
}
}  // namespace detail

//! A model with random weights for `config` (validated), stored in `dtype` (f32, f16, bf16).
//! Matrices are uniform with unit output variance for unit-variance inputs (bound
//! sqrt(3 / in_features)), the embedding (and LM head) uniform with unit variance, norm
//! weights 1 + U(-0.1, 0.1), biases U(-0.1, 0.1). Deterministic in (config, seed, dtype).
inline Result<ModelWeights> make_random_model(const io::HfConfig& config, std::uint64_t seed,
                                               DType dtype = DType::kF32) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    return Status::not_supported("make_random_model: dtype " + std::string(to_string(dtype)) +
                                 " is not f32, f16 or bf16");
  }
  Result<ModelWeights> r = ModelWeights::for_config(config);
  if (!r) return r.status();
  ModelWeights& w = r.value();
  std::uint64_t index = 0;
  DROIDSPEAK_TRY(for_each_tensor(w, [&](const std::string& name, Tensor& t,
                                        std::span<const std::int64_t> shape, bool required) {
    const std::uint64_t my_index = index++;
    if (!required) return Status::ok();
    t = Tensor::zeros(dtype, std::vector<std::int64_t>(shape.begin(), shape.end()));
    SplitMix64 g(detail::tensor_seed(seed, my_index));
    const bool is_norm = name.ends_with("norm.weight");
    const bool is_bias = name.ends_with(".bias");
    const bool is_table = name == "model.embed_tokens.weight" || name == "lm_head.weight";
    const float bound = is_table ? std::sqrt(3.0f)
                        : shape.size() == 2 ? std::sqrt(3.0f / static_cast<float>(shape[1]))
                                            : 0.1f;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const float u = g.symmetric();
      t.set(i, is_norm ? 1.0f + 0.1f * u : (is_bias ? 0.1f * u : bound * u));
    }
    return Status::ok();
  }));
  return r;
}

//! A copy of `model` with every tensor of `layers` (and, with `embedding`, the token embedding
//! and LM head) perturbed: w += scale * rms(w) * U(-sqrt 3, sqrt 3), rounded to the tensor's
//! dtype; so `scale` is the relative size of the change. Other tensors are bit-identical.
//! @return the copy, or out_of_range when `layers` names a layer the model lacks.
inline Result<ModelWeights> perturb_layers(const ModelWeights& model, const layout::LayerSet& layers,
                                           float scale, std::uint64_t seed, bool embedding = false) {
  const std::int64_t num_layers = static_cast<std::int64_t>(model.layers.size());
  if (layers.end_bound() > num_layers) {
    return Status::out_of_range("perturb_layers: layers " + layers.to_string() +
                                " go beyond the model's " + std::to_string(num_layers) + " layers");
  }
  ModelWeights out = model;
  std::uint64_t index = 0;
  DROIDSPEAK_TRY(for_each_tensor(out, [&](const std::string& name, Tensor& t,
                                          std::span<const std::int64_t>, bool) {
    const std::uint64_t my_index = index++;
    if (!t.present()) return Status::ok();
    bool selected = false;
    if (name.starts_with("model.layers.")) {
      const std::int64_t l = std::stoll(name.substr(13));
      selected = layers.contains(l);
    } else if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
      selected = embedding;
    }
    if (!selected) return Status::ok();
    double ss = 0.0;
    for (std::int64_t i = 0; i < t.numel(); ++i) ss += static_cast<double>(t.get(i)) * t.get(i);
    const float rms = t.numel() ? static_cast<float>(std::sqrt(ss / static_cast<double>(t.numel()))) : 0.0f;
    SplitMix64 g(detail::tensor_seed(seed, my_index));
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      t.set(i, t.get(i) + scale * rms * std::sqrt(3.0f) * g.symmetric());
    }
    return Status::ok();
  }));
  return out;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
