// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Loading a HuggingFace checkpoint directory (config.json + model.safetensors or its
//! sharded index) into `reference::ModelWeights`.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/checkpoint.hpp"     // io::open_checkpoint, io::Checkpoint
#include "droidspeak/layout/finite.hpp"     // layout::first_non_finite
#include "droidspeak/reference/weights.hpp"  // ModelWeights, for_each_tensor

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! Copies every tensor the config asks for out of an opened checkpoint, in its stored dtype
//! (f32, f16 or bf16; dtypes may differ between tensors).
//!
//! Tensors the config leaves unused are ignored as HF does: `lm_head.weight` when
//! `tie_word_embeddings`, q/k/v biases without `attention_bias`, and any other name the
//! model does not have (e.g. `rotary_emb.inv_freq` buffers). Biases the engine has no slot
//! for (o_proj, MLP) are refused rather than silently dropped.
//! @return the weights, validated; or kErrorIo naming the checkpoint's file and the tensor
//!   for a missing tensor, a shape that does not match the config, or a NaN or infinity in
//!   its values (every element is checked, once, as it is copied); kErrorNotSupported for
//!   another dtype or an unsupported bias.
inline Result<ModelWeights> load_weights(const io::Checkpoint& checkpoint) {
  Result<ModelWeights> w = ModelWeights::for_config(checkpoint.config);
  if (!w) return w.status().with_context((checkpoint.dir / "config.json").string());
  const std::string source = checkpoint.tensors.source();

  for (std::string_view name : checkpoint.names()) {
    const bool layer_bias = name.starts_with("model.layers.") && name.ends_with(".bias");
    const bool qkv_bias = name.ends_with("q_proj.bias") || name.ends_with("k_proj.bias") ||
                          name.ends_with("v_proj.bias");
    if (layer_bias && !qkv_bias) {
      return Status::not_supported(source + ": tensor \"" + std::string(name) +
                                   "\": the reference engine has no bias there (only q/k/v "
                                   "projection biases are supported)");
    }
  }

  DROIDSPEAK_TRY(for_each_tensor(
      *w, [&](const std::string& name, Tensor& slot, std::span<const std::int64_t> shape,
              bool required) -> Status {
        if (!required) return Status::ok();
        if (!checkpoint.contains(name)) {
          return Status::io_error(source + ": tensor \"" + name + "\" is missing (" +
                                  checkpoint.config.architecture + " with this config needs it)");
        }
        Result<io::TensorView> t = checkpoint.tensor(name);
        if (!t) return t.status();
        if (!std::equal(t->shape.begin(), t->shape.end(), shape.begin(), shape.end())) {
          return Status::io_error(source + ": tensor \"" + name + "\" has shape " +
                                  ModelWeights::shape_string(t->shape) + ", the config needs " +
                                  ModelWeights::shape_string(shape));
        }
        slot.dtype = t->dtype;
        slot.shape = t->shape;
        slot.data.assign(t->data.begin(), t->data.end());
        // A NaN or infinity in a weight spreads to every logit it touches, and the engine's
        // softmax cannot tell it from a real score: refuse it here, where it can be named.
        Result<std::int64_t> bad = layout::first_non_finite(slot.data.data(), slot.dtype, slot.numel());
        if (!bad) return bad.status().with_context(source + ": tensor \"" + name + "\"");
        if (*bad >= 0) {
          return Status::io_error(source + ": tensor \"" + name + "\" holds a non-finite value (" +
                                  std::to_string(slot.get(*bad)) + ") at element " +
                                  std::to_string(*bad) + " of " + std::to_string(slot.numel()));
        }
        return Status::ok();
      }));
  DROIDSPEAK_TRY(w->validate().with_context(source));
  return w;
}

//! Opens a checkpoint directory (see io::open_checkpoint) and loads its weights (see
//! load_weights). The files are unmapped when this returns; the weights own their data.
inline Result<ModelWeights> load_hf_model(const std::filesystem::path& dir) {
  Result<io::Checkpoint> c = io::open_checkpoint(dir);
  if (!c) return c.status();
  return load_weights(*c);
}

//! Writes weights as a HF checkpoint directory: `config.json` (io::write_hf_config) and one
//! `model.safetensors` holding every present tensor under its HF name, in its own dtype.
//! `load_hf_model(dir)` gives back equal weights. Creates `dir` when needed.
//! @return the status of weights.validate(), or kErrorIo naming the file that failed.
inline Status save_hf_model(const std::filesystem::path& dir, const ModelWeights& weights) {
  DROIDSPEAK_TRY(weights.validate());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error(dir.string() + ": cannot create the directory: " + ec.message());
  DROIDSPEAK_TRY(io::write_hf_config(dir / "config.json", weights.config));
  std::vector<std::pair<std::string, const Tensor*>> present;
  DROIDSPEAK_TRY(for_each_tensor(weights, [&](const std::string& name, const Tensor& t,
                                              std::span<const std::int64_t>, bool) {
    if (t.present()) present.emplace_back(name, &t);
    return Status::ok();
  }));
  std::vector<io::TensorView> views;
  views.reserve(present.size());
  for (const auto& [name, t] : present) views.push_back({name, t->dtype, t->shape, t->data});
  return io::write_safetensors(dir / "model.safetensors", std::span<const io::TensorView>(views));
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
