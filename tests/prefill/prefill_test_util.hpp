// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Helpers of the prefill driver tests: a small sender/receiver pair on the reference
//! engine (the shared small model of tests/reference) and byte-exact cache comparison.
#pragma once

#include "droidspeak/layout/copy.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace droidspeak::test {

//! A receiver fine-tuned from the sender: every layer and the embeddings perturbed, so
//! reused and recomputed layers give different bytes and equality is not vacuous.
inline reference::ModelWeights tuned_from(const reference::ModelWeights& base) {
  auto p = reference::perturb_layers(base, layout::LayerSet::all(static_cast<std::int64_t>(base.layers.size())),
                                     0.2f, 77, true);
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  return std::move(p).value();
}

//! The receiver's valid KV, every layer, tokens [0, n), as f32 bytes in the transfer layout.
inline std::vector<float> valid_kv(reference::Engine& r, std::int64_t n) {
  const auto g = r.geometry();
  REQUIRE(r.num_tokens() == n);
  const layout::TransferLayout tl{g.num_layers, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
  std::vector<float> out(static_cast<std::size_t>(tl.pool_elements()), -1.0f);
  const layout::KvView v(reinterpret_cast<std::byte*>(out.data()), DType::kF32, tl);
  REQUIRE(layout::copy_kv({r.kv_cache(), v, layout::LayerSet::all(g.num_layers), {0, n}, 0}).is_ok());
  return out;
}

inline bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  // Empty vectors may hold null data(), which memcmp must not see, even for 0 bytes.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace droidspeak::test
