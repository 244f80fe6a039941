// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The compatibility record (plan/compatibility.hpp) of a Llama-family checkpoint.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/reference/weights.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! Geometry, vocabulary and RoPE from the config; fingerprints of the tensors as stored
//! (bytes, dtype and shape, visited in for_each_tensor's fixed order): every
//! `model.layers.<l>.*` tensor into layer l's, `model.embed_tokens` into the embedding's,
//! `model.norm` and `lm_head` into the head's. Two checkpoints holding bit-identical tensors
//! of a layer get the same layer fingerprint.
inline Result<plan::CompatibilityRecord> compatibility_record(const ModelWeights& w) {
  const io::HfConfig& c = w.config;
  plan::CompatibilityRecord r;
  r.architecture = c.architecture;
  r.geometry = c.geometry();
  DROIDSPEAK_TRY(r.geometry.validate());
  r.vocab_size = c.vocab_size;
  r.rms_norm_eps = static_cast<double>(c.rms_norm_eps);
  // Without llama3 scaling its parameters mean nothing: keep them at their defaults, so two
  // plain-RoPE models compare equal whatever else their configs say.
  r.rope = c.rope.llama3_scaling ? c.rope : layout::RopeSettings{.theta = c.rope.theta};
  r.layer_fingerprints.assign(static_cast<std::size_t>(c.num_layers), 0);
  auto absorb = [](std::uint64_t& fp, const Tensor& t) {
    std::uint64_t meta[8] = {static_cast<std::uint64_t>(t.dtype), t.shape.size()};
    for (std::size_t i = 0; i < t.shape.size() && i < 6; ++i) meta[2 + i] = static_cast<std::uint64_t>(t.shape[i]);
    fp = plan::fingerprint64(std::as_bytes(std::span(meta)), fp);
    fp = plan::fingerprint64(t.data, fp);
  };
  const std::string layer_prefix = "model.layers.";
  Status s = for_each_tensor(w, [&](const std::string& name, const Tensor& t, std::span<const std::int64_t>, bool) {
    if (!t.present()) return Status::ok();
    if (name.rfind(layer_prefix, 0) == 0) {
      const std::size_t dot = name.find('.', layer_prefix.size());
      const std::int64_t l = std::stoll(name.substr(layer_prefix.size(), dot - layer_prefix.size()));
      if (l < 0 || l >= c.num_layers) return Status::invalid_argument("compatibility record: tensor " + name + " of no layer");
      absorb(r.layer_fingerprints[static_cast<std::size_t>(l)], t);
    } else if (name.rfind("model.embed_tokens", 0) == 0) {
      absorb(r.embedding_fingerprint, t);
    } else {
      absorb(r.head_fingerprint, t);
    }
    return Status::ok();
  });
  if (!s) return s;
  return r;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
