// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The E-cache layout: hidden states entering the receiver's recompute intervals.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/checked_math.hpp"
#include "droidspeak/layout/layer_set.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! [entry_layer][token][hidden]: for each member l of `entry_layers` (ascending), the
//! residual stream entering layer l, one contiguous row of `hidden_size` per token.
//! Example (entry_layers {0, 6}, 10 tokens, hidden 192): layer 6, token 3 starts at
//! (1 * 10 + 3) * 192.
struct ECacheLayout {
  LayerSet entry_layers;
  std::int64_t num_tokens = 0;
  std::int64_t hidden_size = 0;

  DROIDSPEAK_HOST_DEVICE std::int64_t num_entries() const { return entry_layers.count(); }
  DROIDSPEAK_HOST_DEVICE std::int64_t pool_elements() const {
    return num_entries() * num_tokens * hidden_size;
  }
  //! Start of the row of (layer, token). Precondition: entry_layers.contains(layer).
  DROIDSPEAK_HOST_DEVICE std::int64_t row_offset(std::int64_t layer, std::int64_t token) const {
    return (entry_layers.rank(layer) * num_tokens + token) * hidden_size;
  }

  Status validate() const {
    if (num_tokens < 0 || hidden_size <= 0) {
      return Status::invalid_argument("e-cache layout: need num_tokens >= 0 and hidden_size > 0, got " +
                                      std::to_string(num_tokens) + " and " +
                                      std::to_string(hidden_size));
    }
    std::int64_t n = 0;
    if (!checked_product({entry_layers.count(), num_tokens, hidden_size}, n)) {
      return Status::invalid_argument("e-cache layout: size overflows 64 bits");
    }
    return Status::ok();
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
