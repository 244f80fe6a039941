// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The compatibility record of a model (geometry, RoPE, vocabulary, per-layer weight
//! fingerprints) and the comparison that says whether a sender/receiver pair may share KV
//! and which of its layers are bit-identical.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/rope.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! A 64-bit fingerprint of bytes, deterministic across platforms: 8-byte little-endian
//! words mixed with a multiply-xorshift (the last partial word zero-padded, the length
//! mixed in). Not cryptographic: it tells identical tensors from different ones.
inline std::uint64_t fingerprint64(std::span<const std::byte> bytes, std::uint64_t seed = 0) {
  auto mix = [](std::uint64_t h, std::uint64_t w) {
    h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
  };
  std::uint64_t h = seed ^ 0x94D049BB133111EBull;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w = 0;
    for (int b = 0; b < 8; ++b) w |= static_cast<std::uint64_t>(bytes[i + b]) << (8 * b);
    h = mix(h, w);
  }
  std::uint64_t tail = 0;
  for (std::size_t b = 0; b < 8 && i + b < bytes.size(); ++b) {
    tail |= static_cast<std::uint64_t>(bytes[i + b]) << (8 * b);
  }
  h = mix(h, tail);
  return mix(h, static_cast<std::uint64_t>(bytes.size()));
}

//! Rotary embedding settings; K is cached after RoPE, so sender and receiver must agree.
using RopeSettings = layout::RopeSettings;

//! What a model must share with another for their KV caches to be interchangeable, plus
//! fingerprints that find the layers the two have in common.
struct CompatibilityRecord {
  //! e.g. "LlamaForCausalLM". Not compared between sender and receiver (a pair may differ),
  //! but a plan file's record must match its model's (plan/plan_file.hpp).
  std::string architecture;
  layout::ModelGeometry geometry;
  //! The RMSNorm epsilon. Like the weights it may differ within a pair, and a plan profiled
  //! for one value does not hold for another.
  double rms_norm_eps = 0.0;
  std::int64_t vocab_size = 0;
  RopeSettings rope;
  std::uint64_t embedding_fingerprint = 0;           //!< token embedding table
  std::vector<std::uint64_t> layer_fingerprints;     //!< [num_layers], all tensors of a layer
  std::uint64_t head_fingerprint = 0;                //!< final norm and LM head

  friend bool operator==(const CompatibilityRecord&, const CompatibilityRecord&) = default;
};

//! What a compatible pair has in common.
struct PairCompatibility {
  bool embeddings_identical = false;
  layout::LayerSet identical_layers;        //!< layers whose weights are bit-identical
  std::int64_t identical_prefix = 0;        //!< layers [0, identical_prefix) are identical
  //! Layers whose KV the receiver can reuse with no error at all: KV of layer l depends on
  //! the embeddings and layers 0..l, so this is [0, identical_prefix) when the embeddings
  //! match, else nothing.
  layout::LayerSet exact_reuse_layers() const {
    return embeddings_identical ? layout::LayerSet::range(0, identical_prefix) : layout::LayerSet{};
  }
};

namespace detail {
inline std::string show(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
}  // namespace detail

//! Compares two records. Fails with kErrorInvalidArgument naming the first mismatch that
//! makes KV reuse meaningless ("num_kv_heads 8 vs 4", "rope_theta 10000 vs 500000", ...);
//! otherwise reports the identical parts. The sender is the first argument.
inline Result<PairCompatibility> check_compatibility(const CompatibilityRecord& sender,
                                                     const CompatibilityRecord& receiver) {
  const layout::ModelGeometry& s = sender.geometry;
  const layout::ModelGeometry& r = receiver.geometry;
  auto mismatch = [](const char* what, const std::string& a, const std::string& b) {
    return Status::invalid_argument(std::string("incompatible models: ") + what + " " + a +
                                    " vs " + b + " (sender vs receiver)");
  };
  auto i2s = [](std::int64_t v) { return std::to_string(v); };
  if (s.num_layers != r.num_layers) return mismatch("num_layers", i2s(s.num_layers), i2s(r.num_layers));
  if (s.hidden_size != r.hidden_size) return mismatch("hidden_size", i2s(s.hidden_size), i2s(r.hidden_size));
  if (s.num_q_heads != r.num_q_heads) return mismatch("num_q_heads", i2s(s.num_q_heads), i2s(r.num_q_heads));
  if (s.num_kv_heads != r.num_kv_heads) return mismatch("num_kv_heads", i2s(s.num_kv_heads), i2s(r.num_kv_heads));
  if (s.head_dim != r.head_dim) return mismatch("head_dim", i2s(s.head_dim), i2s(r.head_dim));
  if (sender.vocab_size != receiver.vocab_size) {
    return mismatch("vocab_size", i2s(sender.vocab_size), i2s(receiver.vocab_size));
  }
  const RopeSettings& a = sender.rope;
  const RopeSettings& b = receiver.rope;
  if (a.theta != b.theta) return mismatch("rope_theta", detail::show(a.theta), detail::show(b.theta));
  if (a.llama3_scaling != b.llama3_scaling) {
    return mismatch("rope_scaling", a.llama3_scaling ? "llama3" : "none", b.llama3_scaling ? "llama3" : "none");
  }
  if (a.llama3_scaling && !(a == b)) {
    return mismatch("llama3 rope_scaling parameters", "(factor " + detail::show(a.factor) + ")",
                    "(factor " + detail::show(b.factor) + ")");
  }
  if (static_cast<std::int64_t>(sender.layer_fingerprints.size()) != s.num_layers ||
      static_cast<std::int64_t>(receiver.layer_fingerprints.size()) != r.num_layers) {
    return Status::invalid_argument("compatibility record: layer_fingerprints must have one entry per layer");
  }
  PairCompatibility out;
  out.embeddings_identical = sender.embedding_fingerprint == receiver.embedding_fingerprint;
  bool prefix = true;
  for (std::int64_t l = 0; l < s.num_layers; ++l) {
    const bool same = sender.layer_fingerprints[static_cast<std::size_t>(l)] ==
                      receiver.layer_fingerprints[static_cast<std::size_t>(l)];
    if (same) out.identical_layers.insert(l);
    prefix = prefix && same;
    if (prefix) out.identical_prefix = l + 1;
  }
  return out;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
