// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Compile-must-fail: a read-only `ConstKvView` does not convert to a writable
//! `KvView`; the control converts the other way, which is allowed.
// expect-error: (conversion from|no viable conversion|cannot convert|could not convert)
#include "droidspeak/layout/view.hpp"

droidspeak::layout::KvView probe(const droidspeak::layout::KvView& writable) {
  const droidspeak::layout::ConstKvView read_only = writable;
#ifdef DROIDSPEAK_HYGIENE_VIOLATION
  droidspeak::layout::KvView again = read_only;
  return again;
#else
  return read_only.k_data == writable.k_data ? writable : droidspeak::layout::KvView{};
#endif
}
