// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `ModelWeights`: the tensors of a Llama-family checkpoint (Llama, Mistral, Qwen2) as
//! loaded, with their HF names and expected shapes; the reference engine is built from it.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/hf_config.hpp"     // io::HfConfig
#include "droidspeak/layout/geometry.hpp"  // ModelGeometry

#include <algorithm>  // std::equal
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>  // std::memcpy
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! An owning, row-major host tensor in the dtype it was stored in (f32, f16 or bf16).
//! A tensor with an empty `shape` is absent (an optional tensor a checkpoint lacks).
struct Tensor {
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;  //!< outermost first, e.g. {out_features, in_features}
  std::vector<std::byte> data;      //!< numel() * dtype_size(dtype) bytes

  //! A tensor of `shape` filled with zeros.
  static Tensor zeros(DType dtype, std::vector<std::int64_t> shape) {
    Tensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data.assign(static_cast<std::size_t>(t.numel() * dtype_size(dtype)), std::byte{0});
    return t;
  }

  bool present() const noexcept { return !shape.empty(); }
  //! Product of the extents; 0 when absent.
  std::int64_t numel() const noexcept {
    if (shape.empty()) return 0;
    std::int64_t n = 1;
    for (std::int64_t e : shape) n *= e;
    return n;
  }
  //! Element `i` (flat, row-major) as f32. Precondition: 0 <= i < numel(), dtype f32/f16/bf16.
  float get(std::int64_t i) const noexcept {
    const std::byte* p = data.data() + i * dtype_size(dtype);
    switch (dtype) {
      case DType::kF16: {
        std::uint16_t b;
        std::memcpy(&b, p, 2);
        return to_float(Half{b});
      }
      case DType::kBF16: {
        std::uint16_t b;
        std::memcpy(&b, p, 2);
        return to_float(BFloat16{b});
      }
      default: {
        float f;
        std::memcpy(&f, p, 4);
        return f;
      }
    }
  }
  //! Stores `v` at element `i`, rounded to nearest even for f16/bf16.
  void set(std::int64_t i, float v) noexcept {
    std::byte* p = data.data() + i * dtype_size(dtype);
    switch (dtype) {
      case DType::kF16: {
        const std::uint16_t b = to_half(v).bits;
        std::memcpy(p, &b, 2);
        break;
      }
      case DType::kBF16: {
        const std::uint16_t b = to_bfloat16(v).bits;
        std::memcpy(p, &b, 2);
        break;
      }
      default: std::memcpy(p, &v, 4); break;
    }
  }
  //! All elements as f32 (exact: every supported dtype widens exactly).
  std::vector<float> to_f32() const {
    std::vector<float> out(static_cast<std::size_t>(numel()));
    for (std::int64_t i = 0; i < numel(); ++i) out[static_cast<std::size_t>(i)] = get(i);
    return out;
  }
};

//! One decoder layer, HF `model.layers.<l>.*` (nn.Linear weights are [out_features][in_features]).
//! Q = num_q_heads * head_dim, K = num_kv_heads * head_dim, I = intermediate_size, H = hidden.
struct LayerWeights {
  Tensor input_layernorm;           //!< `input_layernorm.weight` [H]
  Tensor q_proj;                    //!< `self_attn.q_proj.weight` [Q][H]
  Tensor k_proj;                    //!< `self_attn.k_proj.weight` [K][H]
  Tensor v_proj;                    //!< `self_attn.v_proj.weight` [K][H]
  Tensor q_bias;                    //!< `self_attn.q_proj.bias` [Q], only with attention_bias
  Tensor k_bias;                    //!< `self_attn.k_proj.bias` [K], only with attention_bias
  Tensor v_bias;                    //!< `self_attn.v_proj.bias` [K], only with attention_bias
  Tensor o_proj;                    //!< `self_attn.o_proj.weight` [H][Q]
  Tensor post_attention_layernorm;  //!< `post_attention_layernorm.weight` [H]
  Tensor gate_proj;                 //!< `mlp.gate_proj.weight` [I][H]
  Tensor up_proj;                   //!< `mlp.up_proj.weight` [I][H]
  Tensor down_proj;                 //!< `mlp.down_proj.weight` [H][I]
};

