// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `RopeSettings`: the rotary embedding parameters of a model, one type for the config
//! reader (io), the compatibility check (plan) and the engines (reference).
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Rotary embedding settings. K is cached after RoPE, so a sender and a receiver that share
//! KV must agree on all of it; it lives beside the cache geometry for that reason.
//!
//! Values are held as read (double, JSON's number type). Engines that follow HF's torch code
//! evaluate in f32 and convert once (`static_cast<float>`), which rounds exactly as reading
//! the config straight into a float would. Only Llama 3's frequency scaling
//! (`rope_type: "llama3"`) is supported; `llama3_scaling == false` means plain RoPE with
//! `theta`, and the scaling fields then keep their defaults.
struct RopeSettings {
  double theta = 10000.0;  //!< rope_theta
  bool llama3_scaling = false;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 0;

  friend bool operator==(const RopeSettings&, const RopeSettings&) = default;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
