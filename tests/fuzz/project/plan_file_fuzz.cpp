// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string parsed as a plan file. Must never crash, throw or
//! hang; a success must hold what loading promises (a non-empty grid, a threshold >= 0,
//! counts >= 1) and write back to text that reads back to the same text.
#include "droidspeak/plan/plan_file.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace plan = droidspeak::plan;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto p = plan::parse_plan_file(text, "fuzz/plan.json");
  if (!p) {
    if (p.status().message().rfind("fuzz/plan.json", 0) != 0) __builtin_trap();  // names the file
    return 0;
  }
  if (p->grid.empty() || !(p->threshold >= 0.0) || p->max_intervals < 1 || p->granularity < 1 ||
      p->num_samples < 1 || p->sender.geometry.num_layers != p->plan.num_layers()) {
    __builtin_trap();
  }
  const std::string written = plan::plan_file_json(*p);
  auto again = plan::parse_plan_file(written, "fuzz/again.json");
  if (!again || plan::plan_file_json(*again) != written) __builtin_trap();
  return 0;
}