//! A whole Llama-family model: its config and every tensor, as loaded.
//!
//! How to fill it (the HF loader, make_random_model): `ModelWeights::for_config(cfg)` sizes
//! `layers`, then `for_each_tensor(w, f)` visits every tensor slot with its HF name and
//! expected shape; validate() checks the result. `lm_head` is absent when
//! `config.tie_word_embeddings` (the engine then uses `embed_tokens`); the q/k/v biases are
//! present exactly when `config.attention_bias` (Qwen2). Mixed dtypes across tensors are fine.
struct ModelWeights {
  io::HfConfig config{};
  Tensor embed_tokens;  //!< `model.embed_tokens.weight` [vocab][H]
  std::vector<LayerWeights> layers;
  Tensor norm;     //!< `model.norm.weight` [H]
  Tensor lm_head;  //!< `lm_head.weight` [vocab][H], absent when tied

  //! Checks `cfg` can describe a model the reference engine runs, and returns empty weights
  //! with `layers.size() == cfg.num_layers`.
  static Result<ModelWeights> for_config(const io::HfConfig& cfg) {
    DROIDSPEAK_TRY(validate_config(cfg));
    ModelWeights w;
    w.config = cfg;
    w.layers.resize(static_cast<std::size_t>(cfg.num_layers));
    return w;
  }

  //! Positive sizes, a valid geometry (num_q_heads a multiple of num_kv_heads), eps > 0,
  //! rope_theta > 0 and sane llama3 scaling factors.
  static Status validate_config(const io::HfConfig& cfg) {
    DROIDSPEAK_TRY(geometry_of(cfg).validate().with_context("model config"));
    if (cfg.intermediate_size <= 0 || cfg.vocab_size <= 0) {
      return Status::invalid_argument("model config: intermediate_size and vocab_size must be "
                                      "positive, got " + std::to_string(cfg.intermediate_size) +
                                      " and " + std::to_string(cfg.vocab_size));
    }
    if (!(cfg.rms_norm_eps > 0.0f) || !(cfg.rope.theta > 0.0)) {
      return Status::invalid_argument("model config: rms_norm_eps and rope_theta must be positive");
    }
    if (cfg.head_dim % 2 != 0) {
      return Status::not_supported("model config: rotary embeddings need an even head_dim, got " +
                                   std::to_string(cfg.head_dim));
    }
    if (cfg.rope.llama3_scaling &&
        (!(cfg.rope.factor > 0.0) || !(cfg.rope.high_freq_factor > cfg.rope.low_freq_factor) ||
         !(cfg.rope.low_freq_factor > 0.0) || cfg.rope.original_max_position_embeddings <= 0)) {
      return Status::invalid_argument(
          "model config: llama3 rope_scaling needs factor > 0, 0 < low_freq_factor < "
          "high_freq_factor and original_max_position_embeddings > 0");
    }
    return Status::ok();
  }

  //! The cache-relevant shape of a config.
  static layout::ModelGeometry geometry_of(const io::HfConfig& cfg) {
    return {cfg.num_layers, cfg.hidden_size, cfg.num_q_heads, cfg.num_kv_heads, cfg.head_dim};
  }
  layout::ModelGeometry geometry() const { return geometry_of(config); }

