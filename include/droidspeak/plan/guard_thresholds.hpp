// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The quality guard's calibrated thresholds as a plan file stores them: plain data, so
//! that plan/ needs neither prefill/ nor profile/ (profile::GuardCalibration converts).
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! The run-time quality guard's calibration for the file's plan, as stored (plain data: plan/
//! knows nothing of prefill/ and profile/; profile::GuardCalibration converts to and from it).
struct GuardThresholds {
  std::int64_t probe_tokens = 16;  //!< context rows the guard recomputes: >= 1
  double margin = 1.5;             //!< bounds = max(margin * observed, min_bound) on reused layers
  double min_bound = 1e-3;
  std::int64_t num_samples = 0;    //!< profiling samples measured
  //! [num_layers] max over the samples of each reused layer's relative L2; finite, >= 0.
  std::vector<double> observed_max_relative_l2;
  //! [num_layers] the guard's per-layer bounds; finite, >= 0, and 0 on recomputed layers.
  std::vector<double> layer_max_relative_l2;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
