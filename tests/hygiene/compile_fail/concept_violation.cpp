// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Compile-must-fail: a type with everything a KV layout has except validate() is
//! refused by the KvLayoutLike concept; the control instantiates it with TransferLayout.
// expect-error: (constraints not satisfied|does not satisfy)
#include <cstdint>

#include "droidspeak/core/concepts.hpp"
#include "droidspeak/layout/head_order.hpp"  // KvPart
#include "droidspeak/layout/transfer_layout.hpp"

namespace {

// Constrained the way the library's layout templates are.
template <droidspeak::KvLayoutLike L>
std::int64_t first_v_row(const L& l) {
  return l.row_offset(0, droidspeak::layout::KvPart::kV, 0, 0);
}

struct AlmostLayout {
  static constexpr bool kSeparateKvPools = false;
  std::int64_t row_offset(std::int64_t, droidspeak::layout::KvPart, std::int64_t,
                          std::int64_t) const {
    return 0;
  }
  std::int64_t pool_elements() const { return 0; }
  // no validate(): not a layout
};

}  // namespace

#ifdef DROIDSPEAK_HYGIENE_VIOLATION
std::int64_t probe() { return first_v_row(AlmostLayout{}); }
#else
std::int64_t probe() { return first_v_row(droidspeak::layout::TransferLayout{2, 3, 1, 4}); }
#endif
