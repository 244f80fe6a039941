// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file One profiling or evaluation sample, on its own: reading or writing samples never
//! compiles the profiler or the executor.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! One profiling sample: a shared context and a suffix (the question) of at least 2 tokens.
//! Both hold token ids of the models the sample is for.
struct Sample {
  std::vector<std::int32_t> context;
  std::vector<std::int32_t> suffix;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