  //! Every required tensor present with its expected shape and dtype f32/f16/bf16, and no
  //! tensor present that the config says is absent. Names the first offending tensor.
  Status validate() const {
    DROIDSPEAK_TRY(validate_config(config));
    if (static_cast<std::int64_t>(layers.size()) != config.num_layers) {
      return Status::invalid_argument("model weights: " + std::to_string(layers.size()) +
                                      " layers but the config has " +
                                      std::to_string(config.num_layers));
    }
    return for_each_tensor(*this, [](const std::string& name, const Tensor& t,
                                     std::span<const std::int64_t> shape, bool required) {
      if (!required) {
        if (t.present()) {
          return Status::invalid_argument("model weights: " + name +
                                          " is present but the config says it is not used");
        }
        return Status::ok();
      }
      if (!t.present()) return Status::invalid_argument("model weights: " + name + " is missing");
      if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) {
        return Status::not_supported("model weights: " + name + " has dtype " +
                                     std::string(to_string(t.dtype)) +
                                     "; expected f32, f16 or bf16");
      }
      if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end())) {
        return Status::invalid_argument("model weights: " + name + " has shape " +
                                        shape_string(t.shape) + ", expected " +
                                        shape_string(shape));
      }
      if (static_cast<std::int64_t>(t.data.size()) != t.numel() * dtype_size(t.dtype)) {
        return Status::invalid_argument("model weights: " + name + " holds " +
                                        std::to_string(t.data.size()) + " bytes, expected " +
                                        std::to_string(t.numel() * dtype_size(t.dtype)));
      }
      return Status::ok();
    });
  }

  //! "[192, 512]".
  static std::string shape_string(std::span<const std::int64_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
      if (i) s += ", ";
      s += std::to_string(shape[i]);
    }
    return s + "]";
  }

  //! Visits every tensor slot of `w` (ModelWeights or const ModelWeights) in HF checkpoint
  //! order: `f(const std::string& hf_name, Tensor& slot, std::span<const std::int64_t>
  //! expected_shape, bool required) -> Status`. `required` is false for the slots the config
  //! leaves unused (lm_head when tied, biases without attention_bias): they must stay absent.
  //! Stops at and returns the first failing status. Layers visited: w.layers.size().
  template <class W, class F>
    requires std::same_as<std::remove_const_t<W>, ModelWeights>
  friend Status for_each_tensor(W& w, F&& f) {
    const io::HfConfig& c = w.config;
    const std::int64_t h = c.hidden_size, q = c.num_q_heads * c.head_dim,
                       k = c.num_kv_heads * c.head_dim, in = c.intermediate_size,
                       v = c.vocab_size;
    const bool bias = c.attention_bias;
    DROIDSPEAK_TRY(f(std::string("model.embed_tokens.weight"), w.embed_tokens,
                     std::span<const std::int64_t>(std::vector<std::int64_t>{v, h}), true));
    for (std::size_t l = 0; l < w.layers.size(); ++l) {
      auto& L = w.layers[l];
      const std::string p = "model.layers." + std::to_string(l) + ".";
      struct Slot {
        const char* name;
        std::conditional_t<std::is_const_v<W>, const Tensor, Tensor>& t;
        std::vector<std::int64_t> shape;
        bool required;
      };
      const Slot slots[] = {
          {"input_layernorm.weight", L.input_layernorm, {h}, true},
          {"self_attn.q_proj.weight", L.q_proj, {q, h}, true},
          {"self_attn.q_proj.bias", L.q_bias, {q}, bias},
          {"self_attn.k_proj.weight", L.k_proj, {k, h}, true},
          {"self_attn.k_proj.bias", L.k_bias, {k}, bias},
          {"self_attn.v_proj.weight", L.v_proj, {k, h}, true},
          {"self_attn.v_proj.bias", L.v_bias, {k}, bias},
          {"self_attn.o_proj.weight", L.o_proj, {h, q}, true},
          {"post_attention_layernorm.weight", L.post_attention_layernorm, {h}, true},
          {"mlp.gate_proj.weight", L.gate_proj, {in, h}, true},
          {"mlp.up_proj.weight", L.up_proj, {in, h}, true},
          {"mlp.down_proj.weight", L.down_proj, {h, in}, true},
      };
      for (const Slot& s : slots) {
        DROIDSPEAK_TRY(f(p + s.name, s.t, std::span<const std::int64_t>(s.shape), s.required));
      }
    }
    DROIDSPEAK_TRY(f(std::string("model.norm.weight"), w.norm,
                     std::span<const std::int64_t>(std::vector<std::int64_t>{h}), true));
    return f(std::string("lm_head.weight"), w.lm_head,
             std::span<const std::int64_t>(std::vector<std::int64_t>{v, h}),
             !c.tie_word_embeddings);
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
