// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Whether a CUDA device is present, without including a CUDA header.
#pragma once

#include "droidspeak/core/config.hpp"

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

//! Number of CUDA devices this process can use; 0 when there is none, no driver, or the
//! runtime fails to initialise (the failure is cleared, not reported). Defined in
//! kernels/, so it needs droidspeak::kernels.
int device_count() noexcept;

//! device_count() > 0. Tests and benchmarks use it to skip GPU cases.
inline bool has_device() noexcept { return device_count() > 0; }

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
