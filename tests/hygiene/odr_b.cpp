// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Second TU of the ODR test.
#include "droidspeak/droidspeak.hpp"  // the umbrella (also in all_headers.hpp)
#include "odr_probe.hpp"

namespace droidspeak_hygiene {
Probe probe_b() { return run_probe<1>(); }
}  // namespace droidspeak_hygiene
