// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The library version, stated once; CMake reads the three macros below.
#pragma once

#define DROIDSPEAK_VERSION_MAJOR 0
#define DROIDSPEAK_VERSION_MINOR 1
#define DROIDSPEAK_VERSION_PATCH 0

//! major * 10000 + minor * 100 + patch.
#define DROIDSPEAK_VERSION \
  (DROIDSPEAK_VERSION_MAJOR * 10000 + DROIDSPEAK_VERSION_MINOR * 100 + DROIDSPEAK_VERSION_PATCH)

namespace droidspeak {

//! The version this header was built with, as major * 10000 + minor * 100 + patch.
constexpr int version() noexcept { return DROIDSPEAK_VERSION; }

}  // namespace droidspeak
