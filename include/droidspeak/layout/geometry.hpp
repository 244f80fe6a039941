// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The shape of a decoder-only transformer as far as its caches are concerned.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"  // kMaxLayers

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Layers, hidden size and attention heads of a model. Sender and receiver of a KV cache
//! must agree on all of it.
struct ModelGeometry {
  std::int64_t num_layers = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_q_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;

  //! Elements of one token's K (or V) in one layer: num_kv_heads * head_dim.
  constexpr std::int64_t kv_row_elements() const noexcept { return num_kv_heads * head_dim; }

  //! Checks every field is positive, num_layers <= kMaxLayers, num_q_heads is a multiple of
  //! num_kv_heads (grouped-query attention) and the per-token sizes fit in 32 bits.
  Status validate() const {
    auto positive = [](const char* name, std::int64_t v) -> Status {
      if (v <= 0) {
        return Status::invalid_argument(std::string("model geometry: ") + name +
                                        " must be positive, got " + std::to_string(v));
      }
      return Status::ok();
    };
    DROIDSPEAK_TRY(positive("num_layers", num_layers));
    DROIDSPEAK_TRY(positive("hidden_size", hidden_size));
    DROIDSPEAK_TRY(positive("num_q_heads", num_q_heads));
    DROIDSPEAK_TRY(positive("num_kv_heads", num_kv_heads));
    DROIDSPEAK_TRY(positive("head_dim", head_dim));
    if (num_layers > kMaxLayers) {
      return Status::not_supported("model geometry: num_layers " + std::to_string(num_layers) +
                                   " exceeds the supported maximum " + std::to_string(kMaxLayers));
    }
    if (num_q_heads % num_kv_heads != 0) {
      return Status::invalid_argument(
          "model geometry: num_q_heads " + std::to_string(num_q_heads) +
          " is not a multiple of num_kv_heads " + std::to_string(num_kv_heads));
    }
    if (hidden_size > (std::int64_t{1} << 31) || num_q_heads * head_dim > (std::int64_t{1} << 31)) {
      return Status::invalid_argument("model geometry: per-token sizes exceed 2^31 elements");
    }
    return Status::ok();
  }

  friend constexpr bool operator==(const ModelGeometry&, const ModelGeometry&) = default;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
