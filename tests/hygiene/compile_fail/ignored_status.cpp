// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Compile-must-fail: a discarded `Status` is an error in code built with the
//! library's warning flags (`Status` is [[nodiscard]]); the control checks it.
// expect-error: nodiscard
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/transfer_layout.hpp"

int probe() {
  const droidspeak::layout::TransferLayout l{2, 3, 1, 4};
#ifdef DROIDSPEAK_HYGIENE_VIOLATION
  l.validate();
  return 0;
#else
  return l.validate().is_ok() ? 0 : 1;
#endif
}
