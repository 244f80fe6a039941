// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file First TU of the ODR test, and its main: compares the two probes.
#include <cstdio>

#include "droidspeak/droidspeak.hpp"  // the umbrella (also in all_headers.hpp)
#include "odr_probe.hpp"

namespace droidspeak_hygiene {
Probe probe_a() { return run_probe<0>(); }
}  // namespace droidspeak_hygiene

int main() {
  using droidspeak_hygiene::Probe;
  const Probe a = droidspeak_hygiene::probe_a();
  const Probe b = droidspeak_hygiene::probe_b();
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "ODR probe mismatch: %s\n", what);
      ++failures;
    }
  };
  check(a.copy_kv == b.copy_kv, "&layout::copy_kv differs between the two TUs");
  check(a.max_layers == b.max_layers, "&layout::kMaxLayers differs between the two TUs");
  check(a.version == b.version && a.version == DROIDSPEAK_VERSION, "version()");
  check(a.copy_ok && b.copy_ok, "copy_kv failed");
  check(a.exact && b.exact, "the bf16 round trip is not bit-exact");
  check(a.checksum == b.checksum, "the two TUs computed different round trips");
  if (failures == 0) std::printf("ODR probe: two TUs agree (checksum %.3f)\n", a.checksum);
  return failures == 0 ? 0 : 1;
}
