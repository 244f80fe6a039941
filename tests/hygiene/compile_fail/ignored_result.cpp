// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Compile-must-fail: a discarded `Result<T>` is an error in code built with the
//! library's warning flags (`Result` is [[nodiscard]]); the control checks it.
// expect-error: nodiscard
#include <cstdint>
#include <span>

#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"

int probe() {
  const std::int64_t layers[] = {0, 2};
#ifdef DROIDSPEAK_HYGIENE_VIOLATION
  droidspeak::layout::LayerSet::from_list(std::span<const std::int64_t>(layers), 4);
  return 0;
#else
  return droidspeak::layout::LayerSet::from_list(std::span<const std::int64_t>(layers), 4).is_ok()
             ? 0
             : 1;
#endif
}
